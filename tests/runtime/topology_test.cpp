#include "dsl/front_end.hpp"
#include "step/kind_registry.hpp"
#include "runtime/topology.hpp"
#include "test_kinds.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

BOOST_AUTO_TEST_SUITE(topology_suite)

BOOST_AUTO_TEST_CASE(sources_terminals_and_reachability_follow_the_edges) {
  kind_registry kinds;
  testing::register_test_kinds(kinds);
  auto compiled = dsl::compile(R"(graph g
node a = numbers
node b = numbers
node p = pass
node q = pass
node s1 = collect
node s2 = collect
a -> p -> s1
b -> q
q -> s2
p -> q
)",
                               kinds);
  BOOST_TEST_REQUIRE(compiled.ok(), dsl::format_diagnostics(compiled.diagnostics, ""));
  topology t{*compiled.spec, kinds};
  BOOST_TEST(t.is_source("a"));
  BOOST_TEST(!t.is_source("p"));
  BOOST_TEST(t.is_terminal("s1"));
  BOOST_TEST(!t.is_terminal("p"));
  BOOST_TEST((t.downstream_of("p") == std::set<std::string>{"q", "s1", "s2"}));
  BOOST_TEST((t.sources_upstream_of("s2") == std::set<std::string>{"a", "b"}));
  BOOST_TEST((t.sources_upstream_of("a") == std::set<std::string>{"a"}));
  BOOST_TEST((t.terminals_reached_from("b") == std::set<std::string>{"s2"}));
  BOOST_TEST((t.neighbours_of("q") == std::set<std::string>{"b", "p", "s2"}));
  BOOST_TEST(instance_name("p", 0) == "p");
  BOOST_TEST(instance_name("p", 2) == "p#2");
}

BOOST_AUTO_TEST_SUITE_END()
