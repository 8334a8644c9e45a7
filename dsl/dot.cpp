// DOT output: one box per node in declaration order, then one arrow per edge; ports are
// written on an edge only where they differ from the kinds' defaults, and model edges
// are drawn bold blue. Every identifier is quoted and escaped.
#include "dsl/front_end.hpp"

namespace conveyor::dsl {

namespace {

std::string dot_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

/// Escapes `s` for use inside a label where `\n` separators are added by the caller.
std::string label_part(const std::string& s) {
  std::string quoted = dot_string(s);
  return quoted.substr(1, quoted.size() - 2);
}

bool is_default_port(const schema_catalog& kinds, const graph_spec& g, const std::string& node,
                     const std::string& port, bool output) {
  const node_spec* n = g.find_node(node);
  const kind_schema* k = n ? kinds.find_kind(n->kind) : nullptr;
  if (!k) return false;
  const auto& ports = output ? k->outputs : k->inputs;
  return !ports.empty() && ports.front().name == port;
}

} // namespace

std::string to_dot(const graph_spec& graph, const schema_catalog& kinds) {
  std::string out = "digraph " + dot_string(graph.name) + " {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, fontname=\"Helvetica\"];\n";
  for (const auto& n : graph.nodes) {
    std::string label = label_part(n.name) + "\\n" + label_part(n.kind);
    if (n.instances > 1) label += "\\nx" + std::to_string(n.instances);
    out += "  " + dot_string(n.name) + " [label=\"" + label + "\"];\n";
  }
  for (const auto& e : graph.edges) {
    out += "  " + dot_string(e.from_node) + " -> " + dot_string(e.to_node);
    std::vector<std::string> attrs;
    bool from_default = is_default_port(kinds, graph, e.from_node, e.from_port, true);
    bool to_default = is_default_port(kinds, graph, e.to_node, e.to_port, false);
    if (!from_default || !to_default)
      attrs.push_back("label=" + dot_string(e.from_port + " -> " + e.to_port));
    if (e.message_type == "model") {
      attrs.push_back("style=bold");
      attrs.push_back("color=blue");
    }
    if (!attrs.empty()) {
      out += " [";
      for (std::size_t i = 0; i < attrs.size(); ++i) out += (i ? ", " : "") + attrs[i];
      out += "]";
    }
    out += ";\n";
  }
  return out + "}\n";
}

} // namespace conveyor::dsl
