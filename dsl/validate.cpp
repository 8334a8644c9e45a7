// Validation: first a table of declared nodes (name -> statement, kind), then each block's
// pairs checked against attributes or the kind's params, then edges resolved to ports, then
// an iterative three-colour DFS over the node graph that names each cycle it closes, and
// last, in a graph without errors, a count of the paths a source's batches take to each step.
#include "dsl/validate.hpp"

#include "dsl/attributes.hpp"
#include "dsl/did_you_mean.hpp"
#include "dsl/ports.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace conveyor::dsl {

namespace {

struct declared_node {
  const ast::node_stmt* stmt = nullptr;
  const kind_schema* kind = nullptr;
};

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 20; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 20) out += ", ...";
  return out;
}

std::vector<std::string> port_names(const std::vector<port_schema>& ports) {
  std::vector<std::string> out;
  for (const auto& p : ports) out.push_back(p.name);
  return out;
}

std::string describe_value(const value& v) {
  if (v.is_list()) return "list";
  return type_name(v);
}

/// Checks a value for one kind param; empty if fine, else the message and a hint.
bool check_param(const kind_schema& k, const param_schema& p, const value& v, span where,
                 diagnostic_sink& sink) {
  if (!accepts(p.type, v)) {
    sink.error(diagnostic_code::mistyped_parameter, where,
               "parameter '" + p.name + "' of " + k.name + " expects " + to_string(p.type)
                 + ", got " + describe_value(v));
    return false;
  }
  if (v.is_string() && !p.choices.empty()
      && std::find(p.choices.begin(), p.choices.end(), v.as_string()) == p.choices.end()) {
    std::string hint = did_you_mean(v.as_string(), p.choices);
    sink.error(diagnostic_code::mistyped_parameter, where,
               "parameter '" + p.name + "' of " + k.name + " expects one of "
                 + quoted_list(p.choices) + ", got " + to_source(v),
               hint);
    return false;
  }
  return true;
}

class validator {
public:
  validator(const ast::file& file, const schema_catalog& kinds, const param_table& params,
            substitution_budget& budget, diagnostic_sink& sink)
    : file_(file), kinds_(kinds), params_(params), budget_(budget), sink_(sink) {}

  void run() {
    declare_nodes();
    check_defaults();
    for (const auto& s : file_.statements) {
      if (sink_.full()) return;
      if (auto n = std::get_if<ast::node_stmt>(&s)) check_node(*n);
    }
    for (const auto& s : file_.statements) {
      if (sink_.full()) return;
      if (auto e = std::get_if<ast::edge_chain>(&s)) check_edges(*e);
    }
    find_cycles();
    if (sink_.error_count() == 0) find_merging_paths();
  }

private:
  struct batch_edge {
    std::string from;
    std::string to;
    span where;
  };

  void declare_nodes() {
    std::vector<std::string> kind_names;
    bool have_kind_names = false;
    for (const auto& s : file_.statements) {
      auto n = std::get_if<ast::node_stmt>(&s);
      if (!n) continue;
      auto [it, fresh] = nodes_.emplace(n->name, declared_node{n, nullptr});
      if (!fresh) {
        sink_.error(diagnostic_code::duplicate_node, n->name_where,
                    "duplicate node '" + n->name + "'",
                    "first declared at line " + std::to_string(it->second.stmt->name_where.line));
        continue;
      }
      node_order_.push_back(n->name);
      it->second.kind = kinds_.find_kind(n->kind);
      if (!it->second.kind) {
        if (!have_kind_names) {
          kind_names = kinds_.kind_names();
          have_kind_names = true;
        }
        std::string hint = did_you_mean(n->kind, kind_names);
        if (hint.empty()) hint = "known kinds: " + quoted_list(kind_names);
        sink_.error(diagnostic_code::unknown_kind, n->kind_where, "unknown kind '" + n->kind + "'",
                    hint);
      } else if (std::find(used_kinds_.begin(), used_kinds_.end(), it->second.kind)
                 == used_kinds_.end()) {
        used_kinds_.push_back(it->second.kind);
      }
    }
  }

