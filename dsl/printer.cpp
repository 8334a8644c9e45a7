// Printer: a graph spec back to graph-language text in a fixed layout (params, nodes with
// every param explicit and each attribute that differs from node_attributes{}, then one
// explicit-port edge per line), so that compiling the printout gives an equal spec.
#include "dsl/front_end.hpp"

namespace conveyor::dsl {

namespace {

std::vector<std::pair<std::string, value>> changed_attributes(const node_attributes& a) {
  const node_attributes d;
  std::vector<std::pair<std::string, value>> out;
  if (a.replicas != d.replicas) out.emplace_back("replicas", a.replicas);
  if (a.restart != d.restart) out.emplace_back("restart", to_string(a.restart));
  if (a.strategy != d.strategy) out.emplace_back("strategy", to_string(a.strategy));
  if (a.max_restarts != d.max_restarts) out.emplace_back("max_restarts", a.max_restarts);
  if (a.restart_window_ns != d.restart_window_ns)
    out.emplace_back("restart_window", duration_value{a.restart_window_ns});
  if (a.backoff_ns != d.backoff_ns) out.emplace_back("backoff", duration_value{a.backoff_ns});
  if (a.buffer != d.buffer) out.emplace_back("buffer", a.buffer);
  if (a.on != d.on) out.emplace_back("on", a.on);
  if (a.gpus != d.gpus) out.emplace_back("gpus", a.gpus);
  return out;
}

} // namespace

std::string to_source(const graph_spec& graph) {
  std::string out = "graph " + graph.name + "\n";
  if (!graph.params.empty()) out += "\n";
  for (const auto& [name, v] : graph.params) out += "param " + name + " = " + to_source(v) + "\n";
  for (const auto& n : graph.nodes) {
    out += "\nnode " + n.name + " = " + n.kind;
    auto attrs = changed_attributes(n.attributes);
    if (n.params.empty() && attrs.empty()) {
      out += "\n";
      continue;
    }
    out += " {\n";
    for (const auto& [key, v] : n.params) out += "  " + key + " = " + to_source(v) + "\n";
    for (const auto& [key, v] : attrs) out += "  " + key + " = " + to_source(v) + "\n";
    out += "}\n";
  }
  if (!graph.edges.empty()) out += "\n";
  for (const auto& e : graph.edges)
    out += e.from_node + "." + e.from_port + " -> " + e.to_node + "." + e.to_port + "\n";
  return out;
}

} // namespace conveyor::dsl
