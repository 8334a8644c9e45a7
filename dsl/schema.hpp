// What a node kind declares about itself: its parameters (types, defaults, required)
// and its ports (names and message types). The language validates graph files
// against these declarations; it does not know where they come from (the runtime's
// registry of actor kinds supplies them through `schema_catalog`).
#pragma once

#include "dsl/value.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::dsl {

/// The type a parameter accepts.
/// - `number` accepts integers and floats; `integer` accepts integers only.
/// - `list_of_*` accept lists whose every element has the element type
///   (an integer is accepted where numbers are expected).
/// - `any` accepts every value (for kinds that interpret values themselves).
enum class param_type {
  boolean,
  integer,
  number,
  string,
  duration,
  size,
  list_of_integer,
  list_of_number,
  list_of_string,
  any,
};

/// What a string parameter's value names, for the check that no two steps of a graph
/// collide on one file (dsl/file_conflicts.hpp). An empty string names no file.
enum class param_role {
  none,
  reads_file,  ///< a file the step reads
  writes_file, ///< a file the step creates or truncates and writes
};

/// Name of a parameter type as written in diagnostics and docs ("list of number").
std::string to_string(param_type t);

/// True if `v` is acceptable for a parameter of type `t`.
bool accepts(param_type t, const value& v);

struct param_schema {
  std::string name;
  param_type type = param_type::any;
  /// Required parameters have no default; a graph that omits one is an error.
  bool required = false;
  /// Used when the graph leaves an optional parameter out.
  std::optional<value> default_value;
  /// For string parameters with a fixed set of choices ("relu", "tanh"); empty: any string.
  std::vector<std::string> choices;
  /// One line for `conveyor kinds` and the docs.
  std::string doc;
  /// For string parameters that name files.
  param_role role = param_role::none;
};

/// `p` as a parameter that names a file its step reads (or writes).
inline param_schema reads_file(param_schema p) {
  p.role = param_role::reads_file;
  return p;
}
inline param_schema writes_file(param_schema p) {
  p.role = param_role::writes_file;
  return p;
}

struct port_schema {
  std::string name;
  /// What travels on the port: "batch" (rows) or "model" (trained models).
  /// An edge connects an output to an input of the same message type.
  std::string message_type;
};

struct kind_schema {
  std::string name;
  std::string doc;
  std::vector<param_schema> params;
  /// The first input and the first output are the default ports that `a -> b` uses.
  std::vector<port_schema> inputs;
  std::vector<port_schema> outputs;
  /// Replica groups (data-parallel trainers): every replica receives every input batch,
  /// replicas may message each other, and a failure of one restarts them all.
  bool replica_group = false;

  const param_schema* find_param(std::string_view n) const;
  const port_schema* find_input(std::string_view n) const;
  const port_schema* find_output(std::string_view n) const;
};

struct node_spec;

/// A value of the right type that a kind refuses: the parameter at fault (empty: the
/// node as a whole) and why, in one line.
struct param_problem {
  std::string parameter;
  std::string message;
};

/// How many instances of a node run, or why its parameters give no valid count.
struct instance_count {
  int count = 1;
  std::optional<param_problem> problem;
};

/// The set of kinds a graph may use. Implemented by the runtime's registry;
/// tests implement it with a small fixed table.
class schema_catalog {
public:
  virtual ~schema_catalog() = default;
  /// Null if no kind has this name.
  virtual const kind_schema* find_kind(std::string_view name) const = 0;
  /// All kind names, for "did you mean" hints.
  virtual std::vector<std::string> kind_names() const = 0;

  /// Asked once per node when a graph is lowered (its parameters typed and complete):
  /// how many instances it runs. Kinds may derive it from a parameter (a trainer's
  /// `devices = "cpu:4"`); by default it is the node's `replicas` attribute.
  virtual instance_count instances_of(const node_spec& node) const;
  /// Asked once per node after `instances_of`: a problem with parameter values that
  /// their types do not catch (ranges, formats), or nullopt. Default: none.
  virtual std::optional<param_problem> check_params(const node_spec& node) const;
};

} // namespace conveyor::dsl
