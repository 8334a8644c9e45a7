// The actor a node daemon (`conveyor node`) publishes: it answers what the machine
// offers and hosts runs, each on its own node actor (runtime/node.hpp).
//
// Contract:
// - `resources_atom`: answers node_resources (name, labels, cores, memory, GPUs);
// - `(join_atom, run_id)`: spawns a node for that run and answers its handle; every
//   message of the run goes to that node, so runs side by side (or one after another)
//   never see each other's messages. The node ends when its run ends or its
//   coordinator is lost. A run id already hosted is refused (`deploy_failed`), as is
//   any join once the host drains;
// - `drain_atom` (SIGINT/SIGTERM): sets every hosted run's stop flag, stops their
//   steps and ends the host once every node has ended (at once if none is running).
#pragma once

#include <caf/fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace conveyor {

class kind_registry;

struct node_host_options {
  std::string name;
  std::vector<std::string> labels;
  int cores = 0;
  std::uint64_t memory_bytes = 0;
  int gpus = 0;
  /// Must outlive the host.
  const kind_registry* registry = nullptr;
};

caf::actor spawn_node_host(caf::actor_system& system, node_host_options options);

} // namespace conveyor
