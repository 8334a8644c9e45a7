// Stage 2's output: the syntax tree of a graph file, statements in source order, every
// name and value with its span. No validation has happened yet (kinds, params, ports).
#pragma once

#include "dsl/lexer.hpp"
#include "dsl/span.hpp"
#include "dsl/value.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace conveyor::dsl::ast {

/// A value as written: a literal, a `$name` reference or a list of expressions.
/// String literals keep their `$name` references to be substituted later.
struct expr {
  enum class kind { literal, reference, list };
  kind k = kind::literal;
  value literal;                  // kind::literal
  std::vector<string_ref> refs;   // kind::literal holding a string: refs inside it
  std::string reference;          // kind::reference: the param name
  std::vector<expr> items;        // kind::list
  span where;
};

/// `key = value` inside braces.
struct pair {
  std::string key;
  span key_where;
  expr val;
};

struct graph_stmt {
  std::string name;
  span where;
};

struct param_stmt {
  std::string name;
  span name_where;
  expr val;
};

struct defaults_stmt {
  std::vector<pair> pairs;
  span where;
};

struct node_stmt {
  std::string name;
  span name_where;
  std::string kind;
  span kind_where;
  std::vector<pair> pairs;
  /// A pair in the body failed to parse: skip the missing-parameter check (it may be there).
  bool body_had_errors = false;
};

struct endpoint {
  std::string node;
  span node_where;
  std::optional<std::string> port;
  span port_where;
};

/// `a -> b.p -> c`: endpoints in order; arrows[i] is the `->` between endpoints i and i+1.
struct edge_chain {
  std::vector<endpoint> endpoints;
  std::vector<span> arrows;
};

using statement = std::variant<graph_stmt, param_stmt, defaults_stmt, node_stmt, edge_chain>;

struct file {
  std::vector<statement> statements;
  /// Names of nodes whose statement did not parse: edges to them are not reported again.
  std::vector<std::string> broken_nodes;
};

/// Canonical one-statement-per-line printout, for tests and debugging:
///   graph g / param x = 1 / defaults { a = 1, b = 2 } / node n = k { a = $x } / a.p -> b
std::string to_string(const expr& e);
std::string to_string(const file& f);

} // namespace conveyor::dsl::ast
