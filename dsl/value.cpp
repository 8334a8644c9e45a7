// Values: printing in the language's own syntax so that lexing the printout gives back
// an equal value (shortest float text that round-trips; largest exact duration/size unit).
#include "dsl/value.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace conveyor::dsl {

namespace {

std::string quote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '$': out += "\\$"; break; // a literal dollar, not a param reference
      default: out += c;
    }
  }
  out += '"';
  return out;
}

std::string print_float(double d) {
  if (std::isnan(d)) return "0.0";
  if (std::isinf(d)) return d > 0 ? "1e308" : "-1e308";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d); // shortest text that reads back as d
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0"; // keep it a float when lexed
  return s;
}

std::string print_duration(std::int64_t ns) {
  struct unit { std::int64_t factor; const char* suffix; };
  static const unit units[] = {{3'600'000'000'000, "h"}, {60'000'000'000, "m"},
                               {1'000'000'000, "s"},     {1'000'000, "ms"},
                               {1'000, "us"},            {1, "ns"}};
  for (const auto& u : units)
    if (ns != 0 && ns % u.factor == 0) return std::to_string(ns / u.factor) + u.suffix;
  return std::to_string(ns) + "ns";
}

std::string print_size(std::uint64_t bytes) {
  struct unit { std::uint64_t factor; const char* suffix; };
  // Largest factor first, binary and decimal interleaved.
  static const unit units[] = {{1ull << 40, "TiB"}, {1'000'000'000'000ull, "TB"},
                               {1ull << 30, "GiB"}, {1'000'000'000ull, "GB"},
                               {1ull << 20, "MiB"}, {1'000'000ull, "MB"},
                               {1ull << 10, "KiB"}, {1'000ull, "KB"}};
  for (const auto& u : units)
    if (bytes != 0 && bytes % u.factor == 0) return std::to_string(bytes / u.factor) + u.suffix;
  return std::to_string(bytes) + "B";
}

} // namespace

std::string to_source(const value& v) {
  struct printer {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return print_float(d); }
    std::string operator()(const std::string& s) const { return quote(s); }
    std::string operator()(duration_value d) const { return print_duration(d.nanoseconds); }
    std::string operator()(size_value s) const { return print_size(s.bytes); }
    std::string operator()(const list_value& l) const {
      std::string out = "[";
      for (std::size_t i = 0; i < l.size(); ++i) {
        if (i != 0) out += ", ";
        out += to_source(l[i]);
      }
      return out + "]";
    }
  };
  return std::visit(printer{}, v.data);
}

std::string type_name(const value& v) {
  struct namer {
    std::string operator()(bool) const { return "boolean"; }
    std::string operator()(std::int64_t) const { return "integer"; }
    std::string operator()(double) const { return "float"; }
    std::string operator()(const std::string&) const { return "string"; }
    std::string operator()(duration_value) const { return "duration"; }
    std::string operator()(size_value) const { return "size"; }
    std::string operator()(const list_value&) const { return "list"; }
  };
  return std::visit(namer{}, v.data);
}

} // namespace conveyor::dsl
