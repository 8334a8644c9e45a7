// The parser: tables of inputs and the printout of the tree they parse to, and recovery
// from syntax errors (every independent one reported).
#include "dsl/ast.hpp"
#include "dsl/parser.hpp"

#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;

namespace {

std::string parsed(const std::string& src, std::size_t* errors = nullptr) {
  diagnostic_sink sink{"t"};
  auto tokens = lex(src, sink);
  auto file = parse(tokens, sink);
  if (errors) *errors = sink.error_count();
  return ast::to_string(file);
}

} // namespace

BOOST_AUTO_TEST_SUITE(parser)

BOOST_AUTO_TEST_CASE(statements_parse_to_the_expected_tree) {
  struct row {
    std::string input;
    std::string printout;
  };
  const row rows[] = {
    {"graph g", "graph g\n"},
    {"\n\n  graph g  # name\n", "graph g\n"},
    {"graph g\nparam n = 3", "graph g\nparam n = 3\n"},
    {"graph g\nparam d = \"$root/x\"", "graph g\nparam d = \"${root}/x\"\n"},
    {"graph g\nparam l = [1, 2.5, \"a\", true, 2s, 1KiB, $x, [ ]]",
     "graph g\nparam l = [1, 2.5, \"a\", true, 2s, 1KiB, $x, []]\n"},
    {"graph g\nparam l = [\n  1,\n  2,\n]", "graph g\nparam l = [1, 2]\n"},
    {"graph g\ndefaults {\n  replicas = 2\n  batch = 512\n}",
     "graph g\ndefaults { replicas = 2, batch = 512 }\n"},
    {"graph g\ndefaults {}", "graph g\ndefaults {}\n"},
    {"graph g\nnode c = counter", "graph g\nnode c = counter\n"},
    {"graph g\nnode c = counter {}", "graph g\nnode c = counter\n"},
    {"graph g\nnode c = counter { every = 2s, }", "graph g\nnode c = counter { every = 2s }\n"},
    {"graph g\nnode t = trainer {\n  a = 1, b = 2\n\n  c = 3\n}",
     "graph g\nnode t = trainer { a = 1, b = 2, c = 3 }\n"},
    {"graph g\na -> b", "graph g\na -> b\n"},
    {"graph g\na -> b.in -> c\nx.model -> y.model", "graph g\na -> b.in -> c\nx.model -> y.model\n"},
    {"graph g\na ->\n  b", "graph g\na -> b\n"},
  };
  for (const auto& r : rows) {
    std::size_t errors = 0;
    BOOST_TEST_CONTEXT("input: " << r.input) {
      BOOST_TEST(parsed(r.input, &errors) == r.printout);
      BOOST_TEST(errors == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_printout_parses_back_to_the_same_printout) {
  const std::string src = conveyor::dsl::testing::fashion_example;
  std::string once = parsed(src);
  std::size_t errors = 0;
  BOOST_TEST(parsed(once, &errors) == once);
  BOOST_TEST(errors == 0u);
}

BOOST_AUTO_TEST_CASE(every_independent_syntax_error_is_reported) {
  const std::string src =
    "graph g\n"
    "param = 3\n"                          // 2: missing name
    "node a = counter { every = }\n"       // 3: missing value
    "node b = counter\n"
    "a -> \n"                              // 5: missing endpoint (newline continues)
    "\n"
    "node c = = counter\n"                 // 7
    "b -> c\n";
  diagnostic_sink sink{"t"};
  auto tokens = lex(src, sink);
  auto file = parse(tokens, sink);
  auto diags = sink.take();
  std::vector<int> lines;
  for (const auto& d : diags) lines.push_back(d.location.line);
  BOOST_TEST(lines == (std::vector<int>{2, 3, 5, 7}), boost::test_tools::per_element());
  // What parsed is kept: node a (body had an error), node b, the edge b -> c.
  BOOST_TEST(ast::to_string(file).find("node b = counter") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_closing_brace_does_not_swallow_the_next_node) {
  const std::string src = "graph g\nnode a = counter {\n  every = 2s\nnode b = counter\na -> b\n";
  std::size_t errors = 0;
  BOOST_TEST(parsed(src, &errors)
             == "graph g\nnode a = counter { every = 2s }\nnode b = counter\na -> b\n");
  BOOST_TEST(errors == 1u);
}

BOOST_AUTO_TEST_CASE(syntax_errors_read_well) {
  namespace t = conveyor::dsl::testing;
  struct row {
    std::string input;
    std::string summary;
  };
  const row rows[] = {
    {"", "1:1 syntax: expected 'graph NAME' as the first statement"},
    {"node a = counter\n", "1:1 syntax: expected 'graph NAME' as the first statement"},
    {"graph g\ngraph h\n", "2:1 syntax: a second 'graph' statement"},
    {"graph g\nnod a = counter\n", "2:5 syntax: expected '->' after 'nod', found name 'a'"},
    {"graph g\nx = 3\n", "2:1 syntax: 'x = ...' outside braces"},
    {"graph g\nparam p = foo\n", "2:11 syntax: expected a value, found name 'foo'"},
    {"graph g\nnode node = counter\n",
     "2:6 syntax: 'node' is a reserved word and cannot be used as a node name"},
    {"graph g\nnode a = counter { every 2s }\n",
     "2:26 syntax: expected '=' after 'every', found '2s'"},
    {"graph g\nparam p = [1 2]\n", "2:14 syntax: expected ',' or ']' in a list, found '2'"},
    {"graph g\nnode a = counter {\n", "2:18 syntax: '{' is not closed"},
    {"graph g\nparam p = 1 2\n", "2:13 syntax: expected end of line, found '2'"},
    {"graph g\nparam p = [1, [2]\nnode c = counter\n", "2:11 syntax: '[' is not closed"},
  };
  for (const auto& r : rows) {
    auto result = t::compile_text(r.input);
    BOOST_TEST_CONTEXT("input: " << r.input) { BOOST_TEST(t::summary(result) == r.summary); }
  }
}

BOOST_AUTO_TEST_SUITE_END()
