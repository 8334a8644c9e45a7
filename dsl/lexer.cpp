// Lexer: one pass over the bytes with a line/column cursor; each token is recognised by
// its first character (maximal munch), literals are decoded and range-checked on the spot.
#include "dsl/lexer.hpp"

#include "dsl/limits.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace conveyor::dsl {

namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

/// Length of the well-formed UTF-8 sequence at `pos` (RFC 3629: no overlong forms, no
/// surrogates, nothing past U+10FFFF), or 0 if the bytes there are not one.
std::size_t utf8_length(std::string_view s, std::size_t pos) {
  auto at = [&](std::size_t i) -> unsigned {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0x100u;
  };
  auto cont = [](unsigned b) { return b >= 0x80 && b <= 0xBF; };
  unsigned b0 = at(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(at(1)) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    return at(1) >= lo && at(1) <= hi && cont(at(2)) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return at(1) >= lo && at(1) <= hi && cont(at(2)) && cont(at(3)) ? 4 : 0;
  }
  return 0;
}

std::string hex_byte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

const char* const text_hint = "graph files are UTF-8 text without NUL bytes";

struct unit {
  const char* suffix;
  bool is_duration;
  std::uint64_t factor;
};

const unit units[] = {
  {"ns", true, 1ull},
  {"us", true, 1'000ull},
  {"ms", true, 1'000'000ull},
  {"s", true, 1'000'000'000ull},
  {"m", true, 60'000'000'000ull},
  {"h", true, 3'600'000'000'000ull},
  {"B", false, 1ull},
  {"KB", false, 1'000ull},
  {"MB", false, 1'000'000ull},
  {"GB", false, 1'000'000'000ull},
  {"TB", false, 1'000'000'000'000ull},
  {"KiB", false, 1ull << 10},
  {"MiB", false, 1ull << 20},
  {"GiB", false, 1ull << 30},
  {"TiB", false, 1ull << 40},
};

class lexer {
public:
  lexer(std::string_view src, diagnostic_sink& sink) : src_(src), sink_(sink) {}

  std::vector<token> run() {
    while (pos_ < src_.size()) {
      if (tokens_.size() >= limits::max_tokens) {
        sink_.error(diagnostic_code::too_large, here(1),
                    "too many tokens; the limit is " + std::to_string(limits::max_tokens));
        break;
      }
      if (sink_.full()) break;
      step();
    }
    token nl;
    nl.kind = token_kind::newline;
    nl.where = here(1);
    if (tokens_.empty() || tokens_.back().kind != token_kind::newline) tokens_.push_back(nl);
    token end;
    end.kind = token_kind::eof;
    end.where = here(1);
    tokens_.push_back(end);
    return std::move(tokens_);
  }

private:
  char peek(std::size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }
  span here(int length) const { return span{line_, col_, length}; }
  void advance(std::size_t n = 1) {
    for (std::size_t i = 0; i < n && pos_ < src_.size(); ++i) {
      if (src_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
      ++pos_;
    }
  }
  void push(token_kind k, span where, std::string text) {
    token t;
    t.kind = k;
    t.where = where;
    t.text = std::move(text);
    tokens_.push_back(std::move(t));
  }

  void step() {
    char c = peek();
    span start = here(1);
    switch (c) {
      case ' ': case '\t': case '\r': case '\f': case '\v': advance(); return;
      case '#':
        while (pos_ < src_.size() && peek() != '\n')
          if (!text_char(nullptr, "a comment")) advance();
        return;
      case '\n':
        if (!tokens_.empty() && tokens_.back().kind != token_kind::newline)
          push(token_kind::newline, start, "\n");
        advance();
        return;
      case '"': lex_string(); return;
      case '=': advance(); push(token_kind::equals, start, "="); return;
      case '{': advance(); push(token_kind::lbrace, start, "{"); return;
      case '}': advance(); push(token_kind::rbrace, start, "}"); return;
      case '[': advance(); push(token_kind::lbracket, start, "["); return;
      case ']': advance(); push(token_kind::rbracket, start, "]"); return;
      case ',': advance(); push(token_kind::comma, start, ","); return;
      case '.': advance(); push(token_kind::dot, start, "."); return;
      case '$': lex_ref(); return;
      default: break;
    }
    if (c == '-' && peek(1) == '>') {
      advance(2);
      push(token_kind::arrow, span{start.line, start.column, 2}, "->");
      return;
    }
    if (is_digit(c) || (c == '-' && is_digit(peek(1)))) {
      lex_number();
      return;
    }
    if (is_name_start(c)) {
      std::size_t begin = pos_;
      while (is_name_char(peek())) advance();
      std::string text(src_.substr(begin, pos_ - begin));
      push(token_kind::name, span{start.line, start.column, static_cast<int>(text.size())},
           text);
      return;
    }
    // A run of characters the language has no use for: one error for the run.
    std::size_t begin = pos_;
    while (pos_ < src_.size() && !is_known_start(peek())) advance();
    if (pos_ == begin) advance(); // a lone '-' not starting a number or arrow
    unsigned char first = static_cast<unsigned char>(src_[begin]);
    span run{start.line, start.column, static_cast<int>(pos_ - begin)};
    if (first >= 0x80 && utf8_length(src_, begin) == 0) {
      sink_.error(diagnostic_code::syntax, run, "invalid UTF-8 byte " + hex_byte(first),
                  text_hint);
      return;
    }
    std::string shown = first >= 0x20 && first < 0x7f
                          ? std::string("'") + static_cast<char>(first) + "'"
                          : hex_byte(first);
    sink_.error(diagnostic_code::syntax, run, "unexpected character " + shown,
                first >= 0x80 ? "names are ASCII letters, digits and '_'; put other text "
                                "in double quotes"
                              : "");
  }

  /// Text inside a string or a comment: a NUL byte or bytes that are not UTF-8 are an
  /// error (a NUL would cut a path short where the system reads it). Consumes and
  /// reports such a run and returns true; returns false (consuming nothing) for a plain
  /// ASCII byte. Appends well-formed multi-byte characters to `out` if not null.
  bool text_char(std::string* out, const char* where) {
    unsigned char c = static_cast<unsigned char>(peek());
    if (c == 0) {
      sink_.error(diagnostic_code::syntax, here(1), std::string("NUL byte in ") + where,
                  text_hint);
      advance();
      return true;
    }
    if (c < 0x80) return false;
    if (std::size_t n = utf8_length(src_, pos_)) {
      if (out) out->append(src_.substr(pos_, n));
      advance(n);
      return true;
    }
    span bad = here(1);
    std::size_t begin = pos_;
    do advance();
    while (pos_ < src_.size() && static_cast<unsigned char>(peek()) >= 0x80
           && utf8_length(src_, pos_) == 0);
    bad.length = static_cast<int>(pos_ - begin);
    sink_.error(diagnostic_code::syntax, bad,
                "invalid UTF-8 byte " + hex_byte(c) + " in " + where, text_hint);
    return true;
  }

  static bool is_known_start(char c) {
    switch (c) {
      case ' ': case '\t': case '\r': case '\f': case '\v': case '#': case '\n': case '"':
      case '=': case '{': case '}': case '[': case ']': case ',': case '.': case '$': case '-':
        return true;
      default: return is_name_char(c);
    }
  }

  void lex_ref() {
    span start = here(1);
    advance(); // $
    if (!is_name_start(peek())) {
      sink_.error(diagnostic_code::syntax, start, "expected a param name after '$'",
                  "write $name to use the value of `param name = ...`");
      return;
    }
    std::size_t begin = pos_;
    while (is_name_char(peek())) advance();
    std::string name(src_.substr(begin, pos_ - begin));
    push(token_kind::ref, span{start.line, start.column, static_cast<int>(name.size() + 1)},
         name);
  }

  void lex_string() {
    span start = here(1);
    std::size_t begin = pos_;
    advance(); // opening quote
    token t;
    t.kind = token_kind::string;
    std::string& out = t.text;
    bool closed = false;
    while (pos_ < src_.size()) {
      char c = peek();
      if (c == '"') {
        advance();
        closed = true;
        break;
      }
      if (c == '\n') break;
      if (c == '\\') {
        span esc = here(2);
        char e = peek(1);
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '$': out += '$'; break;
          default:
            if (e == '\n' || e == '\0') {
              advance();
              continue; // reported as unterminated below
            }
            if (static_cast<unsigned char>(e) >= 0x80) {
              advance(); // the backslash; the character is checked as text
              sink_.error(diagnostic_code::syntax, esc, "unknown escape in string",
                          "strings know \\\" \\\\ \\n \\t \\r and \\$");
              continue;
            }
            sink_.error(diagnostic_code::syntax, esc,
                        std::string("unknown escape '\\") + e + "' in string",
                        "strings know \\\" \\\\ \\n \\t \\r and \\$");
        }
        advance(2);
        continue;
      }
      if (c == '$' && (is_name_start(peek(1)) || peek(1) == '{')) {
        span where = here(1);
        advance();
        bool braced = peek() == '{';
        if (braced) advance();
        std::size_t name_begin = pos_;
        while (is_name_char(peek())) advance();
        std::string name(src_.substr(name_begin, pos_ - name_begin));
        if (braced) {
          if (peek() != '}' || name.empty()) {
            sink_.error(diagnostic_code::syntax, where, "expected ${name} in string",
                        "write \\$ for a literal dollar sign");
            continue;
          }
          advance();
        }
        where.length = col_ - where.column;
        t.refs.push_back(string_ref{out.size(), name, where});
        continue;
      }
      if (text_char(&out, "a string")) continue;
      out += c;
      advance();
    }
    t.where = span{start.line, start.column, static_cast<int>(pos_ - begin)};
    if (!closed)
      sink_.error(diagnostic_code::syntax, t.where, "unterminated string",
                  "close it with '\"' on the same line");
    t.literal = value{t.text};
    tokens_.push_back(std::move(t));
  }

  void lex_number() {
    span start = here(1);
    std::size_t begin = pos_;
    bool is_float = false;
    if (peek() == '-') advance();
    while (is_digit(peek())) advance();
    if (peek() == '.' && is_digit(peek(1))) {
      is_float = true;
      advance();
      while (is_digit(peek())) advance();
    }
    if ((peek() == 'e' || peek() == 'E')
        && (is_digit(peek(1)) || ((peek(1) == '-' || peek(1) == '+') && is_digit(peek(2))))) {
      is_float = true;
      advance(2);
      while (is_digit(peek())) advance();
    }
    std::string number(src_.substr(begin, pos_ - begin));
    std::size_t suffix_begin = pos_;
    while (is_name_char(peek())) advance();
    std::string suffix(src_.substr(suffix_begin, pos_ - suffix_begin));
    span where{start.line, start.column, static_cast<int>(pos_ - begin)};
    token t;
    t.where = where;
    t.text = number + suffix;

    double as_double = 0;
    std::int64_t as_int = 0;
    if (is_float) {
      as_double = std::strtod(number.c_str(), nullptr);
      if (!std::isfinite(as_double)) {
        sink_.error(diagnostic_code::syntax, where, "number out of range: " + number);
        return;
      }
    } else {
      auto r = std::from_chars(number.data(), number.data() + number.size(), as_int);
      if (r.ec != std::errc{}) {
        sink_.error(diagnostic_code::syntax, where, "integer out of range: " + number,
                    "integers are 64-bit");
        return;
      }
    }
    if (suffix.empty()) {
      t.kind = is_float ? token_kind::floating : token_kind::integer;
      t.literal = is_float ? value{as_double} : value{as_int};
      tokens_.push_back(std::move(t));
      return;
    }
    const unit* u = nullptr;
    for (const auto& x : units)
      if (suffix == x.suffix) u = &x;
    if (!u) {
      sink_.error(diagnostic_code::syntax, where, "unknown unit '" + suffix + "' after a number",
                  "durations: ns us ms s m h; sizes: B KB MB GB KiB MiB GiB");
      return;
    }
    const char* what = u->is_duration ? "duration" : "size";
    if (number[0] == '-') {
      sink_.error(diagnostic_code::syntax, where, std::string("a ") + what
                                                    + " cannot be negative");
      return;
    }
    std::uint64_t amount = 0;
    const double max_total = u->is_duration ? 9.2e18 : 1.8e19;
    if (is_float) {
      double total = as_double * static_cast<double>(u->factor);
      if (!(total < max_total)) {
        sink_.error(diagnostic_code::syntax, where, std::string(what) + " out of range");
        return;
      }
      amount = static_cast<std::uint64_t>(std::llround(total));
    } else {
      auto n = static_cast<std::uint64_t>(as_int);
      std::uint64_t limit = u->is_duration ? static_cast<std::uint64_t>(INT64_MAX) : UINT64_MAX;
      if (n > limit / u->factor) {
        sink_.error(diagnostic_code::syntax, where, std::string(what) + " out of range");
        return;
      }
      amount = n * u->factor;
    }
    if (u->is_duration) {
      t.kind = token_kind::duration;
      t.literal = value{duration_value{static_cast<std::int64_t>(amount)}};
    } else {
      t.kind = token_kind::size;
      t.literal = value{size_value{amount}};
    }
    tokens_.push_back(std::move(t));
  }

  std::string_view src_;
  diagnostic_sink& sink_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
  std::vector<token> tokens_;
};

} // namespace

std::vector<token> lex(std::string_view source, diagnostic_sink& sink) {
  return lexer{source, sink}.run();
}

std::string describe(const token& t) {
  switch (t.kind) {
    case token_kind::name: return "name '" + t.text + "'";
    case token_kind::ref: return "'$" + t.text + "'";
    case token_kind::string: return "a string";
    case token_kind::integer:
    case token_kind::floating:
    case token_kind::duration:
    case token_kind::size: return "'" + t.text + "'";
    case token_kind::newline: return "end of line";
    case token_kind::eof: return "end of file";
    default: return "'" + t.text + "'";
  }
}

} // namespace conveyor::dsl
