// `conveyor node`: a long-lived process that publishes a node host
// (runtime/node_host.hpp) on one address and serves runs until SIGINT/SIGTERM.
#pragma once

#include "cluster/address.hpp"
#include "cluster/cluster_file.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

class kind_registry;

struct node_daemon_options {
  /// Port 0: any free port (the one bound is passed to `on_listening`).
  cluster::address listen;
  std::string name;
  std::vector<std::string> labels;
  /// Must match the coordinator's and every other node's (cluster::check_heartbeat).
  int heartbeat_interval_ms = 100;
  int connection_timeout_ms = 500;
  /// Mutual TLS (complete and readable, cluster::check_tls_files); none: plain TCP.
  std::optional<cluster::tls_files> tls;
  int threads = 0;
  /// Polled every 100 ms; once true the node drains: every run's steps are stopped.
  std::function<bool()> interrupted;
  /// Called once the host is published, with the address it listens on.
  std::function<void(const cluster::address&)> on_listening;
  /// How long the drain may take before the process exits without waiting for steps
  /// still inside a call.
  std::chrono::milliseconds drain_grace = std::chrono::seconds(5);
};

struct node_daemon_result {
  /// 0: drained; 1: the drain ran out of time (the caller must end the process without
  /// destroying anything: threads of steps still inside a call cannot be joined);
  /// 2: it could not start (the reason in `error`).
  int status = 0;
  std::string error;
};

node_daemon_result serve_node(const kind_registry& registry, const node_daemon_options& options);

} // namespace conveyor
