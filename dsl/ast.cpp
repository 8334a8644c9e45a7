// AST printer: one line per statement in a fixed canonical spacing; strings are re-escaped
// with their $refs written back in place, so the printout is valid graph-language text.
#include "dsl/ast.hpp"

namespace conveyor::dsl::ast {

namespace {

std::string print_string(const std::string& text, const std::vector<string_ref>& refs) {
  std::string out = "\"";
  std::size_t next_ref = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    while (next_ref < refs.size() && refs[next_ref].offset == i)
      out += "${" + refs[next_ref++].name + "}";
    if (i == text.size()) break;
    std::string one = to_source(value{std::string(1, text[i])}); // "x" escaped
    out += one.substr(1, one.size() - 2);
  }
  return out + "\"";
}

std::string print_pairs(const std::vector<pair>& pairs) {
  if (pairs.empty()) return "{}";
  std::string out = "{ ";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i != 0) out += ", ";
    out += pairs[i].key + " = " + to_string(pairs[i].val);
  }
  return out + " }";
}

struct printer {
  std::string operator()(const graph_stmt& s) const { return "graph " + s.name; }
  std::string operator()(const param_stmt& s) const {
    return "param " + s.name + " = " + to_string(s.val);
  }
  std::string operator()(const defaults_stmt& s) const {
    return "defaults " + print_pairs(s.pairs);
  }
  std::string operator()(const node_stmt& s) const {
    std::string out = "node " + s.name + " = " + s.kind;
    if (!s.pairs.empty()) out += " " + print_pairs(s.pairs);
    return out;
  }
  std::string operator()(const edge_chain& s) const {
    std::string out;
    for (std::size_t i = 0; i < s.endpoints.size(); ++i) {
      if (i != 0) out += " -> ";
      out += s.endpoints[i].node;
      if (s.endpoints[i].port) out += "." + *s.endpoints[i].port;
    }
    return out;
  }
};

} // namespace

std::string to_string(const expr& e) {
  switch (e.k) {
    case expr::kind::reference: return "$" + e.reference;
    case expr::kind::list: {
      std::string out = "[";
      for (std::size_t i = 0; i < e.items.size(); ++i) {
        if (i != 0) out += ", ";
        out += to_string(e.items[i]);
      }
      return out + "]";
    }
    case expr::kind::literal:
      if (e.literal.is_string()) return print_string(e.literal.as_string(), e.refs);
      return to_source(e.literal);
  }
  return {};
}

std::string to_string(const file& f) {
  std::string out;
  for (const auto& s : f.statements) out += std::visit(printer{}, s) + "\n";
  return out;
}

} // namespace conveyor::dsl::ast
