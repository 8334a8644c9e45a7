// The runtime attributes every node takes (DSL.md's table): names, type checks, and how a
// checked value lands in node_attributes. Attributes win over kind parameters of the same name.
#pragma once

#include "dsl/graph_spec.hpp"
#include "dsl/value.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace conveyor::dsl {

/// replicas, restart, strategy, max_restarts, restart_window, backoff, buffer, on, gpus.
const std::vector<std::string>& attribute_names();

bool is_attribute(std::string_view key);

/// Empty if `v` is valid for attribute `key`; else what it expects, as
/// "expects an integer >= 1, got 0".
std::string check_attribute(std::string_view key, const value& v);

/// Stores a value that check_attribute accepted.
void apply_attribute(node_attributes& a, std::string_view key, const value& v);

} // namespace conveyor::dsl
