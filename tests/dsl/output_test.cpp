// Outputs of a compiled graph: the printer's round trip (compile, print, compile again,
// compare) and Graphviz DOT.
#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;

BOOST_AUTO_TEST_SUITE(outputs)

BOOST_AUTO_TEST_CASE(printing_and_compiling_again_gives_an_equal_spec) {
  const std::string sources[] = {
    fashion_example,
    "graph tiny\nnode c = counter\n",
    "graph g\nparam p = \"a\\$b\"\nparam q = \"x\\\\y\\\"z\\n\"\nparam f = 1.0\n"
    "defaults { restart = \"never\", strategy = \"one_for_all\", gpus = 2, on = \"l\", buffer = 1 }\n"
    "node r = csv_reader { path = \"\\$p-$q\", columns = [\"a\", \"b\"] }\n"
    "node k = cleaner { scale = 1e-9, weights = [1, 0.25] }\nnode c = counter { every = 90s }\n"
    "r -> k -> c\n",
  };
  for (const auto& src : sources) {
    BOOST_TEST_CONTEXT(src) {
      auto first = compile_ok(src);
      std::string printed = to_source(first);
      auto second = compile_ok(printed);
      BOOST_TEST(equal_ignoring_locations(first, second));
      BOOST_TEST(to_source(second) == printed);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_printout_is_explicit_and_stable) {
  auto g = compile_ok("graph g\nparam n = 2\nnode a = cleaner { replicas = $n }\nnode c = counter\na -> c\n");
  BOOST_TEST(to_source(g)
             == "graph g\n\n"
                "param n = 2\n\n"
                "node a = cleaner {\n  drop_nulls = true\n  scale = 1.0\n  weights = []\n  replicas = 2\n}\n\n"
                "node c = counter {\n  every = 1s\n}\n\n"
                "a.out -> c.in\n");
}

BOOST_AUTO_TEST_CASE(equality_ignores_locations_but_nothing_else) {
  auto a = compile_ok("graph g\nnode c = counter\n");
  auto b = compile_ok("\n\ngraph g\n\n   node c = counter\n");
  BOOST_TEST(equal_ignoring_locations(a, b));
  b.nodes[0].attributes.gpus = 1;
  BOOST_TEST(!equal_ignoring_locations(a, b));
}

BOOST_AUTO_TEST_CASE(dot_output_draws_boxes_labelled_edges_and_model_edges_in_blue) {
  auto g = compile_ok(fashion_example);
  std::string dot = to_dot(g, catalog());
  BOOST_TEST(dot.rfind("digraph \"fashion\" {\n  rankdir=LR;\n", 0) == 0u);
  BOOST_TEST(dot.find("\"train_data\" [label=\"train_data\\nidx_reader\"];") != std::string::npos);
  BOOST_TEST(dot.find("\"api\" [label=\"api\\ninference\\nx2\"];") != std::string::npos);
  BOOST_TEST(dot.find("\"train_data\" -> \"scale\";") != std::string::npos);
  BOOST_TEST(dot.find("\"test_data\" -> \"check\" [label=\"out -> data\"];") != std::string::npos);
  BOOST_TEST(dot.find("\"train\" -> \"check\" [style=bold, color=blue];")
             != std::string::npos);
  BOOST_TEST(dot.find("\"check\" -> \"models\" [style=bold, color=blue];") != std::string::npos);
  BOOST_TEST(dot.substr(dot.size() - 2) == "}\n");
}

BOOST_AUTO_TEST_CASE(dot_output_escapes_quotes) {
  graph_spec g;
  g.name = "a \"quoted\" \\ name";
  BOOST_TEST(to_dot(g, catalog()).rfind("digraph \"a \\\"quoted\\\" \\\\ name\" {", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
