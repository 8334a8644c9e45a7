// The validated, lowered graph: what the runtime consumes. Every parameter is
// resolved (params substituted, defaults filled in, types checked), every edge
// names explicit ports, and the runtime attributes of DSL.md are typed fields.
#pragma once

#include "dsl/value.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace conveyor::dsl {

/// Where something was written: 1-based line and column.
struct source_location {
  std::string file;
  int line = 0;
  int column = 0;
};

enum class restart_policy { on_failure, always, never };
enum class restart_strategy { one_for_one, rest_for_one, one_for_all };

std::string to_string(restart_policy p);
std::string to_string(restart_strategy s);

/// The attributes every node takes (DSL.md), with their defaults.
struct node_attributes {
  int replicas = 1;
  restart_policy restart = restart_policy::on_failure;
  restart_strategy strategy = restart_strategy::one_for_one;
  int max_restarts = 3;
  std::int64_t restart_window_ns = 60'000'000'000;
  std::int64_t backoff_ns = 100'000'000;
  /// Batches in flight on each input edge (the edge's credit).
  int buffer = 8;
  /// Placement: a node label or name the step must run on; empty: any node.
  std::string on;
  int gpus = 0;
};

struct node_spec {
  std::string name;
  std::string kind;
  /// Every parameter the kind declares that has a value (given or default), by name.
  std::map<std::string, value> params;
  node_attributes attributes;
  /// How many instances of the node run: its kind's rule (a trainer's `devices`) or its
  /// `replicas` attribute, resolved once when the graph is lowered
  /// (schema_catalog::instances_of). Everything after compilation reads it here.
  int instances = 1;
  source_location location;
};

struct edge_spec {
  std::string from_node;
  std::string from_port;
  std::string to_node;
  std::string to_port;
  /// The message type both ports carry ("batch", "model").
  std::string message_type;
  source_location location;
};

struct graph_spec {
  std::string name;
  /// Final values of the graph's params, after `--set` overrides.
  std::map<std::string, value> params;
  /// In the order the file declares them.
  std::vector<node_spec> nodes;
  std::vector<edge_spec> edges;

  const node_spec* find_node(const std::string& n) const;
};

/// Attribute-wise equality (every field but `location`).
bool operator==(const node_attributes& a, const node_attributes& b);
bool operator!=(const node_attributes& a, const node_attributes& b);

/// True if the graphs are equal ignoring every `source_location`: the round-trip check
/// (parse, print with to_source, parse again) compares with this.
bool equal_ignoring_locations(const graph_spec& a, const graph_spec& b);

} // namespace conveyor::dsl