  void check_defaults() {
    std::map<std::string, span> seen;
    for (const auto& s : file_.statements) {
      auto d = std::get_if<ast::defaults_stmt>(&s);
      if (!d) continue;
      for (const auto& p : d->pairs) {
        if (sink_.full()) return;
        auto [it, fresh] = seen.emplace(p.key, p.key_where);
        if (!fresh) {
          sink_.error(diagnostic_code::duplicate_parameter, p.key_where,
                      "duplicate key '" + p.key + "' in defaults",
                      "first set at line " + std::to_string(it->second.line));
          continue;
        }
        auto v = evaluate(p.val, params_, budget_, &sink_);
        if (is_attribute(p.key)) {
          defaults_.insert(p.key);
          if (v) check_attribute_value(p.key, *v, p.val.where);
          continue;
        }
        bool declared = false;
        for (const kind_schema* k : used_kinds_) {
          const param_schema* ps = k->find_param(p.key);
          if (!ps) continue;
          declared = true;
          if (v && !check_param(*k, *ps, *v, p.val.where, sink_)) break;
        }
        if (declared) {
          defaults_.insert(p.key);
          continue;
        }
        std::vector<std::string> candidates = attribute_names();
        for (const kind_schema* k : used_kinds_)
          for (const auto& ps : k->params) candidates.push_back(ps.name);
        std::string hint = did_you_mean(p.key, candidates);
        if (hint.empty())
          hint = "defaults take node attributes (" + quoted_list(attribute_names())
                 + ") or parameters of the kinds this graph uses";
        sink_.error(diagnostic_code::unknown_parameter, p.key_where,
                    "unknown parameter '" + p.key + "' in defaults", hint);
      }
    }
  }

  void check_attribute_value(const std::string& key, const value& v, span where) {
    std::string problem = check_attribute(key, v);
    if (!problem.empty())
      sink_.error(diagnostic_code::mistyped_parameter, where,
                  "attribute '" + key + "' " + problem);
  }

  void check_node(const ast::node_stmt& n) {
    auto it = nodes_.find(n.name);
    if (it == nodes_.end() || it->second.stmt != &n) return; // a duplicate, reported
    const kind_schema* k = it->second.kind;
    std::map<std::string, span> seen;
    for (const auto& p : n.pairs) {
      if (sink_.full()) return;
      auto [first, fresh] = seen.emplace(p.key, p.key_where);
      if (!fresh) {
        sink_.error(diagnostic_code::duplicate_parameter, p.key_where,
                    "duplicate parameter '" + p.key + "' for " + n.kind + " '" + n.name + "'",
                    "first set at line " + std::to_string(first->second.line));
        continue;
      }
      auto v = evaluate(p.val, params_, budget_, &sink_);
      if (is_attribute(p.key)) {
        if (v) check_attribute_value(p.key, *v, p.val.where);
        continue;
      }
      if (!k) continue; // unknown kind: reported, its params cannot be checked
      const param_schema* ps = k->find_param(p.key);
      if (!ps) {
        std::vector<std::string> candidates = attribute_names();
        for (const auto& x : k->params) candidates.push_back(x.name);
        std::string hint = did_you_mean(p.key, candidates);
        if (hint.empty()) {
          std::vector<std::string> names;
          for (const auto& x : k->params) names.push_back(x.name);
          hint = names.empty() ? k->name + " takes no parameters"
                               : k->name + " takes " + quoted_list(names);
        }
        sink_.error(diagnostic_code::unknown_parameter, p.key_where,
                    "unknown parameter '" + p.key + "' for " + k->name, hint);
        continue;
      }
      if (v) check_param(*k, *ps, *v, p.val.where, sink_);
    }
    if (!k || n.body_had_errors) return;
    for (const auto& ps : k->params) {
      if (!ps.required || seen.count(ps.name) != 0 || defaults_.count(ps.name) != 0) continue;
      sink_.error(diagnostic_code::missing_parameter, n.name_where,
                  "missing required parameter '" + ps.name + "' for " + k->name + " '" + n.name
                    + "'",
                  "add " + ps.name + " = ... to the node's { }");
    }
  }

