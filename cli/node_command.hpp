// `conveyor node --listen HOST:PORT [--name N] [--labels a,b] [--tls-ca F --tls-cert F
// --tls-key F] [--heartbeat-interval-ms 100 --connection-timeout-ms 500] [--state-dir D]`:
// a runtime node daemon (runtime/node_daemon.hpp). It prints "listening on HOST:PORT" on stdout
// once it accepts coordinators (port 0 picks a free port) and serves runs until
// SIGINT/SIGTERM, which drains it within seconds. `--metrics-listen HOST:PORT` serves
// the node's Prometheus metrics (its data plane, its inference servers) on /metrics.
// Exit status: 0 drained; 1 the drain ran out of time; 2 bad options or it cannot
// listen, with one line on stderr.
// `--state-dir D` is the node's working directory (created if missing): the steps'
// relative paths (a trainer's checkpoint files, say) land there. The node keeps no
// state of its own: what a run needs to survive the node is at the coordinator.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace conveyor {
class kind_registry;
}

namespace conveyor::cli {

class node_command {
public:
  /// Adds `node` to `app`; the object must outlive parsing.
  explicit node_command(CLI::App& app);
  node_command(const node_command&) = delete;
  node_command& operator=(const node_command&) = delete;

  bool parsed() const;
  int run(const kind_registry& kinds) const;

private:
  CLI::App* node_ = nullptr;
  std::string listen_;
  std::string name_;
  std::vector<std::string> labels_;
  std::string tls_ca_;
  std::string tls_cert_;
  std::string tls_key_;
  int heartbeat_interval_ms_ = 100;
  int connection_timeout_ms_ = 500;
  std::string state_dir_;
  int threads_ = 0;
  std::string metrics_listen_;
};

} // namespace conveyor::cli
