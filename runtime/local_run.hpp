// `conveyor run` without a cluster: a coordinator and one embedded node in this
// process, talking through the same messages as a cluster's.
#pragma once

#include "dsl/graph_spec.hpp"
#include "runtime/live_counters.hpp"
#include "runtime/run_report.hpp"
#include "runtime/state_journal.hpp"
#include "step/step.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace conveyor {

class kind_registry;

struct local_run_options {
  std::string file_name;
  /// The graph's text (the node compiles it again, as a remote node would).
  std::string graph_source;
  std::map<std::string, std::string> overrides;
  /// Polled at least every 100 ms; once true, the run drains: every step's
  /// `stop_requested` turns true at once, sources end their streams early, and what is
  /// in flight is processed and flushed.
  std::function<bool()> interrupted;
  /// Called on this thread with every progress report of a long-running step.
  std::function<void(const progress_info&)> on_progress;
  /// Worker threads of the actor system; 0: one per core.
  int threads = 0;
  /// How long a drain may take. Past it, the run ends without the steps that have not
  /// ended (a call that never returns): they are listed in `run_report::abandoned`.
  std::chrono::milliseconds drain_grace = std::chrono::seconds(10);
  /// When set, kept up to date with each step's counters while the run runs.
  std::shared_ptr<live_counters> live;
  /// The coordinator's state directory (`--state-dir`; runtime/state_journal.hpp); empty:
  /// none (a cluster run then uses its cluster file's `state_dir`, if any).
  std::string state_dir;
  /// `--resume`: the state directory's contents, which the run continues from.
  std::optional<journal_contents> resume;
};

/// Runs the graph to its end and returns the report. Never throws for failures of
/// steps; those are in the report (status `failed`), as is a coordinator that ended
/// without reporting (`error`).
///
/// When a drain runs out of time (`abandoned` is not empty), the threads of the steps
/// still inside a call cannot be joined: the actor system is left running (not
/// destroyed) and the caller should end the process soon, without waiting for them
/// (`conveyor run` exits at once after writing the report).
run_report run_locally(const dsl::graph_spec& graph, const kind_registry& registry,
                       const local_run_options& options);

} // namespace conveyor
