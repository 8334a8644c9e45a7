// Parser: recursive descent over the token vector with one token of lookahead; lists are
// the only recursion (depth capped). On a syntax error it reports once and resynchronises
// at the next newline outside brackets (a statement start), or at the next pair in a block.
#include "dsl/parser.hpp"

#include "dsl/did_you_mean.hpp"
#include "dsl/limits.hpp"

namespace conveyor::dsl {

namespace {

const std::vector<std::string> keywords = {"graph", "param", "defaults", "node"};

bool is_keyword(const std::string& s) {
  for (const auto& k : keywords)
    if (s == k) return true;
  return false;
}

class parser {
public:
  parser(const std::vector<token>& tokens, diagnostic_sink& sink) : t_(tokens), sink_(sink) {}

  ast::file run() {
    skip_newlines();
    while (!at(token_kind::eof) && !sink_.full()) {
      std::size_t before = i_;
      bool ok = statement();
      if (ok && !at_statement_end()) {
        expected("end of line");
        ok = false;
      }
      if (!ok) recover();
      skip_newlines();
      if (i_ == before) advance(); // always make progress
    }
    if (!seen_statement_)
      sink_.error(diagnostic_code::syntax, span{1, 1, 1},
                  "expected 'graph NAME' as the first statement", "e.g. graph fashion");
    return std::move(file_);
  }

  std::optional<ast::expr> single_value() {
    skip_newlines();
    auto e = value_expr(0);
    if (!e) return std::nullopt;
    skip_newlines();
    if (!at(token_kind::eof)) {
      expected("end of value");
      return std::nullopt;
    }
    return e;
  }

private:
  const token& cur() const { return t_[i_]; }
  const token& next() const { return t_[i_ + 1 < t_.size() ? i_ + 1 : i_]; }
  bool at(token_kind k) const { return cur().kind == k; }
  void advance() {
    if (!at(token_kind::eof)) ++i_;
  }
  void skip_newlines() {
    while (at(token_kind::newline)) advance();
  }
  bool at_statement_end() const {
    return at(token_kind::newline) || at(token_kind::eof)
           || (i_ > 0 && t_[i_ - 1].kind == token_kind::newline);
  }
  bool at_keyword_line() const {
    return at(token_kind::name) && is_keyword(cur().text) && next().kind != token_kind::equals
           && i_ > 0 && t_[i_ - 1].kind == token_kind::newline;
  }

  void expected(const std::string& what, std::string hint = {}) {
    sink_.error(diagnostic_code::syntax, cur().where,
                "expected " + what + ", found " + describe(cur()), std::move(hint));
  }

  bool expect(token_kind k, const std::string& what) {
    if (at(k)) {
      advance();
      return true;
    }
    expected(what);
    return false;
  }

  /// A name that may name a node or a param: not a keyword.
  bool expect_name(const std::string& what, std::string& out, span& where) {
    if (!at(token_kind::name)) {
      expected(what);
      return false;
    }
    if (is_keyword(cur().text)) {
      sink_.error(diagnostic_code::syntax, cur().where,
                  "'" + cur().text + "' is a reserved word and cannot be used as " + what);
      return false;
    }
    out = cur().text;
    where = cur().where;
    advance();
    return true;
  }

  void recover() {
    int depth = 0;
    while (!at(token_kind::eof)) {
      if (depth == 0 && at_keyword_line()) return; // the next statement starts here
      switch (cur().kind) {
        case token_kind::lbrace:
        case token_kind::lbracket: ++depth; break;
        case token_kind::rbrace:
        case token_kind::rbracket:
          if (depth > 0) --depth;
          break;
        case token_kind::newline:
          if (depth == 0) return;
          break;
        case token_kind::name:
          if (depth > 0 && at_keyword_line()) return; // an unclosed block: resume here
          break;
        default: break;
      }
      advance();
    }
  }

  bool statement() {
    const token& first = cur();
    bool is_first = !seen_statement_;
    seen_statement_ = true;
    if (first.kind != token_kind::name) {
      expected("a statement (graph, param, defaults, node or an edge a -> b)");
      return false;
    }
    if (first.text == "graph") return graph_statement(is_first);
    if (is_first)
      sink_.error(diagnostic_code::syntax, first.where,
                  "expected 'graph NAME' as the first statement", "e.g. graph fashion");
    if (first.text == "param") return param_statement();
    if (first.text == "defaults") return defaults_statement();
    if (first.text == "node") return node_statement();
    return edge_statement();
  }

