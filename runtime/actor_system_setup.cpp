#include "runtime/actor_system_setup.hpp"

#include "runtime/errors.hpp"
#include "runtime/messages.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

namespace conveyor {

void configure_actor_system(caf::actor_system_config& cfg, const system_setup& setup) {
  cfg.add_message_types<caf::id_block::conveyor>();
  add_runtime_error_category(cfg);
  auto threads = setup.threads > 0 ? setup.threads
                                   : static_cast<int>(std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", std::max(threads, 2));
  cfg.set("logger.console", caf::atom("none"));
  // Idle workers sleep instead of spinning, in every process. CAF's default has a
  // worker without work poll its queue 100 times back to back, then 500 times with a
  // 50 us sleep between polls (a wake-up every ~60 us for 30 ms) before it waits on its
  // condition variable; messages arriving every 100-200 us keep every idle worker in
  // that loop, taking the cores the data plane's ZeroMQ threads, a trainer's own team
  // of threads and the inference server's threads need (on the 2-core AMD EPYC VM the
  // Fashion MLP trained at 109-115k samples/s with CAF's default and 186-258k with
  // this, alternating runs; the serving benchmark was no slower at any concurrency).
  // Here it waits on the condition variable after the back-to-back polls: a message
  // from outside a worker (the data plane, the middleman, a timer) wakes it at once;
  // one a busy worker enqueues for itself is stolen by an idle one within the relaxed
  // sleep (1 ms here, CAF's default 10 ms). Each idle worker wakes that often: a
  // process that runs no step code (the coordinator of a cluster run) keeps CAF's 10 ms,
  // which took its CPU per batch moved between two nodes from 7 to 6 us (bench/cluster).
  cfg.set("work-stealing.moderate-poll-attempts", 0);
  cfg.set("work-stealing.relaxed-sleep-duration",
          caf::timespan{std::chrono::milliseconds(setup.control_only ? 10 : 1)});
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
