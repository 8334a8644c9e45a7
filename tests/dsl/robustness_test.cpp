// No input crashes, hangs or grows without bound: deep nesting, long lists, error floods,
// exponential substitution, garbage bytes.
#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;

BOOST_AUTO_TEST_SUITE(robustness)

BOOST_AUTO_TEST_CASE(deeply_nested_lists_are_an_error_not_a_stack_overflow) {
  std::string src = "graph g\nparam p = " + std::string(100000, '[') + "\n";
  auto r = compile_text(src);
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.diagnostics.front().message == "lists nested deeper than 32");
}

BOOST_AUTO_TEST_CASE(an_error_flood_stops_after_a_hundred_with_a_note) {
  std::string src = "graph g\n";
  for (int i = 0; i < 1000; ++i) src += "node n" + std::to_string(i) + " = nokind\n";
  auto r = compile_text(src);
  BOOST_REQUIRE(r.diagnostics.size() == 101u);
  BOOST_TEST((r.diagnostics.back().level == severity::warning));
  BOOST_TEST(r.diagnostics.back().message == "too many errors; stopped after 100");
  BOOST_TEST(format_diagnostics(r.diagnostics, src).find("g.flow: warning: too many errors")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exponential_substitution_is_cut_off) {
  std::string src = "graph g\nparam p0 = \"xxxxxxxxxxxxxxxx\"\n";
  for (int i = 1; i < 40; ++i)
    src += "param p" + std::to_string(i) + " = \"$p" + std::to_string(i - 1) + "$p"
           + std::to_string(i - 1) + "\"\n";
  auto r = compile_text(src);
  BOOST_TEST(!r.ok());
  BOOST_TEST(summary(r).find("too_large: param substitution produces more than") != std::string::npos);
  std::string lists = "graph g\nparam l0 = [1, 2, 3, 4]\n";
  for (int i = 1; i < 40; ++i)
    lists += "param l" + std::to_string(i) + " = [$l" + std::to_string(i - 1) + ", $l"
             + std::to_string(i - 1) + "]\n";
  BOOST_TEST(!compile_text(lists).ok());
}

BOOST_AUTO_TEST_CASE(long_lines_are_shown_as_a_window) {
  std::string src = "graph g\nparam p = \"" + std::string(100000, 'a') + "\" zzz\n";
  auto r = compile_text(src);
  BOOST_REQUIRE(!r.diagnostics.empty());
  std::string text = format_diagnostics(r.diagnostics, src);
  BOOST_TEST(text.size() < 1000u);
  BOOST_TEST(text.find("^~~") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_long_chain_compiles_without_deep_recursion) {
  std::string src = "graph g\n";
  const int n = 20000;
  for (int i = 0; i < n; ++i) src += "node n" + std::to_string(i) + " = cleaner\n";
  for (int i = 0; i + 1 < n; ++i) src += "n" + std::to_string(i) + " -> n" + std::to_string(i + 1) + "\n";
  auto g = compile_ok(src);
  BOOST_TEST(g.edges.size() == static_cast<std::size_t>(n - 1));
}

BOOST_AUTO_TEST_CASE(random_bytes_and_mutations_never_crash) {
  std::mt19937 rng(12345);
  const std::string base = fashion_example;
  const std::string alphabet = "graphmnode={}[],.->$\"\\#\n 0123456789eusKiB-_x\t";
  for (int round = 0; round < 2000; ++round) {
    std::string src = base;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !src.empty(); ++e) {
      std::size_t at = rng() % src.size();
      switch (rng() % 3) {
        case 0: src[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: src.erase(at, 1 + rng() % 20); break;
        default: src.insert(at, 1, static_cast<char>(rng() % 256)); break;
      }
    }
    auto r = compile_text(src);
    std::string text = format_diagnostics(r.diagnostics, src);
    if (r.ok()) {
      BOOST_TEST(!to_dot(*r.spec, catalog()).empty());
      auto again = compile_text(to_source(*r.spec));
      BOOST_TEST(again.ok());
      if (again.ok()) BOOST_TEST(equal_ignoring_locations(*r.spec, *again.spec));
    } else {
      BOOST_TEST(!text.empty());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
