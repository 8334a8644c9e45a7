// Placement of step instances on nodes, with resource accounting: what is placed is
// subtracted from what a node offers.
//
// - `on`: a node named or labelled so (a node labelled "*" satisfies any `on`);
// - `gpus` per instance: a node with that many GPUs still free; the instance gets
//   consecutive ordinals on it, the first of which is its `device`;
// - among the nodes that qualify, an instance goes to the one hosting the fewest
//   instances of the same step (replicas spread over nodes), then the one with the
//   fewest instances per core, then the first in the cluster file's order.
// Steps are placed in the order given, replicas in order; the result is deterministic.
#pragma once

#include "base/decoded.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace conveyor::cluster {

struct node_offer {
  std::string name;
  std::vector<std::string> labels;
  int cores = 1;
  int gpus = 0;
};

struct step_demand {
  std::string step;
  int instances = 1;
  /// A node name or label; empty: any node.
  std::string on;
  /// GPUs per instance.
  int gpus = 0;
};

struct placed_instance {
  std::string step;
  int replica = 0;
  std::size_t node = 0;
  /// The first GPU ordinal given to the instance on its node; -1: none.
  int device = -1;
};

/// Every instance of every step, or an error naming the first step that fits nowhere,
/// its constraint, and why each node considered was refused.
decoded<std::vector<placed_instance>> place(const std::vector<step_demand>& steps,
                                            const std::vector<node_offer>& nodes);

} // namespace conveyor::cluster
