// Builds an actor system, spawns the node and the coordinator, and drives the run
// (runtime/run_driver.hpp).
#include "runtime/local_run.hpp"

#include "runtime/actor_system_setup.hpp"
#include "runtime/coordinator.hpp"
#include "runtime/messages.hpp"
#include "runtime/node.hpp"
#include "runtime/run_driver.hpp"
#include "step/kind_registry.hpp"

#include <atomic>
#include <memory>

namespace conveyor {

run_report run_locally(const dsl::graph_spec& graph, const kind_registry& registry,
                       const local_run_options& options) {
  caf::actor_system_config cfg;
  system_setup setup;
  setup.threads = options.threads;
  configure_actor_system(cfg, setup);
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
  // The one node hosts every step, whatever `on` says.
  coord_opts.nodes = {cluster::node_offer{node_opts.name, {"*"}, 1, node_opts.gpus}};
  coord_opts.report = report;
  coord_opts.live = options.live;
  coord_opts.state_dir = options.state_dir;
  coord_opts.resume = options.resume;
  auto coordinator = spawn_coordinator(*system, std::move(coord_opts), {node});

  auto result = drive_run(*system, coordinator, report, graph, options, stop_requested);
  if (!result.abandoned.empty()) {
    // Steps still inside a call cannot be joined: leave the system to the process's
    // end rather than wait for them forever (see the header).
    system.release();
    return result;
  }
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  return result;
}

} // namespace conveyor
