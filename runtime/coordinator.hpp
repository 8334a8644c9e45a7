// The coordinator: places a graph's step instances on nodes, wires them, keeps the
// delivery ledger, reacts to restarts (rewiring neighbours, replaying sources from
// the last acknowledged batch), decides when the run is complete or failed, and
// writes the run report.
//
// Contract:
// - send it `run_atom` once; it answers the sender with `done_atom` when the run has
//   ended (completed, interrupted or failed) and `report` is filled in: after the
//   nodes stopped every instance and each sent its last counters (2 s at most);
// - `drain_atom` (SIGINT/SIGTERM): every node sets its steps' stop flag, sources end
//   their streams early; everything in flight is processed and flushed as at a normal
//   end;
// - `abandon_atom` (the drain's grace period ran out): the run ends at once; the
//   instances that had not ended are listed in the report (`abandoned`);
// - the run is complete when every instance reported end-of-stream since its last
//   (re)spawn and the ledger shows every source's last batch acknowledged by every
//   terminal step it reaches;
// - placement (cluster/placement.hpp) accounts for labels and GPUs and spreads the rest;
//   each instance's device ordinal goes to its node with the deployment;
// - its handlers never throw: a node that cannot deploy or goes down, or a placement
//   no node satisfies, fails the run with a runtime_errc error in the report.
#pragma once

#include "cluster/placement.hpp"
#include "dsl/graph_spec.hpp"
#include "runtime/live_counters.hpp"
#include "runtime/run_report.hpp"
#include "runtime/state_journal.hpp"

#include <caf/fwd.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

class kind_registry;

struct coordinator_options {
  dsl::graph_spec graph;
  /// The graph's text and the overrides, sent to nodes so that they compile the same
  /// graph themselves.
  std::string file_name;
  std::string graph_source;
  std::map<std::string, std::string> overrides;
  const kind_registry* registry = nullptr;
  /// What each node offers, in the order of the `nodes` handles (cluster/placement.hpp:
  /// the label "*" satisfies every `on` constraint, so the embedded run's single node
  /// hosts every step whatever `on` says).
  std::vector<cluster::node_offer> nodes;
  /// Filled in when the run ends, before `done_atom` is sent.
  std::shared_ptr<run_report> report;
  /// When set: each step's summary so far, updated as its counters or restarts arrive.
  std::shared_ptr<live_counters> live;
  /// When set: the state directory (runtime/state_journal.hpp) the coordinator writes the
  /// run, the ledger and every instance's latest durable state to; a directory it cannot
  /// write fails the run (`state_dir_failed`).
  std::string state_dir;
  /// `conveyor run --resume`: what the state directory held. Every instance starts with
  /// its saved state, the ledger with its acknowledgements: sources resume after the
  /// last batch every terminal step acknowledged, terminal steps skip what they had.
  std::optional<journal_contents> resume;
};

caf::actor spawn_coordinator(caf::actor_system& system, coordinator_options options,
                             std::vector<caf::actor> nodes);

} // namespace conveyor
