// Attributes: a fixed table of nine names; checks are per name (integer ranges, choice
// strings, durations), and apply() converts to the typed node_attributes fields.
#include "dsl/attributes.hpp"

#include <limits>

namespace conveyor::dsl {

namespace {

const char* const restart_choices[] = {"on_failure", "always", "never"};
const char* const strategy_choices[] = {"one_for_one", "rest_for_one", "one_for_all"};

template <std::size_t N>
int choice_index(const char* const (&choices)[N], const std::string& s) {
  for (std::size_t i = 0; i < N; ++i)
    if (s == choices[i]) return static_cast<int>(i);
  return -1;
}

template <std::size_t N>
std::string choice_list(const char* const (&choices)[N]) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) out += std::string(i ? ", " : "") + "\"" + choices[i] + "\"";
  return out;
}

std::string got(const value& v) {
  if (v.is_list()) return "a list";
  return type_name(v) + " " + to_source(v);
}

std::string check_int(const value& v, std::int64_t min) {
  if (!v.is_integer() || v.as_integer() < min || v.as_integer() > std::numeric_limits<int>::max())
    return "expects an integer >= " + std::to_string(min) + ", got " + got(v);
  return {};
}

} // namespace

const std::vector<std::string>& attribute_names() {
  static const std::vector<std::string> names = {
    "replicas", "restart", "strategy", "max_restarts", "restart_window",
    "backoff",  "buffer",  "on",       "gpus"};
  return names;
}

bool is_attribute(std::string_view key) {
  for (const auto& n : attribute_names())
    if (n == key) return true;
  return false;
}

std::string check_attribute(std::string_view key, const value& v) {
  if (key == "replicas" || key == "buffer") return check_int(v, 1);
  if (key == "max_restarts" || key == "gpus") return check_int(v, 0);
  if (key == "restart_window" || key == "backoff") {
    if (!v.is_duration()) return "expects a duration (e.g. 200ms), got " + got(v);
    return {};
  }
  if (key == "on") {
    if (!v.is_string()) return "expects a string (a node label or name), got " + got(v);
    return {};
  }
  if (key == "restart") {
    if (!v.is_string() || choice_index(restart_choices, v.as_string()) < 0)
      return "expects one of " + choice_list(restart_choices) + ", got " + got(v);
    return {};
  }
  if (key == "strategy") {
    if (!v.is_string() || choice_index(strategy_choices, v.as_string()) < 0)
      return "expects one of " + choice_list(strategy_choices) + ", got " + got(v);
    return {};
  }
  return "is not an attribute";
}

void apply_attribute(node_attributes& a, std::string_view key, const value& v) {
  if (key == "replicas") a.replicas = static_cast<int>(v.as_integer());
  else if (key == "buffer") a.buffer = static_cast<int>(v.as_integer());
  else if (key == "max_restarts") a.max_restarts = static_cast<int>(v.as_integer());
  else if (key == "gpus") a.gpus = static_cast<int>(v.as_integer());
  else if (key == "restart_window") a.restart_window_ns = v.as_duration().nanoseconds;
  else if (key == "backoff") a.backoff_ns = v.as_duration().nanoseconds;
  else if (key == "on") a.on = v.as_string();
  else if (key == "restart")
    a.restart = static_cast<restart_policy>(choice_index(restart_choices, v.as_string()));
  else if (key == "strategy")
    a.strategy = static_cast<restart_strategy>(choice_index(strategy_choices, v.as_string()));
}

} // namespace conveyor::dsl
