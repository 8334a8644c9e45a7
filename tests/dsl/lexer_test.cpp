// The lexer: a table of inputs and the tokens they give, plus its errors.
#include "dsl/lexer.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;

namespace {

std::string kind_name(token_kind k) {
  switch (k) {
    case token_kind::name: return "name";
    case token_kind::ref: return "ref";
    case token_kind::string: return "str";
    case token_kind::integer: return "int";
    case token_kind::floating: return "float";
    case token_kind::duration: return "dur";
    case token_kind::size: return "size";
    case token_kind::newline: return "nl";
    case token_kind::eof: return "eof";
    default: return "punct";
  }
}

/// "kind(value)@line:col" for each token but the final newline and eof.
std::string tokens_of(const std::string& src, std::size_t* errors = nullptr) {
  diagnostic_sink sink{"t"};
  auto tokens = lex(src, sink);
  if (errors) *errors = sink.error_count();
  std::string out;
  for (std::size_t i = 0; i + 2 < tokens.size(); ++i) {
    const auto& t = tokens[i];
    if (!out.empty()) out += " ";
    std::string shown = t.text;
    if (t.kind == token_kind::string || t.kind == token_kind::duration
        || t.kind == token_kind::size || t.kind == token_kind::floating
        || t.kind == token_kind::integer)
      shown = to_source(t.literal);
    if (t.kind == token_kind::newline) shown = "";
    out += kind_name(t.kind) + "(" + shown + ")@" + std::to_string(t.where.line) + ":"
           + std::to_string(t.where.column);
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(lexer)

BOOST_AUTO_TEST_CASE(tokens_carry_their_kind_value_and_position) {
  struct row {
    std::string input;
    std::string tokens;
  };
  const row rows[] = {
    {"graph g", "name(graph)@1:1 name(g)@1:7"},
    {"a_1 = 42", "name(a_1)@1:1 punct(=)@1:5 int(42)@1:7"},
    {"x = -3", "name(x)@1:1 punct(=)@1:3 int(-3)@1:5"},
    {"1e-3 2.5 -0.5 3E2", "float(0.001)@1:1 float(2.5)@1:6 float(-0.5)@1:10 float(300.0)@1:15"},
    {"10ns 500us 200ms 2s 5m 1h 1.5s",
     "dur(10ns)@1:1 dur(500us)@1:6 dur(200ms)@1:12 dur(2s)@1:18 dur(5m)@1:21 dur(1h)@1:24 "
     "dur(1500ms)@1:27"},
    {"8B 64KiB 512MiB 2GiB 1KB 3MB 4GB",
     "size(8B)@1:1 size(64KiB)@1:4 size(512MiB)@1:10 size(2GiB)@1:17 size(1KB)@1:22 "
     "size(3MB)@1:26 size(4GB)@1:30"},
    {R"("a\"b\\c\nd")", R"(str("a\"b\\c\nd")@1:1)"},
    {"$epochs", "ref(epochs)@1:1"},
    {"a.b -> c", "name(a)@1:1 punct(.)@1:2 name(b)@1:3 punct(->)@1:5 name(c)@1:8"},
    {"{ } [ ] ,", "punct({)@1:1 punct(})@1:3 punct([)@1:5 punct(])@1:7 punct(,)@1:9"},
    {"a # comment\n\n\nb", "name(a)@1:1 nl()@1:12 name(b)@4:1"},
    {"# only a comment", ""},
  };
  for (const auto& r : rows) {
    std::size_t errors = 0;
    BOOST_TEST_CONTEXT("input: " << r.input) {
      BOOST_TEST(tokens_of(r.input, &errors) == r.tokens);
      BOOST_TEST(errors == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(param_references_inside_strings_are_recorded_with_their_offsets) {
  diagnostic_sink sink{"t"};
  auto tokens = lex(R"("$data/x-${n}.gz \$5")", sink);
  BOOST_REQUIRE(tokens.size() == 3u);
  BOOST_TEST(tokens[0].text == "/x-.gz $5");
  BOOST_REQUIRE(tokens[0].refs.size() == 2u);
  BOOST_TEST(tokens[0].refs[0].name == "data");
  BOOST_TEST(tokens[0].refs[0].offset == 0u);
  BOOST_TEST(tokens[0].refs[1].name == "n");
  BOOST_TEST(tokens[0].refs[1].offset == 3u);
  BOOST_TEST(tokens[0].refs[1].where.column == 10);
}

BOOST_AUTO_TEST_CASE(lexical_errors_are_reported_and_skipped) {
  const char* inputs[] = {
    "\"unterminated",    "5parsecs",   "99999999999999999999", "1e999",  "-2s",
    "\"bad \\q escape\"", "a ~ b",      "$",                    "\xc3\xa9\xc3\xa9",
  };
  for (const char* in : inputs) {
    std::size_t errors = 0;
    tokens_of(in, &errors);
    BOOST_TEST_CONTEXT("input: " << in) { BOOST_TEST(errors == 1u); }
  }
}

BOOST_AUTO_TEST_SUITE_END()
