// The language's public entry points: graph text in, a graph spec or diagnostics out.
// Stages (one file each): lexer -> parser (AST) -> validation -> lowering.
// Rules:
// - never throws on bad input, never crashes, never allocates without bound
//   (input larger than `max_source_bytes` is refused with a diagnostic);
// - reports every independent error in one call;
// - knows nothing of actors: kinds come from the `schema_catalog` it is given.
#pragma once

#include "dsl/graph_spec.hpp"
#include "dsl/schema.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::dsl {

enum class severity { error, warning };

/// Distinct codes so tests (and tools) can tell errors apart without parsing text.
enum class diagnostic_code {
  syntax,
  unknown_kind,
  unknown_parameter,
  missing_parameter,
  mistyped_parameter,
  duplicate_node,
  duplicate_parameter,
  unknown_node,
  unknown_port,
  port_type_mismatch,
  cycle,
  unknown_param_reference,
  unknown_override,
  bad_override,
  too_large,
  file_conflict,
  /// A value of the right type that its kind refuses (a range, a format).
  invalid_parameter,
  /// The batches of one source reach a step by more than one path (see validate.cpp).
  merging_paths,
};

std::string to_string(diagnostic_code c);

struct diagnostic {
  severity level = severity::error;
  diagnostic_code code = diagnostic_code::syntax;
  source_location location;
  /// One line, no trailing period: "unknown parameter 'epoch' for trainer".
  std::string message;
  /// Optional: "did you mean 'epochs'?"
  std::string hint;
  /// Length of the offending text at `location`, for the caret line (at least 1).
  int length = 1;
};

struct compile_options {
  std::string file_name = "<input>";
  /// `--set NAME=VALUE` overrides: VALUE is parsed as a language value and must
  /// have the type of the param's declared value (an integer is accepted for a float).
  std::map<std::string, std::string> overrides;
  /// Larger sources are refused with a `too_large` diagnostic.
  std::size_t max_source_bytes = 4 * 1024 * 1024;
};

struct compile_result {
  /// Present when there are no errors (warnings allowed).
  std::optional<graph_spec> spec;
  std::vector<diagnostic> diagnostics;
  bool ok() const { return spec.has_value(); }
};

/// Lexes, parses, validates and lowers `source`.
compile_result compile(std::string_view source, const schema_catalog& kinds,
                       const compile_options& options = {});

/// Renders diagnostics as a compiler does:
///   file:line:col: error: message
///     <the source line>
///     <spaces>^~~~
///   hint: did you mean 'epochs'?
std::string format_diagnostics(const std::vector<diagnostic>& diagnostics,
                               std::string_view source);

/// Graphviz DOT of a graph: one box per node (name, kind, replicas), edges labelled
/// with their ports where they are not the defaults, message types by colour/style.
std::string to_dot(const graph_spec& graph, const schema_catalog& kinds);

/// Prints a graph spec back as graph-language text (all params explicit). Parsing the
/// printout and lowering it again gives an equal spec: the round-trip contract.
std::string to_source(const graph_spec& graph);

} // namespace conveyor::dsl
