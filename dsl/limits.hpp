// Bounds that keep every stage finite on any input (DSL.md: no input, however broken or
// large, crashes, hangs or makes the compiler allocate without bound).
#pragma once

#include <cstddef>

namespace conveyor::dsl::limits {

/// The lexer stops (with one diagnostic) after this many tokens.
inline constexpr std::size_t max_tokens = 1u << 20;
/// Lists nested deeper than this are a syntax error (the parser recurses on lists).
inline constexpr int max_nesting = 32;
/// Elements in one list literal.
inline constexpr std::size_t max_list_length = 1u << 16;
/// Errors reported before the compiler stops with a note.
inline constexpr std::size_t max_errors = 100;
/// Total characters and list elements that param substitution may produce in one
/// compile: `param b = [$a, $a]`, `param c = [$b, $b]`... would otherwise grow exponentially.
inline constexpr std::size_t max_substituted_size = 16u << 20;
/// "Did you mean" compares against at most this many candidates of at most this length.
inline constexpr std::size_t max_hint_candidates = 10000;
inline constexpr std::size_t max_hint_length = 64;
/// Diagnostics show at most this many characters of a long source line.
inline constexpr std::size_t max_shown_line = 160;

} // namespace conveyor::dsl::limits
