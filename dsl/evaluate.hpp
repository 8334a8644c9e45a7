// Turns an AST expression into a value: `$name` references and `$name` inside strings are
// replaced by the params' values. Used by params resolution, validation and lowering.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostic_sink.hpp"
#include "dsl/value.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace conveyor::dsl {

/// The graph's params as resolved so far.
struct param_table {
  std::map<std::string, value> values;
  /// Params whose own value had an error: references to them are not reported again.
  std::set<std::string> failed;
  /// Every param the file declares (for hints on references to later ones).
  std::vector<std::string> declared;
};

/// Caps what substitution may produce across one compile (limits::max_substituted_size):
/// string characters plus list elements.
struct substitution_budget {
  std::size_t used = 0;
  bool reported = false;
};

/// Evaluates `e` against `params`. Errors (unknown_param_reference, too_large) go to
/// `sink` if it is not null; the result is nullopt after any error.
std::optional<value> evaluate(const ast::expr& e, const param_table& params,
                              substitution_budget& budget, diagnostic_sink* sink);

/// The text a value has when substituted into a string: strings raw, others as written.
std::string substitution_text(const value& v);

} // namespace conveyor::dsl
