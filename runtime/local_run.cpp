// Builds an actor system, spawns the node and the coordinator, and waits for the
// coordinator's `done`. It watches the clock between messages, not only when the
// mailbox is quiet (progress reports arrive all the time while a trainer works): an
// interruption becomes a drain within 100 ms, and a drain past its grace period an
// `abandon`.
#include "runtime/local_run.hpp"

#include "runtime/coordinator.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/node.hpp"
#include "step/kind_registry.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

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

run_report run_locally(const dsl::graph_spec& graph, const kind_registry& registry,
                       const local_run_options& options) {
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::conveyor>();
  add_runtime_error_category(cfg);
  auto threads = options.threads > 0 ? options.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", std::max(threads, 2));
  cfg.set("logger.console", caf::atom("none"));
  auto system = std::make_unique<caf::actor_system>(cfg);

  node_options node_opts;
  node_opts.registry = &registry;
  node_opts.stop_requested = std::make_shared<std::atomic<bool>>(false);
  auto stop_requested = node_opts.stop_requested;
  auto node = spawn_node(*system, node_opts);

  auto report = std::make_shared<run_report>();
  coordinator_options coord_opts;
  coord_opts.graph = graph;
  coord_opts.file_name = options.file_name;
  coord_opts.graph_source = options.graph_source;
  coord_opts.overrides = options.overrides;
  coord_opts.registry = &registry;
  coord_opts.node_names = {node_opts.name};
  coord_opts.node_labels = {node_opts.labels};
  coord_opts.node_gpus = {node_opts.gpus};
  coord_opts.report = report;
  coord_opts.live = options.live;
  auto coordinator = spawn_coordinator(*system, std::move(coord_opts), {node});

  enum class phase { running, draining, abandoning };
  auto now_phase = phase::running;
  auto deadline = clock::time_point::max();
  std::optional<run_report> result;
  {
    caf::scoped_actor self{*system};
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
        stop_requested->store(true); // before any mailbox: steps may be inside a call
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
  if (!result->abandoned.empty()) {
    // Steps still inside a call cannot be joined: leave the system to the process's
    // end rather than wait for them forever (see the header).
    system.release();
    return std::move(*result);
  }
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  return std::move(*result);
}

} // namespace conveyor
