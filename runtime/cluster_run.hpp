// `conveyor run --cluster FILE`: the coordinator in this process, the steps on the
// cluster's node daemons (`conveyor node`).
//
// Before the run starts, every node of the cluster file is connected (over TLS when
// the file has [tls]), asked for its resources (its name must be the one the file
// gives it) and joined to a fresh run id; a node that cannot be reached (5 tries, 200 ms
// apart), answers nothing within 10 s or refuses fails the run before any step starts,
// naming the node and its address. From then on it is the same run as `run_locally`'s, on the same
// coordinator.
#pragma once

#include "cluster/cluster_file.hpp"
#include "runtime/local_run.hpp"

namespace conveyor {

run_report run_on_cluster(const dsl::graph_spec& graph, const kind_registry& registry,
                          const local_run_options& options,
                          const cluster::cluster_config& cluster);

} // namespace conveyor
