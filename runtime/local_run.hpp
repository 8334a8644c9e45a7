// `conveyor run` without a cluster: a coordinator and one embedded node in this
// process, talking through the same messages as a cluster's.
#pragma once

#include "dsl/graph_spec.hpp"
#include "runtime/run_report.hpp"
#include "step/step.hpp"

#include <functional>
#include <map>
#include <string>

namespace conveyor {

class kind_registry;

struct local_run_options {
  std::string file_name;
  /// The graph's text (the node compiles it again, as a remote node would).
  std::string graph_source;
  std::map<std::string, std::string> overrides;
  /// Polled about every 100 ms; once true, sources end their streams early and the
  /// run drains (SIGINT/SIGTERM).
  std::function<bool()> interrupted;
  /// Called on this thread with every progress report of a long-running step.
  std::function<void(const progress_info&)> on_progress;
  /// Worker threads of the actor system; 0: one per core.
  int threads = 0;
};

/// Runs the graph to its end and returns the report. Never throws for failures of
/// steps; those are in the report (status `failed`).
run_report run_locally(const dsl::graph_spec& graph, const kind_registry& registry,
                       const local_run_options& options);

} // namespace conveyor
