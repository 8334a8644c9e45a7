#include "cli/node_command.hpp"

#include "cli/interrupt.hpp"
#include "cluster/address.hpp"
#include "cluster/cluster_file.hpp"
#include "metrics/http_endpoint.hpp"
#include "runtime/data_plane.hpp"
#include "runtime/node_daemon.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <unistd.h>

namespace conveyor::cli {

namespace {

constexpr int exit_bad_input = 2;

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0')
    return "node";
  return buf;
}

/// The node's own metrics: its data plane's counters, copied at each scrape.
struct node_metrics {
  metrics::registry& reg = metrics::default_registry();
  std::size_t hook = 0;
  metrics::http_endpoint endpoint{reg};

  node_metrics() {
    struct entry {
      const char* name;
      const char* help;
      std::atomic<std::uint64_t> data_plane_counters::*field;
    };
    static const entry entries[] = {
      {"conveyor_data_plane_frames_received_total",
       "Frames (batches, models, end-of-stream) this node received from other nodes",
       &data_plane_counters::frames_in},
      {"conveyor_data_plane_bytes_received_total", "Bytes of those frames",
       &data_plane_counters::bytes_in},
      {"conveyor_data_plane_frames_sent_total", "Frames this node's steps sent to other nodes",
       &data_plane_counters::frames_out},
      {"conveyor_data_plane_bytes_sent_total", "Bytes of those frames",
       &data_plane_counters::bytes_out},
      {"conveyor_data_plane_fenced_frames_total",
       "Frames dropped: for a step incarnation that is gone or no longer wired that way",
       &data_plane_counters::fenced},
      {"conveyor_data_plane_malformed_frames_total", "Frames dropped: they did not decode",
       &data_plane_counters::malformed},
      {"conveyor_data_plane_refused_handshakes_total",
       "CurveZMQ handshakes refused (a key the node did not advertise)",
       &data_plane_counters::refused},
    };
    hook = reg.add_collect_hook([this] {
      auto* plane = data_plane::get();
      if (plane == nullptr)
        return;
      for (const auto& e : entries)
        reg.counter_family(e.name, e.help, {})
          .with({})
          .set(static_cast<double>((plane->counters().*e.field).load()));
    });
  }
  ~node_metrics() {
    endpoint.stop();
    reg.remove_collect_hook(hook);
  }
};

} // namespace

node_command::node_command(CLI::App& app) {
  node_ = app.add_subcommand("node", "Run a runtime node: serve the runs of coordinators "
                                     "(`conveyor run --cluster`) until SIGINT/SIGTERM");
  node_->add_option("--listen", listen_, "HOST:PORT to accept coordinators on (port 0: any free "
                                         "port; the host is the only interface bound)")
    ->required();
  node_->add_option("--name", name_, "the node's name in cluster files (default: the host name)");
  node_->add_option("--labels", labels_, "placement labels (`on = \"label\"` in graph files)")
    ->delimiter(',');
  node_->add_option("--tls-ca", tls_ca_, "the cluster's CA certificate (PEM)");
  node_->add_option("--tls-cert", tls_cert_, "this node's certificate, signed by the CA (PEM)");
  node_->add_option("--tls-key", tls_key_, "this node's private key (PEM)");
  node_->add_option("--heartbeat-interval-ms", heartbeat_interval_ms_,
                    "heartbeats to every peer; the same on every node and coordinator")
    ->capture_default_str();
  node_->add_option("--connection-timeout-ms", connection_timeout_ms_,
                    "a peer silent this long is lost; the same everywhere")
    ->capture_default_str();
  node_->add_option("--threads", threads_, "actor system worker threads (0: one per core)");
  node_->add_option("--state-dir", state_dir_,
                    "the node's working directory (created if missing): relative paths of "
                    "the steps it hosts resolve there; nothing in it is needed to recover a "
                    "run");
  node_->add_option("--metrics-listen", metrics_listen_,
                    "serve the node's Prometheus metrics on http://HOST:PORT/metrics");
}

bool node_command::parsed() const {
  return node_->parsed();
}

int node_command::run(const kind_registry& kinds) const {
  auto listen = cluster::parse_address(listen_, true);
  if (!listen) {
    std::cerr << "error: --listen: " << listen.error << '\n';
    return exit_bad_input;
  }
  if (auto why = cluster::check_heartbeat(heartbeat_interval_ms_, connection_timeout_ms_);
      !why.empty()) {
    std::cerr << "error: " << why << '\n';
    return exit_bad_input;
  }
  cluster::tls_files tls{tls_ca_, tls_cert_, tls_key_};
  if (auto why = cluster::check_tls_files(tls); !why.empty()) {
    std::cerr << "error: --tls-ca/--tls-cert/--tls-key: " << why << '\n';
    return exit_bad_input;
  }
  if (!state_dir_.empty()) {
    // TLS files are read once the actor system starts: after the change of directory.
    std::error_code ec;
    for (auto* path : {&tls.ca, &tls.certificate, &tls.key})
      if (!path->empty())
        *path = std::filesystem::absolute(*path, ec).string();
    std::filesystem::create_directories(state_dir_, ec);
    if (ec || ::chdir(state_dir_.c_str()) != 0) {
      std::cerr << "error: --state-dir '" << state_dir_
                << "': " << (ec ? ec.message() : std::strerror(errno)) << '\n';
      return exit_bad_input;
    }
    spdlog::info("node {}: working in {} (relative paths of its steps resolve here)",
                 name_.empty() ? host_name() : name_, state_dir_);
  }
  std::optional<node_metrics> served;
  if (!metrics_listen_.empty()) {
    std::string why;
    auto where = metrics::parse_listen_address(metrics_listen_, why);
    if (!where) {
      std::cerr << "error: --metrics-listen: " << why << '\n';
      return exit_bad_input;
    }
    try {
      served.emplace();
      served->endpoint.start(*where);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << '\n';
      return exit_bad_input;
    }
    std::cout << "metrics: http://" << (where->host.find(':') != std::string::npos
                                          ? "[" + where->host + "]" : where->host)
              << ":" << served->endpoint.port() << "/metrics" << std::endl;
  }
  node_daemon_options o;
  o.listen = *listen.value;
  o.name = name_.empty() ? host_name() : name_;
  o.labels = labels_;
  o.heartbeat_interval_ms = heartbeat_interval_ms_;
  o.connection_timeout_ms = connection_timeout_ms_;
  if (!tls_ca_.empty())
    o.tls = tls;
  o.threads = threads_;
  o.interrupted = interrupt_requested;
  o.on_listening = [&](const cluster::address& bound) {
    std::cout << "conveyor node " << o.name << " listening on " << cluster::to_string(bound)
              << std::endl;
  };
  install_interrupt_handlers();
  auto result = serve_node(kinds, o);
  if (result.status == exit_bad_input) {
    std::cerr << "error: " << result.error << '\n';
    return exit_bad_input;
  }
  if (result.status != 0) {
    // Threads inside steps' calls cannot be joined (see serve_node).
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(result.status);
  }
  return 0;
}

} // namespace conveyor::cli
