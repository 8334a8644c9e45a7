// What `conveyor run` does once a coordinator exists, embedded or on a cluster: it
// starts the run, forwards progress, turns an interruption into a drain and a drain
// past its grace period into an abandon, and returns the report.
// Include only from runtime .cpp files (CAF types).
#pragma once

#include "runtime/local_run.hpp"

#include <caf/fwd.hpp>

#include <atomic>
#include <memory>

namespace conveyor {

/// Drives `coordinator` (whose report is `report`) to the end of the run. `local_stop`
/// (may be null) is the drain flag of steps in this process, set at the interruption
/// before any message is sent.
run_report drive_run(caf::actor_system& system, const caf::actor& coordinator,
                     const std::shared_ptr<run_report>& report, const dsl::graph_spec& graph,
                     const local_run_options& options,
                     const std::shared_ptr<std::atomic<bool>>& local_stop);

} // namespace conveyor
