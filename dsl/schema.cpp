// Kind schemas: type names for messages, the acceptance rule of each parameter type,
// and linear look-ups by name (kinds declare a handful of params and ports).
#include "dsl/schema.hpp"

#include "dsl/graph_spec.hpp"

namespace conveyor::dsl {

std::string to_string(param_type t) {
  switch (t) {
    case param_type::boolean: return "boolean";
    case param_type::integer: return "integer";
    case param_type::number: return "number";
    case param_type::string: return "string";
    case param_type::duration: return "duration";
    case param_type::size: return "size";
    case param_type::list_of_integer: return "list of integer";
    case param_type::list_of_number: return "list of number";
    case param_type::list_of_string: return "list of string";
    case param_type::any: return "any";
  }
  return "any";
}

namespace {
template <class Pred>
bool all_of(const value& v, Pred p) {
  if (!v.is_list()) return false;
  for (const auto& x : v.as_list())
    if (!p(x)) return false;
  return true;
}
} // namespace

bool accepts(param_type t, const value& v) {
  switch (t) {
    case param_type::boolean: return v.is_bool();
    case param_type::integer: return v.is_integer();
    case param_type::number: return v.is_number();
    case param_type::string: return v.is_string();
    case param_type::duration: return v.is_duration();
    case param_type::size: return v.is_size();
    case param_type::list_of_integer:
      return all_of(v, [](const value& x) { return x.is_integer(); });
    case param_type::list_of_number:
      return all_of(v, [](const value& x) { return x.is_number(); });
    case param_type::list_of_string:
      return all_of(v, [](const value& x) { return x.is_string(); });
    case param_type::any: return true;
  }
  return false;
}

const param_schema* kind_schema::find_param(std::string_view n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

const port_schema* kind_schema::find_input(std::string_view n) const {
  for (const auto& p : inputs)
    if (p.name == n) return &p;
  return nullptr;
}

const port_schema* kind_schema::find_output(std::string_view n) const {
  for (const auto& p : outputs)
    if (p.name == n) return &p;
  return nullptr;
}

instance_count schema_catalog::instances_of(const node_spec& node) const {
  return instance_count{node.attributes.replicas, std::nullopt};
}

std::optional<param_problem> schema_catalog::check_params(const node_spec&) const {
  return std::nullopt;
}

} // namespace conveyor::dsl