  /// The node an endpoint names, or null (reported unless already reported).
  const declared_node* resolve_node(const ast::endpoint& ep) {
    auto it = nodes_.find(ep.node);
    if (it != nodes_.end()) return &it->second;
    if (std::find(file_.broken_nodes.begin(), file_.broken_nodes.end(), ep.node)
        == file_.broken_nodes.end()) {
      std::string hint = did_you_mean(ep.node, node_order_);
      if (hint.empty()) hint = "declare it with `node " + ep.node + " = KIND { ... }`";
      sink_.error(diagnostic_code::unknown_node, ep.node_where,
                  "unknown node '" + ep.node + "'", hint);
    }
    return nullptr;
  }

  const port_schema* check_port(const ast::endpoint& ep, const declared_node& n,
                                port_side side) {
    const kind_schema& k = *n.kind;
    const auto& ports = side == port_side::output ? k.outputs : k.inputs;
    const char* what = side == port_side::output ? "output" : "input";
    if (const port_schema* p = resolve_port(k, ep.port, side)) return p;
    std::string who = k.name + " '" + ep.node + "'";
    if (ports.empty()) {
      sink_.error(diagnostic_code::unknown_port, ep.port ? ep.port_where : ep.node_where,
                  who + " has no " + what + " ports, so it cannot "
                    + (side == port_side::output ? "start an edge" : "end an edge"));
      return nullptr;
    }
    auto names = port_names(ports);
    std::string hint = did_you_mean(*ep.port, names);
    if (hint.empty()) hint = std::string(what) + "s of " + k.name + ": " + quoted_list(names);
    sink_.error(diagnostic_code::unknown_port, ep.port_where,
                who + " has no " + what + " port '" + *ep.port + "'", hint);
    return nullptr;
  }

  static span endpoint_span(const ast::endpoint& ep) {
    span s = ep.node_where;
    if (ep.port && ep.port_where.line == s.line)
      s.length = ep.port_where.column + ep.port_where.length - s.column;
    return s;
  }

  static std::string endpoint_text(const ast::endpoint& ep, const port_schema& p) {
    return ep.node + "." + p.name;
  }

  void check_edges(const ast::edge_chain& chain) {
    std::vector<const declared_node*> resolved;
    for (const auto& ep : chain.endpoints) resolved.push_back(resolve_node(ep));
    for (std::size_t i = 0; i + 1 < chain.endpoints.size(); ++i) {
      if (sink_.full()) return;
      const auto& from = chain.endpoints[i];
      const auto& to = chain.endpoints[i + 1];
      const declared_node* a = resolved[i];
      const declared_node* b = resolved[i + 1];
      if (a && b) {
        auto key = std::make_pair(from.node, to.node);
        if (edge_at_.emplace(key, chain.arrows[i]).second) {
          adjacency_[from.node].push_back(to.node);
        }
      }
      const port_schema* out = a && a->kind ? check_port(from, *a, port_side::output) : nullptr;
      const port_schema* in = b && b->kind ? check_port(to, *b, port_side::input) : nullptr;
      if (out && in && out->message_type == "batch" && in->message_type == "batch")
        batch_edges_.push_back({from.node, to.node, chain.arrows[i]});
      if (out && in && out->message_type != in->message_type)
        sink_.error(diagnostic_code::port_type_mismatch, endpoint_span(to),
                    "port type mismatch: " + endpoint_text(from, *out) + " sends "
                      + out->message_type + " but " + endpoint_text(to, *in) + " takes "
                      + in->message_type,
                    "an edge connects an output to an input of the same message type");
    }
  }

  void find_cycles() {
    enum class colour { white, grey, black };
    std::unordered_map<std::string, colour> state;
    struct frame {
      const std::string* node;
      std::size_t next = 0;
    };
    for (const auto& root : node_order_) {
      if (state[root] != colour::white) continue;
      std::vector<frame> stack{{&root, 0}};
      state[root] = colour::grey;
      while (!stack.empty()) {
        if (sink_.full()) return;
        frame& f = stack.back();
        auto adj = adjacency_.find(*f.node);
        if (adj == adjacency_.end() || f.next >= adj->second.size()) {
          state[*f.node] = colour::black;
          stack.pop_back();
          continue;
        }
        const std::string& to = adj->second[f.next++];
        colour c = state[to];
        if (c == colour::white) {
          state[to] = colour::grey;
          stack.push_back({&to, 0});
        } else if (c == colour::grey) {
          report_cycle(stack, to);
        }
      }
    }
  }

