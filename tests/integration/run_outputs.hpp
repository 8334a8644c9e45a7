// Reading what a `conveyor run` left behind, for the integration tests: the JSON report,
// one step's entry in it, the ids of a CSV it wrote; and writing the files it reads.
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>

namespace conveyor::testing {

/// Writes `text` to `path`; returns `path`.
std::string write_file(const std::string& path, const std::string& text);
/// The report `conveyor run --report` wrote.
nlohmann::json load_report(const std::string& path);
/// The entry of step `name` in a report (a copy: safe on a temporary report); throws if
/// there is none.
nlohmann::json step_of(const nlohmann::json& report, const std::string& name);
/// The ids (first column, integers) of a CSV after its header; empty if it does not
/// exist yet.
std::multiset<long> ids_in(const std::string& csv);

} // namespace conveyor::testing
