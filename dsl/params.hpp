// Resolves the graph's params: each `param NAME = VALUE` in order (a param may use the
// params declared before it), with `--set NAME=VALUE` overrides applied as it goes.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostic_sink.hpp"
#include "dsl/evaluate.hpp"

#include <map>
#include <string>

namespace conveyor::dsl {

/// Reports duplicate_parameter, unknown_param_reference, unknown_override and bad_override.
param_table resolve_params(const ast::file& file,
                           const std::map<std::string, std::string>& overrides,
                           substitution_budget& budget, diagnostic_sink& sink);

} // namespace conveyor::dsl