  /// The runtime tracks delivery per source batch, (source, sequence): a terminal step
  /// acknowledges each once and skips a second arrival as a replay. Two paths from one
  /// source into one step (`src -> a -> out` and `src -> b -> out`, or a splitter's two
  /// outputs into one writer) would deliver two different batches under one key, and the
  /// second would be dropped without an error. Such graphs are refused, at the first step
  /// where the paths meet, once per source. Runs on an acyclic graph (no errors so far).
  void find_merging_paths() {
    std::map<std::string, std::vector<const batch_edge*>> outgoing;
    std::map<std::string, std::size_t> indegree;
    for (const auto& e : batch_edges_) {
      outgoing[e.from].push_back(&e);
      ++indegree[e.to];
    }
    std::vector<std::string> order; // topological (Kahn), over batch edges
    for (const auto& n : node_order_)
      if (indegree[n] == 0) order.push_back(n);
    for (std::size_t i = 0; i < order.size(); ++i)
      for (const batch_edge* e : outgoing[order[i]])
        if (--indegree[e->to] == 0) order.push_back(e->to);
    for (const auto& source : node_order_) {
      const declared_node& d = nodes_.at(source);
      if (d.kind && d.kind->inputs.empty() && outgoing.count(source) != 0)
        report_first_merge(source, order, outgoing);
    }
  }

  void report_first_merge(const std::string& source, const std::vector<std::string>& order,
                          std::map<std::string, std::vector<const batch_edge*>>& outgoing) {
    // The first edge by which the source's batches reached each step.
    std::map<std::string, const batch_edge*> reached_by{{source, nullptr}};
    for (const auto& step : order) {
      if (reached_by.count(step) == 0) continue;
      for (const batch_edge* e : outgoing[step]) {
        auto [first, fresh] = reached_by.emplace(e->to, e);
        if (fresh) continue;
        sink_.error(diagnostic_code::merging_paths, e->where,
                    "the batches of source '" + source + "' reach '" + e->to
                      + "' by two paths (from '" + first->second->from + "' and from '"
                      + e->from + "'): delivery is tracked per source batch, so one copy "
                      "would be dropped as a replay",
                    "give each path its own sink, or read the source once per path");
        return;
      }
    }
  }

  template <class Stack>
  void report_cycle(const Stack& stack, const std::string& to) {
    std::size_t start = 0;
    while (start < stack.size() && *stack[start].node != to) ++start;
    std::string path;
    for (std::size_t i = start; i < stack.size(); ++i) {
      if (path.size() > 400) {
        path += " -> ...";
        break;
      }
      path += *stack[i].node + " -> ";
    }
    path += to;
    span where = edge_at_[std::make_pair(*stack.back().node, to)];
    sink_.error(diagnostic_code::cycle, where, "cycle: " + path,
                "a graph's edges must not loop back; remove one of these edges");
  }

  const ast::file& file_;
  const schema_catalog& kinds_;
  const param_table& params_;
  substitution_budget& budget_;
  diagnostic_sink& sink_;
  std::map<std::string, declared_node> nodes_;
  std::vector<std::string> node_order_;
  std::vector<const kind_schema*> used_kinds_;
  std::set<std::string> defaults_;
  std::map<std::string, std::vector<std::string>> adjacency_;
  std::map<std::pair<std::string, std::string>, span> edge_at_;
  /// Every edge between batch ports, once per edge written (two ports of one node pair
  /// are two edges).
  std::vector<batch_edge> batch_edges_;
};

} // namespace

void validate(const ast::file& file, const schema_catalog& kinds, const param_table& params,
              substitution_budget& budget, diagnostic_sink& sink) {
  validator{file, kinds, params, budget, sink}.run();
}

} // namespace conveyor::dsl
