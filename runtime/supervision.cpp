// One restart_tracker per instance (as a node kept them before supervision moved to
// the coordinator), so intensity and backoff count the failures of that instance.
#include "runtime/supervision.hpp"

#include <algorithm>
#include <set>

namespace conveyor {

graph_supervisor::graph_supervisor(const dsl::graph_spec& graph, const topology& shape,
                                   std::vector<std::string> replica_groups)
    : graph_(graph), shape_(shape), replica_groups_(std::move(replica_groups)) {}

supervision_decision graph_supervisor::on_exit(
  const std::string& instance, const std::string& step, bool failed,
  const std::map<std::string, std::string>& instances, restart_tracker::clock::time_point now) {
  supervision_decision d;
  const auto* spec = graph_.find_node(step);
  if (spec == nullptr)
    return d;
  const auto& attrs = spec->attributes;
  if (!failed && attrs.restart != dsl::restart_policy::always)
    return d;
  auto tracker = trackers_.find(instance);
  if (tracker == trackers_.end())
    tracker = trackers_
                .emplace(instance, restart_tracker(attrs.max_restarts,
                                                   std::chrono::nanoseconds(attrs.restart_window_ns),
                                                   std::chrono::nanoseconds(attrs.backoff_ns)))
                .first;
  auto granted = attrs.restart == dsl::restart_policy::never ? restart_tracker::decision{}
                                                             : tracker->second.on_failure(now);
  d.restarts = tracker->second.total();
  if (!granted.allowed) {
    d.what = supervision_decision::verdict::give_up;
    return d;
  }
  d.what = supervision_decision::verdict::restart;
  d.delay = granted.delay;
  d.instances = restart_set(instance, step, instances);
  return d;
}

std::vector<std::string>
graph_supervisor::restart_set(const std::string& failed, const std::string& step,
                              const std::map<std::string, std::string>& instances) const {
  auto strategy = graph_.find_node(step)->attributes.strategy;
  bool group =
    std::find(replica_groups_.begin(), replica_groups_.end(), step) != replica_groups_.end();
  std::set<std::string> downstream;
  if (strategy == dsl::restart_strategy::rest_for_one)
    downstream = shape_.downstream_of(step);
  std::vector<std::string> set{failed};
  for (const auto& [name, of] : instances) {
    if (name == failed)
      continue;
    if (strategy == dsl::restart_strategy::one_for_all || downstream.count(of) != 0 ||
        (group && of == step))
      set.push_back(name);
  }
  return set;
}

} // namespace conveyor
