// The lowered graph: names of the policies, look-up of a node by name (linear: graphs
// hold tens of nodes) and the location-blind equality the round-trip tests use.
#include "dsl/graph_spec.hpp"

namespace conveyor::dsl {

std::string to_string(restart_policy p) {
  switch (p) {
    case restart_policy::on_failure: return "on_failure";
    case restart_policy::always: return "always";
    case restart_policy::never: return "never";
  }
  return "on_failure";
}

std::string to_string(restart_strategy s) {
  switch (s) {
    case restart_strategy::one_for_one: return "one_for_one";
    case restart_strategy::rest_for_one: return "rest_for_one";
    case restart_strategy::one_for_all: return "one_for_all";
  }
  return "one_for_one";
}

const node_spec* graph_spec::find_node(const std::string& n) const {
  for (const auto& node : nodes)
    if (node.name == n) return &node;
  return nullptr;
}

bool operator==(const node_attributes& a, const node_attributes& b) {
  return a.replicas == b.replicas && a.restart == b.restart && a.strategy == b.strategy
         && a.max_restarts == b.max_restarts && a.restart_window_ns == b.restart_window_ns
         && a.backoff_ns == b.backoff_ns && a.buffer == b.buffer && a.on == b.on
         && a.gpus == b.gpus;
}

bool operator!=(const node_attributes& a, const node_attributes& b) { return !(a == b); }

bool equal_ignoring_locations(const graph_spec& a, const graph_spec& b) {
  if (a.name != b.name || a.params != b.params || a.nodes.size() != b.nodes.size()
      || a.edges.size() != b.edges.size())
    return false;
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    const auto& x = a.nodes[i];
    const auto& y = b.nodes[i];
    if (x.name != y.name || x.kind != y.kind || x.params != y.params
        || x.attributes != y.attributes || x.instances != y.instances)
      return false;
  }
  for (std::size_t i = 0; i < a.edges.size(); ++i) {
    const auto& x = a.edges[i];
    const auto& y = b.edges[i];
    if (x.from_node != y.from_node || x.from_port != y.from_port || x.to_node != y.to_node
        || x.to_port != y.to_port || x.message_type != y.message_type)
      return false;
  }
  return true;
}

} // namespace conveyor::dsl
