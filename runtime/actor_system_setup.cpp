#include "runtime/actor_system_setup.hpp"

#include "runtime/errors.hpp"
#include "runtime/messages.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <thread>

namespace conveyor {

void configure_actor_system(caf::actor_system_config& cfg, const system_setup& setup) {
  cfg.add_message_types<caf::id_block::conveyor>();
  add_runtime_error_category(cfg);
  auto threads = setup.threads > 0 ? setup.threads
                                   : static_cast<int>(std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", std::max(threads, 2));
  cfg.set("logger.console", caf::atom("none"));
  if (!setup.network)
    return;
  cfg.load<caf::io::middleman>();
  // Heartbeats must be on in every process of a cluster (a peer that hears none for
  // connection-timeout is dropped): they detect a frozen process (SIGSTOP), which
  // never closes its connections.
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds(setup.heartbeat_interval_ms)});
  cfg.set("middleman.connection-timeout",
          caf::timespan{std::chrono::milliseconds(setup.connection_timeout_ms)});
  // Nodes talk to each other through the coordinator's middleman (indirect routes).
  // Automatic direct connections stalled two runs out of about thirty on a busy machine
  // (docs/architecture.md, "Many processes"): off until the cause is known.
  cfg.set("middleman.enable-automatic-connections", false);
  if (setup.tls) {
    cfg.load<caf::openssl::manager>();
    cfg.set("openssl.cafile", setup.tls->ca);
    cfg.set("openssl.certificate", setup.tls->certificate);
    cfg.set("openssl.key", setup.tls->key);
  }
}

caf::expected<std::uint16_t> publish_actor(caf::actor_system& system, const caf::actor& whom,
                                           const cluster::address& where, bool tls) {
  if (tls)
    return caf::openssl::publish(whom, where.port, where.host.c_str(), true);
  return system.middleman().publish(whom, where.port, where.host.c_str(), true);
}

caf::expected<caf::actor> connect_actor(caf::actor_system& system, const cluster::address& where,
                                        bool tls) {
  if (tls)
    return caf::openssl::remote_actor(system, where.host, where.port);
  return system.middleman().remote_actor(where.host, where.port);
}

} // namespace conveyor
