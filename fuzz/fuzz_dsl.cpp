// libFuzzer target for the graph language: any bytes go through compile() with the test
// catalog; on success the outputs (diagnostics text, DOT, printout) are produced and the
// printout must compile back to an equal spec. An input starting with '@' carries one
// `--set` override on its first line ("@NAME=VALUE\n<source>").
#include "test_catalog.hpp"

#include "dsl/front_end.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor::dsl;
  static const testing::test_catalog catalog;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  compile_options options;
  options.file_name = "fuzz.flow";
  options.max_source_bytes = 64 * 1024;
  if (!input.empty() && input.front() == '@') {
    auto eol = input.find('\n');
    std::string_view line = input.substr(1, eol == std::string_view::npos ? input.npos : eol - 1);
    auto eq = line.find('=');
    if (eq != std::string_view::npos)
      options.overrides.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    input = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
  }
  auto result = compile(input, catalog, options);
  std::string text = format_diagnostics(result.diagnostics, input);
  if (!result.ok()) {
    if (result.diagnostics.empty()) std::abort(); // a failure must say why
    return 0;
  }
  std::string dot = to_dot(*result.spec, catalog);
  std::string printed = to_source(*result.spec);
  compile_options again_options;
  auto again = compile(printed, catalog, again_options);
  if (!again.ok() || !equal_ignoring_locations(*result.spec, *again.spec)) std::abort();
  return 0;
}
