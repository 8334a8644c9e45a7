// Lowering: one pass collecting the defaults block, one over node statements (params and
// attributes layered: node, defaults, kind default; then the kind's instance count and its
// check of the values) and one over edge chains, each link becoming an edge with explicit
// ports and the message type of its output port.
#include "dsl/lower.hpp"

#include "dsl/attributes.hpp"
#include "dsl/ports.hpp"

#include <map>

namespace conveyor::dsl {

namespace {

/// Where a parameter's value was written: the node's own pair, else the defaults block's,
/// else (a kind default, or the node as a whole) the node's name.
const ast::pair* written_at(const ast::node_stmt& n, const std::vector<const ast::pair*>& defaults,
                            const std::string& parameter) {
  if (parameter.empty()) return nullptr;
  for (const auto& p : n.pairs)
    if (p.key == parameter) return &p;
  for (const auto* p : defaults)
    if (p->key == parameter) return p;
  return nullptr;
}

void report(const param_problem& problem, const ast::node_stmt& n,
            const std::vector<const ast::pair*>& defaults, diagnostic_sink& sink) {
  const ast::pair* at = written_at(n, defaults, problem.parameter);
  std::string hint;
  if (at && at->val.k == ast::expr::kind::reference)
    hint = "the value comes from param '" + at->val.reference + "'";
  else if (!at && !problem.parameter.empty())
    hint = "'" + problem.parameter + "' has its default value; set it in the node's { }";
  sink.error(diagnostic_code::invalid_parameter, at ? at->val.where : n.name_where,
             problem.message, hint);
}

} // namespace

graph_spec lower(const ast::file& file, const schema_catalog& kinds, const param_table& params,
                 const std::string& file_name, diagnostic_sink& sink) {
  graph_spec g;
  g.params = params.values;
  substitution_budget budget;
  std::map<std::string, value> defaults;
  std::vector<const ast::pair*> default_pairs;
  for (const auto& s : file.statements) {
    if (auto gs = std::get_if<ast::graph_stmt>(&s)) {
      g.name = gs->name;
    } else if (auto d = std::get_if<ast::defaults_stmt>(&s)) {
      for (const auto& p : d->pairs) {
        default_pairs.push_back(&p);
        if (auto v = evaluate(p.val, params, budget, nullptr)) defaults.emplace(p.key, *v);
      }
    }
  }
  node_attributes base;
  for (const auto& [key, v] : defaults)
    if (is_attribute(key)) apply_attribute(base, key, v);

  std::map<std::string, const kind_schema*> kind_of;
  for (const auto& s : file.statements) {
    auto n = std::get_if<ast::node_stmt>(&s);
    if (!n) continue;
    const kind_schema* k = kinds.find_kind(n->kind);
    if (!k || !kind_of.emplace(n->name, k).second) continue;
    node_spec spec;
    spec.name = n->name;
    spec.kind = n->kind;
    spec.location = source_location{file_name, n->name_where.line, n->name_where.column};
    spec.attributes = base;
    for (const auto& p : n->pairs) {
      auto v = evaluate(p.val, params, budget, nullptr);
      if (!v) continue;
      if (is_attribute(p.key)) apply_attribute(spec.attributes, p.key, *v);
      else spec.params.emplace(p.key, std::move(*v));
    }
    for (const auto& ps : k->params) {
      if (spec.params.count(ps.name) != 0) continue;
      auto d = defaults.find(ps.name);
      if (d != defaults.end()) spec.params.emplace(ps.name, d->second);
      else if (ps.default_value) spec.params.emplace(ps.name, *ps.default_value);
    }
    auto instances = kinds.instances_of(spec);
    if (instances.problem) {
      report(*instances.problem, *n, default_pairs, sink);
    } else if (instances.count < 1) {
      report(param_problem{{}, n->kind + " '" + n->name + "' asks for " +
                                 std::to_string(instances.count) + " instances"},
             *n, default_pairs, sink);
    } else {
      spec.instances = instances.count;
      if (auto problem = kinds.check_params(spec)) report(*problem, *n, default_pairs, sink);
    }
    g.nodes.push_back(std::move(spec));
  }

  for (const auto& s : file.statements) {
    auto chain = std::get_if<ast::edge_chain>(&s);
    if (!chain) continue;
    for (std::size_t i = 0; i + 1 < chain->endpoints.size(); ++i) {
      const auto& from = chain->endpoints[i];
      const auto& to = chain->endpoints[i + 1];
      auto a = kind_of.find(from.node);
      auto b = kind_of.find(to.node);
      if (a == kind_of.end() || b == kind_of.end()) continue;
      const port_schema* out = resolve_port(*a->second, from.port, port_side::output);
      const port_schema* in = resolve_port(*b->second, to.port, port_side::input);
      if (!out || !in) continue;
      edge_spec e;
      e.from_node = from.node;
      e.from_port = out->name;
      e.to_node = to.node;
      e.to_port = in->name;
      e.message_type = out->message_type;
      e.location = source_location{file_name, from.node_where.line, from.node_where.column};
      g.edges.push_back(std::move(e));
    }
  }
  return g;
}

} // namespace conveyor::dsl
