// Supervision over the whole graph, decided by the coordinator: when a step instance
// ends, whether it restarts (its `restart` policy, at most `max_restarts` within
// `restart_window`, after a backoff doubling from `backoff`) and which instances restart
// with it (its `strategy`), wherever they run. The nodes only report exits and carry out
// the respawns, so a strategy means the same in one process and across nodes:
// - one_for_one: the instance;
// - rest_for_one: it and every instance of every step downstream of its step;
// - one_for_all: every instance of the graph;
// - a replica group (a kind whose replicas form one computation, such as a trainer on
//   `cpu:N`) restarts together whatever the strategy.
// Plain C++: no actors.
#pragma once

#include "dsl/graph_spec.hpp"
#include "runtime/restart_tracker.hpp"
#include "runtime/topology.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace conveyor {

struct supervision_decision {
  enum class verdict {
    /// An exit without error that the policy does not restart (restart != always).
    ignore,
    /// Restart `instances` after `delay`.
    restart,
    /// The step may not restart (policy `never`, or past its limit): the run fails.
    give_up,
  };
  verdict what = verdict::ignore;
  std::chrono::nanoseconds delay{0};
  /// The failed instance first, then the others of its restart set, by name.
  std::vector<std::string> instances;
  /// The failed instance's restarts so far, this one included when granted.
  int restarts = 0;
};

class graph_supervisor {
public:
  /// `replica_group`: the steps whose kind is a replica group.
  graph_supervisor(const dsl::graph_spec& graph, const topology& shape,
                   std::vector<std::string> replica_groups);

  /// Instance `instance` of `step` ended, with an error when `failed`. `instances` maps
  /// every instance of the graph to its step.
  supervision_decision on_exit(const std::string& instance, const std::string& step,
                               bool failed, const std::map<std::string, std::string>& instances,
                               restart_tracker::clock::time_point now);

private:
  std::vector<std::string> restart_set(const std::string& failed, const std::string& step,
                                       const std::map<std::string, std::string>& instances) const;

  const dsl::graph_spec& graph_;
  const topology& shape_;
  std::vector<std::string> replica_groups_;
  std::map<std::string, restart_tracker> trackers_; // by instance
};

} // namespace conveyor
