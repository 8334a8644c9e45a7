#include "runtime/node_daemon.hpp"

#include "cluster/resources.hpp"
#include "runtime/actor_system_setup.hpp"
#include "runtime/data_plane.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/node_host.hpp"

#include <caf/io/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <memory>

namespace conveyor {

namespace {

/// Keeps freed batch memory in the process. glibc's defaults give a block of 128 KiB or
/// more its own mmap and return free memory above 128 KiB at the top of a heap to the
/// kernel (madvise or brk); a node that receives, decodes and frees batches of 64 KiB
/// to MiBs thousands of times a second then faults every page of every batch in anew
/// and shoots down TLBs on every trim, which cost more CPU than the copies themselves.
/// Up to 64 MiB of free memory per heap stays; blocks under 32 MiB come from the heap.
void keep_batch_memory() {
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

} // namespace

node_daemon_result serve_node(const kind_registry& registry, const node_daemon_options& options) {
  keep_batch_memory();
  caf::actor_system_config cfg;
  system_setup setup;
  setup.threads = options.threads;
  setup.network = true;
  setup.heartbeat_interval_ms = options.heartbeat_interval_ms;
  setup.connection_timeout_ms = options.connection_timeout_ms;
  setup.tls = options.tls;
  configure_actor_system(cfg, setup);
  auto system = std::make_unique<caf::actor_system>(cfg);

  auto found = cluster::detect_resources();
  node_host_options host_opts;
  host_opts.name = options.name;
  host_opts.labels = options.labels;
  host_opts.cores = found.cores;
  host_opts.memory_bytes = found.memory_bytes;
  host_opts.gpus = found.gpus;
  host_opts.registry = &registry;
  auto host = spawn_node_host(*system, host_opts);
  auto port = publish_actor(*system, host, options.listen, options.tls.has_value());
  if (!port) {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    return {2, "cannot listen on " + cluster::to_string(options.listen) + ": " +
                 system->render(port.error())};
  }
  cluster::address bound{options.listen.host, *port};
  spdlog::info("[node {}] listening on {}{} ({} cores, {} MiB, {} GPU(s), labels: {})",
               options.name, cluster::to_string(bound), options.tls ? " (TLS)" : "", found.cores,
               found.memory_bytes >> 20, found.gpus, fmt::join(options.labels, ","));
  if (auto error = data_plane::start(options.listen.host, options.tls.has_value());
      !error.empty()) {
    caf::anon_send_exit(host, caf::exit_reason::user_shutdown);
    return {2, "cannot start the data plane: " + error};
  }
  spdlog::info("[node {}] data plane on {}{}", options.name, data_plane::get()->address(),
               options.tls ? " (CurveZMQ, server key " +
                               data_plane::get()->advertise(0).server_key + ")"
                           : "");
  if (options.on_listening)
    options.on_listening(bound);

  bool drained = false;
  {
    caf::scoped_actor self{*system};
    self->monitor(host);
    bool host_down = false;
    while (!host_down && !(options.interrupted && options.interrupted()))
      self->receive([&](caf::down_msg&) { host_down = true; },
                    caf::after(std::chrono::milliseconds(100)) >> [] {});
    if (host_down)
      return {2, "the node host ended unexpectedly"};
    spdlog::info("[node {}] interrupted: draining", options.name);
    self->send(host, drain_atom::value);
    self->receive([&](caf::down_msg&) { drained = true; },
                  caf::after(options.drain_grace) >> [] {});
  }
  if (!drained) {
    spdlog::error("[node {}] the drain did not finish within {} ms: exiting without waiting",
                  options.name, options.drain_grace.count());
    system.release(); // its threads are inside steps' calls: never joined
    return {1, "drain timed out"};
  }
  system->middleman().close(*port);
  data_plane::stop();
  spdlog::info("[node {}] drained", options.name);
  return {0, {}};
}

} // namespace conveyor
