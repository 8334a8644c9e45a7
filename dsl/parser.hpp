// Stage 2: tokens to the syntax tree (ast.hpp), by recursive descent.
#pragma once

#include "dsl/ast.hpp"
#include "dsl/diagnostic_sink.hpp"
#include "dsl/lexer.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace conveyor::dsl {

/// Parses a whole file. Syntax errors go to `sink`; after one the parser skips to the
/// start of the next statement (or the next pair inside braces), so that every
/// independent error is reported. The returned tree holds what did parse.
ast::file parse(const std::vector<token>& tokens, diagnostic_sink& sink);

/// Parses one value on its own (a `--set NAME=VALUE` override). Nullopt on any error,
/// which is described in `error` (the sink is not used: overrides have no source line).
std::optional<ast::expr> parse_value(std::string_view text, std::string& error);

} // namespace conveyor::dsl
