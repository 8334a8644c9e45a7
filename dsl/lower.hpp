// Stage 4: a validated file to the graph spec the runtime consumes.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostic_sink.hpp"
#include "dsl/evaluate.hpp"
#include "dsl/graph_spec.hpp"
#include "dsl/schema.hpp"

#include <string>

namespace conveyor::dsl {

/// Precondition: validate() reported no error for `file`. Node params are the given values
/// (params substituted), then defaults-block values, then the kinds' defaults; attributes
/// start from node_attributes{}, then the defaults block, then the node's own. Each node's
/// instance count and its kind's check of its values (schema_catalog::instances_of,
/// check_params) are asked here; what they refuse goes to `sink` as `invalid_parameter`
/// at the parameter's value, and the spec is then not to be used.
graph_spec lower(const ast::file& file, const schema_catalog& kinds, const param_table& params,
                 const std::string& file_name, diagnostic_sink& sink);

} // namespace conveyor::dsl
