// Values of the graph language: what a parameter, attribute or list element can hold.
// Plain data; no parsing here (see parser.cpp) and no knowledge of actors.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace conveyor::dsl {

/// A time span written as `500us`, `200ms`, `2s`, `5m` or `1h`.
struct duration_value {
  std::int64_t nanoseconds = 0;
  friend bool operator==(const duration_value& a, const duration_value& b) {
    return a.nanoseconds == b.nanoseconds;
  }
};

/// A byte count written as `64KiB`, `512MiB`, `2GiB` (also `B`, `KB`, `MB`, `GB`).
struct size_value {
  std::uint64_t bytes = 0;
  friend bool operator==(const size_value& a, const size_value& b) { return a.bytes == b.bytes; }
};

struct value;
using list_value = std::vector<value>;

/// One value. Integers and floating-point numbers stay distinct so that printing
/// round-trips; a parameter declared `number` accepts both.
struct value {
  std::variant<bool, std::int64_t, double, std::string, duration_value, size_value, list_value>
    data;

  value() : data(false) {}
  value(bool b) : data(b) {}
  value(int i) : data(std::int64_t{i}) {}
  value(std::int64_t i) : data(i) {}
  value(double d) : data(d) {}
  value(const char* s) : data(std::string{s}) {}
  value(std::string s) : data(std::move(s)) {}
  value(duration_value d) : data(d) {}
  value(size_value s) : data(s) {}
  value(list_value l) : data(std::move(l)) {}

  bool is_bool() const { return std::holds_alternative<bool>(data); }
  bool is_integer() const { return std::holds_alternative<std::int64_t>(data); }
  bool is_float() const { return std::holds_alternative<double>(data); }
  bool is_number() const { return is_integer() || is_float(); }
  bool is_string() const { return std::holds_alternative<std::string>(data); }
  bool is_duration() const { return std::holds_alternative<duration_value>(data); }
  bool is_size() const { return std::holds_alternative<size_value>(data); }
  bool is_list() const { return std::holds_alternative<list_value>(data); }

  bool as_bool() const { return std::get<bool>(data); }
  std::int64_t as_integer() const { return std::get<std::int64_t>(data); }
  /// Integer or float, as a double.
  double as_number() const {
    return is_integer() ? static_cast<double>(as_integer()) : std::get<double>(data);
  }
  const std::string& as_string() const { return std::get<std::string>(data); }
  duration_value as_duration() const { return std::get<duration_value>(data); }
  size_value as_size() const { return std::get<size_value>(data); }
  const list_value& as_list() const { return std::get<list_value>(data); }

  friend bool operator==(const value& a, const value& b) { return a.data == b.data; }
  friend bool operator!=(const value& a, const value& b) { return !(a == b); }
};

/// Prints a value in the language's own syntax, so that the printout parses back
/// to an equal value (strings quoted and escaped, floats with enough digits,
/// durations and sizes with the largest exact unit).
std::string to_source(const value& v);

/// Short name of the value's type for messages: "string", "integer", "list", ...
std::string type_name(const value& v);

} // namespace conveyor::dsl
