// The actor that hosts one step instance: it runs the kind's `step` logic and owns
// everything between steps: credits, the outbox, end-of-stream, sequence stamping,
// acknowledgements, deduplication at terminal steps, counters and durable state.
//
// Contract with the rest of the runtime:
// - spawned by a node; receives `wire_atom` from the coordinator before doing anything
//   (and again whenever a neighbour restarts);
// - never exits on its own: after end-of-stream it stays idle until its node stops
//   it, so that a replay after a downstream restart can pass through it again;
// - a failure of the step logic makes the actor exit with `runtime_errc::step_failed`
//   carrying the message (`error_text`), which its node's supervision handles;
// - its last counters reach the coordinator however it ends.
#pragma once

#include "dsl/schema.hpp"
#include "step/step.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace conveyor {

struct step_actor_config {
  std::string instance;
  std::string step;
  std::string kind;
  /// Lives in the registry, which outlives every actor.
  const dsl::kind_schema* schema = nullptr;
  std::shared_ptr<conveyor::step> logic;
  int replica = 0;
  int replicas = 1;
  int incarnation = 0;
  /// Credit granted to each producer (the `buffer` attribute).
  int buffer = 8;
  bool source = false;
  bool terminal = false;
  /// The kind is a replica group (see dsl::kind_schema::replica_group).
  bool replica_group = false;
  /// The name a terminal step acknowledges under in the ledger: the step, or for a
  /// replica group each instance (every replica must see every batch).
  std::string ack_route;
  std::optional<std::string> saved_state;
  /// The run's drain flag, shared by every step actor of the node and set directly by
  /// it (not through the steps' mailboxes: a step may be blocked inside a call); what
  /// step_context::stop_requested reads.
  std::shared_ptr<const std::atomic<bool>> stop_requested;
};

/// Spawns the host actor as a child of `parent` (the node), linked to nothing; the
/// caller monitors it.
caf::actor spawn_step_actor(caf::local_actor* parent, step_actor_config config,
                            caf::actor coordinator, caf::actor node);

} // namespace conveyor
