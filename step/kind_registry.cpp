#include "step/kind_registry.hpp"

#include <stdexcept>

namespace conveyor {

namespace {

[[noreturn]] void bad_param(const std::string& key, const char* what) {
  throw step_failure("parameter '" + key + "' " + what);
}

} // namespace

const dsl::value& step_params::get(const std::string& key) const {
  auto i = values_.find(key);
  if (i == values_.end())
    bad_param(key, "is not set");
  return i->second;
}

std::string step_params::get_string(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_string())
    bad_param(key, "is not a string");
  return v.as_string();
}

std::int64_t step_params::get_integer(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_integer())
    bad_param(key, "is not an integer");
  return v.as_integer();
}

double step_params::get_number(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_number())
    bad_param(key, "is not a number");
  return v.as_number();
}

bool step_params::get_bool(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_bool())
    bad_param(key, "is not a boolean");
  return v.as_bool();
}

std::int64_t step_params::get_duration_ns(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_duration())
    bad_param(key, "is not a duration");
  return v.as_duration().nanoseconds;
}

std::uint64_t step_params::get_size_bytes(const std::string& key) const {
  const auto& v = get(key);
  if (v.is_size())
    return v.as_size().bytes;
  if (v.is_integer() && v.as_integer() >= 0)
    return static_cast<std::uint64_t>(v.as_integer());
  bad_param(key, "is not a size");
}

std::vector<std::string> step_params::get_strings(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_list())
    bad_param(key, "is not a list");
  std::vector<std::string> out;
  for (const auto& e : v.as_list()) {
    if (!e.is_string())
      bad_param(key, "is not a list of strings");
    out.push_back(e.as_string());
  }
  return out;
}

std::vector<double> step_params::get_numbers(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_list())
    bad_param(key, "is not a list");
  std::vector<double> out;
  for (const auto& e : v.as_list()) {
    if (!e.is_number())
      bad_param(key, "is not a list of numbers");
    out.push_back(e.as_number());
  }
  return out;
}

std::vector<std::int64_t> step_params::get_integers(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_list())
    bad_param(key, "is not a list");
  std::vector<std::int64_t> out;
  for (const auto& e : v.as_list()) {
    if (!e.is_integer())
      bad_param(key, "is not a list of integers");
    out.push_back(e.as_integer());
  }
  return out;
}

void kind_registry::add(kind_entry entry) {
  auto name = entry.schema.name;
  if (!entries_.emplace(name, std::move(entry)).second)
    throw std::logic_error("actor kind '" + name + "' registered twice");
}

const kind_entry* kind_registry::find(std::string_view name) const {
  auto i = entries_.find(name);
  return i == entries_.end() ? nullptr : &i->second;
}

dsl::instance_count kind_registry::instances_of(const dsl::node_spec& node) const {
  auto e = find(node.kind);
  if (e == nullptr || !e->instances)
    return schema_catalog::instances_of(node);
  const auto& rule = *e->instances;
  try {
    return dsl::instance_count{rule.count(step_params{node.params}), std::nullopt};
  } catch (const std::exception& x) {
    return dsl::instance_count{0, dsl::param_problem{rule.parameter, x.what()}};
  }
}

std::optional<dsl::param_problem> kind_registry::check_params(const dsl::node_spec& node) const {
  auto e = find(node.kind);
  if (e == nullptr || !e->factory)
    return std::nullopt;
  step_config config;
  config.name = node.name;
  config.params = step_params{node.params};
  config.replicas = node.instances;
  config.replicas_attribute = node.attributes.replicas;
  try {
    e->factory(config);
    return std::nullopt;
  } catch (const std::exception& x) {
    dsl::param_problem problem{{}, x.what()};
    auto first = std::string::npos;
    for (const auto& p : e->schema.params) {
      auto at = problem.message.find("'" + p.name + "'");
      if (at < first) {
        first = at;
        problem.parameter = p.name;
      }
    }
    return problem;
  }
}

const dsl::kind_schema* kind_registry::find_kind(std::string_view name) const {
  auto e = find(name);
  return e ? &e->schema : nullptr;
}

std::vector<std::string> kind_registry::kind_names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_)
    out.push_back(name);
  return out;
}

} // namespace conveyor
