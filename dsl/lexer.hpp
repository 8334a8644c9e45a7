// Stage 1: source text to tokens, each with its line and column. Newlines are tokens
// (they separate statements and pairs); comments and other blanks are dropped.
#pragma once

#include "dsl/diagnostic_sink.hpp"
#include "dsl/span.hpp"
#include "dsl/value.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace conveyor::dsl {

enum class token_kind {
  name,     // letters, digits, '_', not starting with a digit
  ref,      // $name; text is the name
  string,   // "..."; text is the decoded string without its $refs
  integer,  // 42, -3
  floating, // 0.5, 1e-3
  duration, // 500us, 200ms, 2s, 5m, 1h, 10ns
  size,     // 64KiB, 2GiB, 512B, 1MB
  equals,
  lbrace,
  rbrace,
  lbracket,
  rbracket,
  comma,
  dot,
  arrow,
  newline,
  eof,
};

/// A `$name` (or `${name}`) inside a string: substituted at `offset` of the decoded text.
struct string_ref {
  std::size_t offset = 0;
  std::string name;
  span where;
};

struct token {
  token_kind kind = token_kind::eof;
  span where;
  /// name and ref: the name; string: decoded text; punctuation: its spelling.
  std::string text;
  /// The value of a literal (string, integer, floating, duration, size).
  value literal;
  /// Param references inside a string literal, in order.
  std::vector<string_ref> refs;
};

/// Tokens of `source`, always ending with a newline and an eof token. Errors (bad
/// characters, unterminated strings, unknown units, numbers out of range) go to `sink`;
/// the lexer skips the offending text and goes on. At most limits::max_tokens tokens.
std::vector<token> lex(std::string_view source, diagnostic_sink& sink);

/// How a token is named in a syntax error: "'{'", "end of line", "name 'x'", "string".
std::string describe(const token& t);

} // namespace conveyor::dsl
