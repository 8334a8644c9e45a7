// The runner watches the clock between messages, not only when the mailbox is quiet
// (progress reports arrive all the time while a trainer works): an interruption becomes
// a drain within 100 ms, and a drain past its grace period an `abandon`.
#include "runtime/run_driver.hpp"

#include "runtime/errors.hpp"
#include "runtime/messages.hpp"

#include <chrono>
#include <optional>

namespace conveyor {

namespace {

using clock = std::chrono::steady_clock;

/// How long the coordinator has to answer `abandon` (it waits up to 2 s for the last
/// counters of the steps that did end) before the runner ends the run without it (every
/// worker thread is then inside a step's call).
constexpr auto abandon_answer_time = std::chrono::seconds(5);

run_report unanswered_report(const dsl::graph_spec& graph) {
  run_report r;
  r.graph = graph.name;
  r.status = run_status::interrupted;
  r.error = error_text(make_error(
    runtime_errc::drain_timeout,
    "the drain's grace period ran out and the coordinator did not answer (every worker "
    "thread is inside a step's call); not waiting for any step"));
  for (const auto& n : graph.nodes)
    r.abandoned.push_back(n.name);
  return r;
}

} // namespace

run_report drive_run(caf::actor_system& system, const caf::actor& coordinator,
                     const std::shared_ptr<run_report>& report, const dsl::graph_spec& graph,
                     const local_run_options& options,
                     const std::shared_ptr<std::atomic<bool>>& local_stop) {
  enum class phase { running, draining, abandoning };
  auto now_phase = phase::running;
  auto deadline = clock::time_point::max();
  std::optional<run_report> result;
  {
    caf::scoped_actor self{system};
    self->monitor(coordinator);
    self->send(coordinator, run_atom::value);
    while (!result) {
      self->receive([&](done_atom) { result = *report; },
                    [&](progress_atom, progress_info& p) {
                      if (options.on_progress)
                        options.on_progress(p);
                    },
                    [&](caf::down_msg& down) {
                      if (down.source != coordinator.address())
                        return;
                      run_report lost = *report;
                      lost.status = run_status::failed;
                      lost.error = error_text(make_error(
                        runtime_errc::coordinator_lost,
                        "the coordinator ended without a report: " + error_text(down.reason)));
                      result = std::move(lost);
                    },
                    caf::after(std::chrono::milliseconds(100)) >> [] {});
      if (result)
        break;
      auto now = clock::now();
      if (now_phase == phase::running && options.interrupted && options.interrupted()) {
        if (local_stop)
          local_stop->store(true); // before any mailbox: steps may be inside a call
        self->send(coordinator, drain_atom::value);
        now_phase = phase::draining;
        deadline = now + options.drain_grace;
      } else if (now_phase == phase::draining && now >= deadline) {
        self->send(coordinator, abandon_atom::value);
        now_phase = phase::abandoning;
        deadline = now + abandon_answer_time;
      } else if (now_phase == phase::abandoning && now >= deadline) {
        result = unanswered_report(graph);
      }
    }
  }
  return std::move(*result);
}

} // namespace conveyor
