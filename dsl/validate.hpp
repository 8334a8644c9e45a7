// Stage 3: checks a parsed file against the kinds' schemas: kinds, parameters and their
// types, attributes, defaults, duplicate names, edges (nodes, ports, message types), cycles.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostic_sink.hpp"
#include "dsl/evaluate.hpp"
#include "dsl/schema.hpp"

namespace conveyor::dsl {

/// Reports every problem to `sink`; the file lowers cleanly iff it adds no error.
void validate(const ast::file& file, const schema_catalog& kinds, const param_table& params,
              substitution_budget& budget, diagnostic_sink& sink);

} // namespace conveyor::dsl