  bool graph_statement(bool is_first) {
    span kw = cur().where;
    advance();
    ast::graph_stmt g;
    if (!expect_name("a graph name", g.name, g.where)) return false;
    if (seen_graph_) {
      sink_.error(diagnostic_code::syntax, kw, "a second 'graph' statement",
                  "a file declares one graph, in its first statement");
    } else if (!is_first) {
      sink_.error(diagnostic_code::syntax, kw, "'graph NAME' must be the first statement");
    } else {
      file_.statements.emplace_back(std::move(g));
    }
    seen_graph_ = true;
    return true;
  }

  bool param_statement() {
    advance();
    ast::param_stmt p;
    if (!expect_name("a param name", p.name, p.name_where)) return false;
    if (!expect(token_kind::equals, "'='")) return false;
    auto v = value_expr(0);
    if (!v) return false;
    p.val = std::move(*v);
    file_.statements.emplace_back(std::move(p));
    return true;
  }

  bool defaults_statement() {
    span kw = cur().where;
    advance();
    ast::defaults_stmt d;
    d.where = kw;
    if (!at(token_kind::lbrace)) {
      expected("'{'");
      return false;
    }
    bool had_errors = false;
    block(d.pairs, had_errors);
    file_.statements.emplace_back(std::move(d));
    return true;
  }

  bool node_statement() {
    advance();
    ast::node_stmt n;
    if (!expect_name("a node name", n.name, n.name_where)) return false;
    bool ok = expect(token_kind::equals, "'='");
    if (ok && !at(token_kind::name)) {
      expected("a kind name", "e.g. node train = trainer { ... }");
      ok = false;
    }
    if (!ok) {
      file_.broken_nodes.push_back(n.name);
      return false;
    }
    n.kind = cur().text;
    n.kind_where = cur().where;
    advance();
    if (at(token_kind::lbrace)) block(n.pairs, n.body_had_errors);
    file_.statements.emplace_back(std::move(n));
    return true;
  }

  /// `{ key = value ... }`: recovers from errors inside by itself.
  void block(std::vector<ast::pair>& pairs, bool& had_errors) {
    span open = cur().where;
    advance();
    for (;;) {
      while (at(token_kind::newline) || at(token_kind::comma)) advance();
      if (at(token_kind::rbrace)) {
        advance();
        return;
      }
      if (at(token_kind::eof) || at_keyword_line() || sink_.full()) {
        sink_.error(diagnostic_code::syntax, open,
                    "'{' is not closed", "add '}' after the last pair of the block");
        had_errors = true;
        return;
      }
      if (!pair_in(pairs)) {
        had_errors = true;
        skip_pair();
      }
    }
  }

  bool pair_in(std::vector<ast::pair>& pairs) {
    ast::pair p;
    if (!at(token_kind::name)) {
      expected("a 'key = value' pair or '}'");
      return false;
    }
    p.key = cur().text;
    p.key_where = cur().where;
    advance();
    if (!expect(token_kind::equals, "'=' after '" + p.key + "'")) return false;
    auto v = value_expr(0);
    if (!v) return false;
    p.val = std::move(*v);
    if (!at(token_kind::newline) && !at(token_kind::comma) && !at(token_kind::rbrace)) {
      expected("',' or a new line between pairs");
      return false;
    }
    pairs.push_back(std::move(p));
    return true;
  }

  /// After a bad pair: skip to the next separator or closing brace outside brackets.
  void skip_pair() {
    int depth = 0;
    while (!at(token_kind::eof)) {
      switch (cur().kind) {
        case token_kind::lbracket:
        case token_kind::lbrace: ++depth; break;
        case token_kind::rbracket:
          if (depth > 0) --depth;
          break;
        case token_kind::rbrace:
          if (depth == 0) return;
          --depth;
          break;
        case token_kind::newline:
        case token_kind::comma:
          if (depth == 0) return;
          break;
        case token_kind::name:
          if (at_keyword_line()) return;
          break;
        default: break;
      }
      advance();
    }
  }

