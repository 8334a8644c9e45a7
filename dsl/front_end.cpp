// compile(): the pipeline lexer -> parser -> params -> validate -> lower -> file conflicts,
// every stage reporting into one sink; lowering runs only on a clean file, and its own
// findings (values a kind refuses) and colliding files withhold the spec. Never throws: an
// internal failure (memory) becomes a diagnostic.
#include "dsl/front_end.hpp"

#include "dsl/diagnostic_sink.hpp"
#include "dsl/file_conflicts.hpp"
#include "dsl/lexer.hpp"
#include "dsl/lower.hpp"
#include "dsl/params.hpp"
#include "dsl/parser.hpp"
#include "dsl/validate.hpp"

#include <exception>

namespace conveyor::dsl {

std::string to_string(diagnostic_code c) {
  switch (c) {
    case diagnostic_code::syntax: return "syntax";
    case diagnostic_code::unknown_kind: return "unknown_kind";
    case diagnostic_code::unknown_parameter: return "unknown_parameter";
    case diagnostic_code::missing_parameter: return "missing_parameter";
    case diagnostic_code::mistyped_parameter: return "mistyped_parameter";
    case diagnostic_code::duplicate_node: return "duplicate_node";
    case diagnostic_code::duplicate_parameter: return "duplicate_parameter";
    case diagnostic_code::unknown_node: return "unknown_node";
    case diagnostic_code::unknown_port: return "unknown_port";
    case diagnostic_code::port_type_mismatch: return "port_type_mismatch";
    case diagnostic_code::cycle: return "cycle";
    case diagnostic_code::unknown_param_reference: return "unknown_param_reference";
    case diagnostic_code::unknown_override: return "unknown_override";
    case diagnostic_code::bad_override: return "bad_override";
    case diagnostic_code::too_large: return "too_large";
    case diagnostic_code::file_conflict: return "file_conflict";
    case diagnostic_code::invalid_parameter: return "invalid_parameter";
    case diagnostic_code::merging_paths: return "merging_paths";
  }
  return "syntax";
}

namespace {

compile_result run(std::string_view source, const schema_catalog& kinds,
                   const compile_options& options) {
  compile_result result;
  diagnostic_sink sink{options.file_name};
  if (source.size() > options.max_source_bytes) {
    sink.error(diagnostic_code::too_large, span{1, 1, 1},
               "source is " + std::to_string(source.size()) + " bytes; the limit is "
                 + std::to_string(options.max_source_bytes));
    result.diagnostics = sink.take();
    return result;
  }
  auto tokens = lex(source, sink);
  auto file = parse(tokens, sink);
  tokens.clear();
  tokens.shrink_to_fit();
  substitution_budget budget;
  auto params = resolve_params(file, options.overrides, budget, sink);
  validate(file, kinds, params, budget, sink);
  if (sink.error_count() == 0) {
    auto spec = lower(file, kinds, params, options.file_name, sink);
    if (sink.error_count() == 0) check_file_conflicts(spec, file, kinds, sink);
    if (sink.error_count() == 0) result.spec = std::move(spec);
  }
  result.diagnostics = sink.take();
  return result;
}

} // namespace

compile_result compile(std::string_view source, const schema_catalog& kinds,
                       const compile_options& options) {
  try {
    return run(source, kinds, options);
  } catch (const std::exception& e) {
    compile_result failed;
    diagnostic d;
    d.code = diagnostic_code::too_large;
    d.location = source_location{options.file_name, 0, 0};
    d.message = std::string("internal error while compiling: ") + e.what();
    failed.diagnostics.push_back(std::move(d));
    return failed;
  } catch (...) {
    compile_result failed;
    diagnostic d;
    d.location = source_location{options.file_name, 0, 0};
    d.message = "internal error while compiling";
    failed.diagnostics.push_back(std::move(d));
    return failed;
  }
}

} // namespace conveyor::dsl
