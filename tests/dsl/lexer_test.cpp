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

/// "line:col message" of each error in `src`.
std::vector<std::string> errors_of(const std::string& src) {
  diagnostic_sink sink{"t"};
  lex(src, sink);
  std::vector<std::string> out;
  for (const auto& d : sink.take())
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + " "
                  + d.message);
  return out;
}

BOOST_AUTO_TEST_CASE(a_nul_byte_in_a_string_is_an_error_at_its_line_and_column_not_the_end_of_the_path) {
  const std::string src = std::string("graph g\nnode r = csv_reader { path = \"houses\0.csv\" }\n", 50);
  BOOST_TEST(errors_of(src) == (std::vector<std::string>{"2:37 NUL byte in a string"}),
             boost::test_tools::per_element());
  // An escape cannot make one either: the language has no \0.
  BOOST_TEST(errors_of("x = \"a\\0b\"") == (std::vector<std::string>{"1:7 unknown escape '\\0' in string"}),
             boost::test_tools::per_element());
  // Nor can a NUL hide in a comment or after a backslash.
  BOOST_TEST(errors_of(std::string("# a\0b\nx = \"\\\0\"", 14)) ==
               (std::vector<std::string>{"1:4 NUL byte in a comment", "2:7 NUL byte in a string"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_utf8_are_an_error_at_their_line_and_column_anywhere_in_the_file) {
  BOOST_TEST(errors_of("x = \"ok \xff\xfe here\"\n"
                       "y = \"overlong \xc0\xaf\"\n"
                       "z = \"surrogate \xed\xa0\x80\"\n"
                       "w = \"cut \xe2\x82\"\n"
                       "# comment \x80\n"
                       "v = 1 \xf5\n") ==
               (std::vector<std::string>{
                 "1:9 invalid UTF-8 byte 0xff in a string",
                 "2:15 invalid UTF-8 byte 0xc0 in a string",
                 "3:16 invalid UTF-8 byte 0xed in a string",
                 "4:10 invalid UTF-8 byte 0xe2 in a string",
                 "5:11 invalid UTF-8 byte 0x80 in a comment",
                 "6:7 invalid UTF-8 byte 0xf5",
               }),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(well_formed_utf8_in_strings_and_comments_is_kept) {
  std::size_t errors = 0;
  auto tokens = tokens_of("# caf\xc3\xa9 \xf0\x9f\x9a\x82\nx = \"K\xc3\xb6ln \xe2\x82\xac \xf0\x9f\x9a\x82\"", &errors);
  BOOST_TEST(errors == 0u);
  BOOST_TEST(tokens == "name(x)@2:1 punct(=)@2:3 str(\"K\xc3\xb6ln \xe2\x82\xac \xf0\x9f\x9a\x82\")@2:5");
}

BOOST_AUTO_TEST_SUITE_END()