  std::optional<ast::expr> value_expr(int depth) {
    if (depth > limits::max_nesting) {
      sink_.error(diagnostic_code::syntax, cur().where,
                  "lists nested deeper than " + std::to_string(limits::max_nesting));
      return std::nullopt;
    }
    ast::expr e;
    e.where = cur().where;
    switch (cur().kind) {
      case token_kind::string:
      case token_kind::integer:
      case token_kind::floating:
      case token_kind::duration:
      case token_kind::size:
        e.literal = cur().literal;
        e.refs = cur().refs;
        advance();
        return e;
      case token_kind::ref:
        e.k = ast::expr::kind::reference;
        e.reference = cur().text;
        advance();
        return e;
      case token_kind::name:
        if (cur().text == "true" || cur().text == "false") {
          e.literal = dsl::value{cur().text == "true"};
          advance();
          return e;
        }
        expected("a value", "put text in double quotes: \"" + cur().text + "\"");
        return std::nullopt;
      case token_kind::lbracket: return list(depth);
      default: expected("a value"); return std::nullopt;
    }
  }

  std::optional<ast::expr> list(int depth) {
    ast::expr e;
    e.k = ast::expr::kind::list;
    e.where = cur().where;
    advance();
    skip_newlines();
    while (!at(token_kind::rbracket)) {
      if (e.items.size() >= limits::max_list_length) {
        sink_.error(diagnostic_code::too_large, cur().where,
                    "list longer than " + std::to_string(limits::max_list_length)
                      + " elements");
        return std::nullopt;
      }
      if (at_keyword_line() || at(token_kind::eof)) {
        sink_.error(diagnostic_code::syntax, e.where, "'[' is not closed",
                    "add ']' after the last element");
        return std::nullopt;
      }
      auto item = value_expr(depth + 1);
      if (!item) return std::nullopt;
      e.items.push_back(std::move(*item));
      skip_newlines();
      if (at_keyword_line() || at(token_kind::eof)) continue; // reported at the loop's top
      if (at(token_kind::comma)) {
        advance();
        skip_newlines();
      } else if (!at(token_kind::rbracket)) {
        expected("',' or ']' in a list");
        return std::nullopt;
      }
    }
    if (cur().where.line == e.where.line) e.where.length = cur().where.column - e.where.column + 1;
    advance();
    return e;
  }

  bool endpoint(ast::endpoint& ep) {
    if (!expect_name("a node name", ep.node, ep.node_where)) return false;
    if (at(token_kind::dot)) {
      advance();
      if (!at(token_kind::name)) {
        expected("a port name after '.'");
        return false;
      }
      ep.port = cur().text;
      ep.port_where = cur().where;
      advance();
    }
    return true;
  }

  bool edge_statement() {
    ast::edge_chain chain;
    std::string first_name = cur().text;
    span first_where = cur().where;
    ast::endpoint first;
    if (!endpoint(first)) return false;
    chain.endpoints.push_back(std::move(first));
    if (!at(token_kind::arrow)) {
      std::string hint;
      if (at(token_kind::name)) hint = did_you_mean(first_name, keywords);
      if (hint.empty()) hint = "an edge is written a -> b";
      if (at(token_kind::equals))
        sink_.error(diagnostic_code::syntax, first_where,
                    "'" + first_name + " = ...' outside braces",
                    "write `param " + first_name + " = ...` or put it in a node's { }");
      else
        expected("'->' after '" + first_name + "'", hint);
      return false;
    }
    while (at(token_kind::arrow)) {
      span arrow = cur().where;
      chain.arrows.push_back(arrow);
      advance();
      skip_newlines();
      if (at_keyword_line() || at(token_kind::eof)) {
        sink_.error(diagnostic_code::syntax, arrow, "expected a node name after '->'");
        return false;
      }
      ast::endpoint ep;
      if (!endpoint(ep)) return false;
      chain.endpoints.push_back(std::move(ep));
    }
    file_.statements.emplace_back(std::move(chain));
    return true;
  }

  const std::vector<token>& t_;
  diagnostic_sink& sink_;
  std::size_t i_ = 0;
  ast::file file_;
  bool seen_statement_ = false;
  bool seen_graph_ = false;
};

} // namespace

ast::file parse(const std::vector<token>& tokens, diagnostic_sink& sink) {
  return parser{tokens, sink}.run();
}

std::optional<ast::expr> parse_value(std::string_view text, std::string& error) {
  if (text.size() > limits::max_hint_candidates * 100) {
    error = "value too long";
    return std::nullopt;
  }
  diagnostic_sink sink{"--set"};
  auto tokens = lex(text, sink);
  std::optional<ast::expr> result;
  if (sink.error_count() == 0) result = parser{tokens, sink}.single_value();
  if (sink.error_count() != 0) {
    auto diags = sink.take();
    error = diags.front().message;
    return std::nullopt;
  }
  return result;
}

} // namespace conveyor::dsl
