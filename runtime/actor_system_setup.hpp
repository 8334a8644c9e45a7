// How every conveyor process configures its actor system: the runtime's message types
// and error category, worker threads, and for cluster processes (node daemons and
// `conveyor run --cluster`) the middleman with heartbeats and, optionally, mutual TLS.
// Include only from runtime .cpp files and tests (CAF types).
#pragma once

#include "cluster/address.hpp"
#include "cluster/cluster_file.hpp"

#include <caf/fwd.hpp>

#include <optional>
#include <string>

namespace conveyor {

struct system_setup {
  /// Worker threads; 0: one per core (at least 2).
  int threads = 0;
  /// Load the middleman (remote actors). Off for the embedded single-process run.
  bool network = false;
  int heartbeat_interval_ms = 100;
  int connection_timeout_ms = 500;
  /// Mutual TLS through CAF's OpenSSL module; checked complete and readable by the caller.
  std::optional<cluster::tls_files> tls;
  /// The process runs no step code (the coordinator of a cluster run): its idle workers
  /// look for work to steal every 10 ms instead of every 1 ms.
  bool control_only = false;
};

/// Applies `setup` to `cfg` (the middleman is loaded before the OpenSSL manager, which
/// CAF requires).
void configure_actor_system(caf::actor_system_config& cfg, const system_setup& setup);

/// Publishes `whom` on `where` (bound to that host only; port 0: any free port) over TLS
/// when `tls`; returns the bound port or the error.
caf::expected<std::uint16_t> publish_actor(caf::actor_system& system, const caf::actor& whom,
                                           const cluster::address& where, bool tls);

/// Connects to the actor published at `where` (over TLS when `tls`).
caf::expected<caf::actor> connect_actor(caf::actor_system& system, const cluster::address& where,
                                        bool tls);

} // namespace conveyor
