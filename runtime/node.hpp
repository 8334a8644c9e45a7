// The node: hosts step instances and supervises them.
//
// Contract:
// - `deploy` (from the coordinator): compiles the graph text it is sent, spawns the
//   listed instances and replies with their handles; it does not start them (the
//   coordinator wires them).
// - When an instance ends by itself (failed or not), the node reports it to the
//   coordinator (`exited`), which applies the step's restart policy and strategy over
//   the whole graph (runtime/supervision.hpp) and sends `respawn` to every node that
//   hosts part of the restart set. Respawned instances are reported (`restarted`); an
//   instance that cannot be respawned is reported `failed`.
// - It keeps each instance's durable state (`step_context::save_state`) and hands it to
//   the instance's next incarnation (the step sends the coordinator a copy itself); a
//   deployment may carry the state of instances re-placed from a lost node or resumed.
// - `drain`: sets the run's stop flag, which every step it hosts reads through
//   `step_context::stop_requested`, at once (the steps' mailboxes are not involved).
// - `stop`: kills every instance and exits; so does the loss of its coordinator (the
//   sender of the first `deploy`) or of its owner (see node_options).
// - Its handlers return errors (runtime_errc) and never throw.
#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

class kind_registry;

struct node_options {
  std::string name = "local";
  /// Placement labels (`on = "label"` in a graph file).
  std::vector<std::string> labels;
  int gpus = 0;
  /// Must outlive the node.
  const kind_registry* registry = nullptr;
  /// The drain flag of its steps; made by spawn_node if null. A caller that holds it
  /// (the local runner) may set it itself, ahead of the `drain` message.
  std::shared_ptr<std::atomic<bool>> stop_requested;
  /// A node daemon's run: the actor that joined the node to the run (the runner of
  /// `conveyor run --cluster`). The node stops its steps and ends when it goes down,
  /// as when its coordinator does, so that no run outlives the process that started it.
  caf::actor owner;
};

caf::actor spawn_node(caf::actor_system& system, node_options options);

} // namespace conveyor
