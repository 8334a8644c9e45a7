// Reading and compiling a graph file for the commands that take one.
#pragma once

#include "dsl/front_end.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::cli {

struct loaded_graph {
  std::string file_name;
  std::string source;
  std::map<std::string, std::string> overrides;
  dsl::graph_spec spec;
};

/// Parses `--set NAME=VALUE` arguments; prints an error and returns nullopt for one
/// without '=' or a NAME given twice (which value was meant is unclear).
std::optional<std::map<std::string, std::string>>
parse_overrides(const std::vector<std::string>& assignments);

/// Reads and compiles `path`. On failure prints the diagnostics (or the I/O error) to
/// stderr and returns nullopt; warnings are printed either way.
std::optional<loaded_graph> load_graph(const std::string& path,
                                       const std::map<std::string, std::string>& overrides,
                                       const dsl::schema_catalog& kinds);

/// Compiles a graph's text as `load_graph` compiles a file's (`path` names it in the
/// diagnostics).
std::optional<loaded_graph> compile_graph(const std::string& path, const std::string& source,
                                          const std::map<std::string, std::string>& overrides,
                                          const dsl::schema_catalog& kinds);

} // namespace conveyor::cli
