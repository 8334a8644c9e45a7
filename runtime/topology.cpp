// Adjacency sets built once from the edges; reachability by depth-first search
// (graphs are small: tens of steps), so no caching is needed.
#include "runtime/topology.hpp"

#include <functional>

namespace conveyor {

std::string instance_name(const std::string& step, int replica) {
  return replica == 0 ? step : step + "#" + std::to_string(replica);
}

namespace {

std::set<std::string> reach(const std::map<std::string, std::set<std::string>>& adjacency,
                            const std::string& from) {
  std::set<std::string> seen;
  std::vector<std::string> todo{from};
  while (!todo.empty()) {
    auto s = todo.back();
    todo.pop_back();
    auto i = adjacency.find(s);
    if (i == adjacency.end())
      continue;
    for (const auto& next : i->second)
      if (seen.insert(next).second)
        todo.push_back(next);
  }
  seen.erase(from);
  return seen;
}

} // namespace

topology::topology(const dsl::graph_spec& graph, const dsl::schema_catalog& kinds) {
  for (const auto& n : graph.nodes) {
    steps_.push_back(n.name);
    auto schema = kinds.find_kind(n.kind);
    bool consumes_batches = false;
    if (schema != nullptr) {
      if (schema->inputs.empty())
        sources_.insert(n.name);
      for (const auto& p : schema->inputs)
        consumes_batches = consumes_batches || p.message_type == "batch";
    }
    if (consumes_batches)
      terminals_.insert(n.name);
  }
  for (const auto& e : graph.edges) {
    out_[e.from_node].insert(e.to_node);
    in_[e.to_node].insert(e.from_node);
    if (e.message_type == "batch") {
      batch_out_[e.from_node].insert(e.to_node);
      terminals_.erase(e.from_node);
    }
  }
}

bool topology::is_source(const std::string& step) const {
  return sources_.count(step) != 0;
}

bool topology::is_terminal(const std::string& step) const {
  return terminals_.count(step) != 0;
}

std::set<std::string> topology::downstream_of(const std::string& step) const {
  return reach(out_, step);
}

std::set<std::string> topology::sources_upstream_of(const std::string& step) const {
  std::set<std::string> result;
  auto up = reach(in_, step);
  up.insert(step);
  for (const auto& s : up)
    if (is_source(s))
      result.insert(s);
  return result;
}

std::set<std::string> topology::terminals_reached_from(const std::string& source) const {
  std::set<std::string> result;
  for (const auto& s : reach(batch_out_, source))
    if (is_terminal(s))
      result.insert(s);
  return result;
}

std::set<std::string> topology::neighbours_of(const std::string& step) const {
  std::set<std::string> result;
  if (auto i = out_.find(step); i != out_.end())
    result.insert(i->second.begin(), i->second.end());
  if (auto i = in_.find(step); i != in_.end())
    result.insert(i->second.begin(), i->second.end());
  return result;
}

} // namespace conveyor
