// Small helpers shared by the dsl tests: compile against the test catalog and look at
// the result as text.
#pragma once

#include "test_catalog.hpp"

#include "dsl/front_end.hpp"

#include <boost/test/unit_test.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace conveyor::dsl {
/// Lets Boost.Test print values in failed assertions.
inline std::ostream& operator<<(std::ostream& os, const value& v) { return os << to_source(v); }
} // namespace conveyor::dsl

namespace conveyor::dsl::testing {

inline const test_catalog& catalog() {
  static const test_catalog c;
  return c;
}

inline compile_result compile_text(const std::string& src,
                                   std::map<std::string, std::string> overrides = {}) {
  compile_options o;
  o.file_name = "g.flow";
  o.overrides = std::move(overrides);
  return compile(src, catalog(), o);
}

/// Compiles and requires success, printing the diagnostics if it fails.
inline graph_spec compile_ok(const std::string& src,
                             std::map<std::string, std::string> overrides = {}) {
  auto r = compile_text(src, std::move(overrides));
  BOOST_REQUIRE_MESSAGE(r.ok(), "expected success, got:\n" + format_diagnostics(r.diagnostics, src));
  return *r.spec;
}

/// "line:col code: message" for each diagnostic, joined by newlines.
inline std::string summary(const compile_result& r) {
  std::string out;
  for (const auto& d : r.diagnostics) {
    if (!out.empty()) out += "\n";
    out += std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + " "
           + to_string(d.code) + ": " + d.message;
  }
  return out;
}

} // namespace conveyor::dsl::testing
