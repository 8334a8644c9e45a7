// Small helpers that keep the kinds' schema declarations short and uniform:
// one line per parameter, with its type, default and the one-line doc.
#pragma once

#include "dsl/schema.hpp"

#include <string>
#include <utility>
#include <vector>

namespace conveyor {

/// A parameter the graph must set.
inline dsl::param_schema required_param(std::string name, dsl::param_type type,
                                        std::string doc) {
  dsl::param_schema p;
  p.name = std::move(name);
  p.type = type;
  p.required = true;
  p.doc = std::move(doc);
  return p;
}

/// A parameter with a default the graph may override.
inline dsl::param_schema optional_param(std::string name, dsl::param_type type,
                                        dsl::value default_value, std::string doc) {
  dsl::param_schema p;
  p.name = std::move(name);
  p.type = type;
  p.default_value = std::move(default_value);
  p.doc = std::move(doc);
  return p;
}

/// A string parameter restricted to `choices`.
inline dsl::param_schema choice_param(std::string name, std::vector<std::string> choices,
                                      std::string default_value, std::string doc) {
  auto p = optional_param(std::move(name), dsl::param_type::string,
                          dsl::value{std::move(default_value)}, std::move(doc));
  p.choices = std::move(choices);
  return p;
}

/// A port carrying batches.
inline dsl::port_schema batch_port(std::string name) {
  return dsl::port_schema{std::move(name), "batch"};
}

/// An empty list default for list parameters.
inline dsl::value empty_list() { return dsl::value{dsl::list_value{}}; }

} // namespace conveyor
