// `--set NAME=VALUE` overrides: typed like the declared value, applied before substitution.
#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;

BOOST_AUTO_TEST_SUITE(overrides)

BOOST_AUTO_TEST_CASE(an_override_replaces_the_value_everywhere_it_is_used) {
  auto g = compile_ok(fashion_example, {{"epochs", "20"}, {"data", "/mnt/f"}});
  BOOST_TEST(g.params.at("epochs") == value{20});
  BOOST_TEST(g.find_node("train")->params.at("epochs") == value{20});
  BOOST_TEST(g.find_node("train_data")->params.at("images")
             == value{"/mnt/f/train-images-idx3-ubyte.gz"});
}

BOOST_AUTO_TEST_CASE(overrides_are_parsed_as_language_values) {
  const std::string src = "graph g\nparam s = \"a\"\nparam f = 0.5\nparam d = 1s\nparam z = 1KiB\n"
                          "param b = false\nparam l = [1]\n";
  struct row {
    std::string name;
    std::string text;
    value expected;
  };
  const row rows[] = {
    {"s", "foo", "foo"},                  // a bare word for a string param
    {"s", "\"quoted \\\"x\\\"\"", "quoted \"x\""},
    {"s", "/a/b c", "/a/b c"},
    {"f", "2", 2.0},                      // an integer for a float
    {"f", "1e-3", 0.001},
    {"d", "250ms", duration_value{250'000'000}},
    {"z", "2MiB", size_value{2u << 20}},
    {"b", "true", true},
    {"l", "[1, 2, 3]", list_value{1, 2, 3}},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT(r.name << "=" << r.text) {
      auto g = compile_ok(src, {{r.name, r.text}});
      BOOST_TEST(g.params.at(r.name) == r.expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(overrides_of_the_wrong_type_are_refused) {
  const std::string src = "graph g\nparam n = 1\nparam d = 1s\nparam b = true\n";
  const std::pair<std::string, std::string> bad[] = {
    {"n", "1.5"}, {"n", "\"1\""}, {"d", "5"}, {"b", "yes"}, {"n", "$d"}, {"n", "[1"}};
  for (const auto& [name, text] : bad) {
    BOOST_TEST_CONTEXT(name << "=" << text) {
      auto r = compile_text(src, {{name, text}});
      BOOST_REQUIRE(r.diagnostics.size() == 1u);
      BOOST_TEST(to_string(r.diagnostics[0].code) == "bad_override");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
