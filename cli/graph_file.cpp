#include "cli/graph_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace conveyor::cli {

std::optional<std::map<std::string, std::string>>
parse_overrides(const std::vector<std::string>& assignments) {
  std::map<std::string, std::string> out;
  for (const auto& a : assignments) {
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "error: --set expects NAME=VALUE, got '" << a << "'\n";
      return std::nullopt;
    }
    auto [it, fresh] = out.emplace(a.substr(0, eq), a.substr(eq + 1));
    if (!fresh) {
      std::cerr << "error: --set " << it->first << " is given twice ('" << it->second
                << "' and '" << a.substr(eq + 1) << "'); give each param once\n";
      return std::nullopt;
    }
  }
  return out;
}

std::optional<loaded_graph> load_graph(const std::string& path,
                                       const std::map<std::string, std::string>& overrides,
                                       const dsl::schema_catalog& kinds) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot open graph file '" << path << "': " << std::strerror(errno)
              << '\n';
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return compile_graph(path, text.str(), overrides, kinds);
}

std::optional<loaded_graph> compile_graph(const std::string& path, const std::string& source,
                                          const std::map<std::string, std::string>& overrides,
                                          const dsl::schema_catalog& kinds) {
  loaded_graph g;
  g.file_name = path;
  g.source = source;
  g.overrides = overrides;
  dsl::compile_options options;
  options.file_name = path;
  options.overrides = overrides;
  auto result = dsl::compile(g.source, kinds, options);
  if (!result.diagnostics.empty())
    std::cerr << dsl::format_diagnostics(result.diagnostics, g.source);
  if (!result.ok())
    return std::nullopt;
  g.spec = std::move(*result.spec);
  return g;
}

} // namespace conveyor::cli
