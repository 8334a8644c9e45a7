// Questions about a graph's shape that supervision and delivery ask: which steps are
// sources, which are terminal for batches, what lies downstream or upstream of a
// step, and the instance names of replicated steps. Plain C++ over a graph_spec.
#pragma once

#include "dsl/graph_spec.hpp"
#include "dsl/schema.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace conveyor {

/// Instance name of replica `replica` of `step`: "step" for replica 0, "step#i" after.
std::string instance_name(const std::string& step, int replica);

class topology {
public:
  topology(const dsl::graph_spec& graph, const dsl::schema_catalog& kinds);

  /// Steps whose kind has no input ports.
  bool is_source(const std::string& step) const;
  /// Steps that consume batches but have no connected batch output: they acknowledge
  /// what they consume.
  bool is_terminal(const std::string& step) const;
  /// Steps reachable from `step` along edges (not including `step`).
  std::set<std::string> downstream_of(const std::string& step) const;
  /// Source steps from which `step` is reachable (including `step` if it is a source).
  std::set<std::string> sources_upstream_of(const std::string& step) const;
  /// Terminal steps reachable from `source` along batch edges.
  std::set<std::string> terminals_reached_from(const std::string& source) const;
  /// Steps directly connected to `step` by an edge, either way.
  std::set<std::string> neighbours_of(const std::string& step) const;

  const std::vector<std::string>& steps() const { return steps_; }

private:
  std::vector<std::string> steps_;
  std::set<std::string> sources_;
  std::set<std::string> terminals_;
  std::map<std::string, std::set<std::string>> out_;
  std::map<std::string, std::set<std::string>> in_;
  std::map<std::string, std::set<std::string>> batch_out_;
};

} // namespace conveyor
