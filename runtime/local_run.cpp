// Builds an actor system, spawns the node and the coordinator, and waits for the
// coordinator's `done`, forwarding an interruption as `drain` once.
#include "runtime/local_run.hpp"

#include "runtime/coordinator.hpp"
#include "step/kind_registry.hpp"
#include "runtime/messages.hpp"
#include "runtime/node.hpp"

#include <chrono>
#include <memory>
#include <thread>

namespace conveyor {

run_report run_locally(const dsl::graph_spec& graph, const kind_registry& registry,
                       const local_run_options& options) {
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::conveyor>();
  auto threads = options.threads > 0 ? options.threads
                                     : static_cast<int>(std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", std::max(threads, 2));
  cfg.set("logger.console", caf::atom("none"));
  caf::actor_system system{cfg};

  node_options node_opts;
  node_opts.registry = &registry;
  auto node = spawn_node(system, node_opts);

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
  auto coordinator = spawn_coordinator(system, std::move(coord_opts), {node});

  caf::scoped_actor self{system};
  self->send(coordinator, run_atom::value);
  bool finished = false;
  bool drained = false;
  while (!finished) {
    self->receive([&](done_atom) { finished = true; },
                  [&](progress_atom, progress_info& p) {
                    if (options.on_progress)
                      options.on_progress(p);
                  },
                  caf::after(std::chrono::milliseconds(100)) >> [&] {
                    if (!drained && options.interrupted && options.interrupted()) {
                      drained = true;
                      self->send(coordinator, drain_atom::value);
                    }
                  });
  }
  self->send_exit(node, caf::exit_reason::user_shutdown);
  return *report;
}

} // namespace conveyor
