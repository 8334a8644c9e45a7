// File conflicts: one list of the files that role-carrying parameters name, each with
// the place its value was written (the node's pair, else the defaults block's, else the
// node's name for a kind default), sorted by that place; then one pass that looks each
// file up among the uses before it (a map keyed by inode or path, so a graph with many
// files costs n log n), reporting a conflict once, at the later of the two uses.
#include "dsl/file_conflicts.hpp"

#include "dsl/file_identity.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace conveyor::dsl {

namespace {

struct file_use {
  const node_spec* node = nullptr;
  const param_schema* param = nullptr;
  std::string text;
  file_identity id;
  span where;
};

bool writes(const file_use& u) { return u.param->role == param_role::writes_file; }

std::string who(const file_use& u) { return u.node->kind + " '" + u.node->name + "'"; }

std::string place(const file_use& u) {
  return "its '" + u.param->name + "', line " + std::to_string(u.where.line);
}

/// Where each node's parameter values were written.
class value_places {
public:
  explicit value_places(const ast::file& file) {
    for (const auto& s : file.statements) {
      if (auto n = std::get_if<ast::node_stmt>(&s)) {
        nodes_.emplace(n->name, n); // the first declaration: the one lowered
      } else if (auto d = std::get_if<ast::defaults_stmt>(&s)) {
        for (const auto& p : d->pairs) defaults_.emplace(p.key, p.val.where);
      }
    }
  }

  span of(const std::string& node, const std::string& key) const {
    auto n = nodes_.find(node);
    if (n == nodes_.end()) return span{};
    for (const auto& p : n->second->pairs)
      if (p.key == key) return p.val.where;
    auto d = defaults_.find(key);
    if (d != defaults_.end()) return d->second;
    return n->second->name_where;
  }

private:
  std::map<std::string, const ast::node_stmt*> nodes_;
  std::map<std::string, span> defaults_;
};

/// Equal for two uses exactly when they name the same file: an existing one by its
/// device and inode (hard links), one that does not exist yet by its resolved path.
std::string file_key(const file_identity& id) {
  if (id.exists) return "inode " + std::to_string(id.device) + ":" + std::to_string(id.inode);
  return "path " + id.path;
}

std::string same_file_note(const file_use& a, const file_use& b) {
  if (a.text == b.text) return "";
  return " ('" + a.text + "' and '" + b.text + "' are the same file)";
}

void report(const file_use& later, const file_use& earlier, diagnostic_sink& sink) {
  std::string what = writes(later) ? "write" : "read";
  std::string theirs = writes(earlier) ? "writes" : "reads";
  std::string hint = writes(later) && writes(earlier)
                       ? "each file may have one writer; give one of them another path"
                       : "a writer truncates its file when it starts, so the reader's data "
                         "would be gone; write to another path";
  sink.error(diagnostic_code::file_conflict, later.where,
             who(later) + " would " + what + " '" + later.text + "', which " + who(earlier)
               + " " + theirs + " (" + place(earlier) + ")" + same_file_note(later, earlier),
             hint);
}

} // namespace

void check_file_conflicts(const graph_spec& graph, const ast::file& file,
                          const schema_catalog& kinds, diagnostic_sink& sink) {
  value_places places(file);
  std::vector<file_use> uses;
  for (const auto& node : graph.nodes) {
    const kind_schema* kind = kinds.find_kind(node.kind);
    if (!kind) continue;
    for (const auto& p : kind->params) {
      if (p.role == param_role::none) continue;
      auto v = node.params.find(p.name);
      if (v == node.params.end() || !v->second.is_string() || v->second.as_string().empty())
        continue;
      file_use u;
      u.node = &node;
      u.param = &p;
      u.text = v->second.as_string();
      u.id = identify_file(u.text);
      u.where = places.of(node.name, p.name);
      uses.push_back(std::move(u));
    }
  }
  std::stable_sort(uses.begin(), uses.end(), [](const file_use& a, const file_use& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  });
  struct earlier_uses {
    const file_use* first = nullptr;
    const file_use* first_writer = nullptr;
  };
  std::map<std::string, earlier_uses> seen;
  for (const file_use& u : uses) {
    if (sink.full()) return;
    if (u.id.special) continue;
    if (writes(u) && u.node->attributes.replicas > 1)
      sink.error(diagnostic_code::file_conflict, u.where,
                 who(u) + " runs " + std::to_string(u.node->attributes.replicas)
                   + " replicas, each of which would write '" + u.text + "'",
                 "a step that writes a file runs as one replica");
    auto& e = seen[file_key(u.id)];
    const file_use* other = writes(u) ? e.first : e.first_writer;
    if (other) report(u, *other, sink);
    if (!e.first) e.first = &u;
    if (!e.first_writer && writes(u)) e.first_writer = &u;
  }
}

} // namespace conveyor::dsl
