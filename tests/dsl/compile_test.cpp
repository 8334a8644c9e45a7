// Compiling whole graphs: the example of DSL.md, param substitution, defaults and
// lowering (params filled in, attributes typed, edges with explicit ports).
#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;

BOOST_AUTO_TEST_SUITE(compiling)

BOOST_AUTO_TEST_CASE(the_example_of_the_language_page_compiles) {
  auto g = compile_ok(fashion_example);
  BOOST_TEST(g.name == "fashion");
  BOOST_TEST(g.params.at("epochs") == value{10});
  BOOST_TEST(g.params.at("data") == value{"/usr/share/datasets/fashion-mnist"});
  BOOST_REQUIRE(g.nodes.size() == 7u);
  const node_spec& reader = g.nodes[0];
  BOOST_TEST(reader.name == "train_data");
  BOOST_TEST(reader.location.line == 12);
  BOOST_TEST(reader.params.at("images")
             == value{"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"});
  BOOST_TEST(reader.params.at("batch") == value{512});
  BOOST_TEST(reader.params.at("shuffle") == value{true});       // the kind's default
  BOOST_TEST(g.find_node("test_data")->params.at("batch") == value{256});
  const node_spec& train = *g.find_node("train");
  BOOST_TEST(train.params.at("epochs") == value{10});
  BOOST_TEST(train.params.at("layers") == (value{list_value{784, 256, 128, 10}}));
  BOOST_TEST(train.params.at("lr").as_number() == 0.05);
  BOOST_TEST(train.attributes.backoff_ns == 200'000'000);
  BOOST_TEST(train.attributes.max_restarts == 3);
  BOOST_TEST(train.attributes.restart_window_ns == 60'000'000'000);
  const node_spec& api = *g.find_node("api");
  BOOST_TEST(api.attributes.replicas == 2);
  BOOST_TEST(api.params.at("max_delay") == value{duration_value{500'000}});
  BOOST_TEST(api.params.at("max_memory") == value{size_value{64u << 20}});
  std::vector<std::string> edges;
  for (const auto& e : g.edges)
    edges.push_back(e.from_node + "." + e.from_port + " -> " + e.to_node + "." + e.to_port + " ("
                    + e.message_type + ")");
  BOOST_TEST((edges
               == std::vector<std::string>{
                 "train_data.out -> scale.in (batch)", "scale.out -> train.in (batch)",
                 "test_data.out -> check.data (batch)", "train.model -> check.model (model)",
                 "check.out -> models.in (model)", "models.out -> api.in (model)"}));
}

BOOST_AUTO_TEST_CASE(nodes_may_have_an_empty_or_no_body) {
  auto g = compile_ok("graph g\nnode a = counter\nnode b = counter {}\nnode c = counter {\n}\n");
  BOOST_REQUIRE(g.nodes.size() == 3u);
  for (const auto& n : g.nodes) {
    BOOST_TEST(n.params.at("every") == value{duration_value{1'000'000'000}});
    BOOST_TEST((n.attributes == node_attributes{}));
  }
}

BOOST_AUTO_TEST_CASE(defaults_apply_to_every_node_that_does_not_set_its_own) {
  auto g = compile_ok(R"(graph g
defaults {
  replicas = 2, restart = "always", strategy = "rest_for_one", buffer = 4
  on = "gpu-box", gpus = 1, backoff = 1s, batch = 512
}
node r = csv_reader { path = "p" }
node t = trainer { model = "m", batch = 64, replicas = 1, strategy = "one_for_all" }
node c = counter
r -> t
)");
  const node_spec& r = *g.find_node("r");
  BOOST_TEST(r.params.at("batch") == value{512});
  BOOST_TEST(r.attributes.replicas == 2);
  BOOST_TEST((r.attributes.restart == restart_policy::always));
  BOOST_TEST((r.attributes.strategy == restart_strategy::rest_for_one));
  BOOST_TEST(r.attributes.buffer == 4);
  BOOST_TEST(r.attributes.on == "gpu-box");
  BOOST_TEST(r.attributes.gpus == 1);
  BOOST_TEST(r.attributes.backoff_ns == 1'000'000'000);
  const node_spec& t = *g.find_node("t");
  BOOST_TEST(t.params.at("batch") == value{64});
  BOOST_TEST(t.attributes.replicas == 1);
  BOOST_TEST((t.attributes.strategy == restart_strategy::one_for_all));
  BOOST_TEST(t.attributes.buffer == 4);
  // counter declares no `batch`: the default does not reach it.
  BOOST_TEST(g.find_node("c")->params.count("batch") == 0u);
}

BOOST_AUTO_TEST_CASE(defaults_can_supply_a_required_parameter) {
  auto g = compile_ok("graph g\ndefaults { path = \"/data\" }\nnode a = csv_reader\n");
  BOOST_TEST(g.nodes[0].params.at("path") == value{"/data"});
}

BOOST_AUTO_TEST_CASE(params_substitute_as_values_and_inside_strings) {
  auto g = compile_ok(R"(graph g
param root = "/d"
param n = 3
param rate = 0.5
param wait = 2s
param cols = ["a", "b"]
param path = "$root/sub"
node r = csv_reader { path = "$path/${n}-$rate-$wait.csv", batch = $n, columns = $cols }
node k = cleaner { scale = $rate }
)");
  const node_spec& r = *g.find_node("r");
  BOOST_TEST(r.params.at("path") == value{"/d/sub/3-0.5-2s.csv"});
  BOOST_TEST(r.params.at("batch") == value{3});
  BOOST_TEST(r.params.at("columns") == (value{list_value{"a", "b"}}));
  BOOST_TEST(g.find_node("k")->params.at("scale") == value{0.5});
  BOOST_TEST(g.params.at("path") == value{"/d/sub"});
}

BOOST_AUTO_TEST_CASE(an_escaped_dollar_stays_literal) {
  auto g = compile_ok("graph g\nnode r = csv_reader { path = \"cost\\$5\" }\n");
  BOOST_TEST(g.nodes[0].params.at("path") == value{"cost$5"});
}

BOOST_AUTO_TEST_CASE(every_value_type_reaches_the_spec) {
  auto g = compile_ok(R"(graph g
node t = trainer {
  model = "m"            # string
  layers = [1, 2]        # list of integer
  lr = 1                 # an integer for a number stays an integer
  momentum = 1e-3        # float
  extra = [true, 5m, 1GiB, -2, "x", [1.5]]
}
node c = cleaner { weights = [1, 0.5], drop_nulls = false }
node i = inference { endpoint = "e", max_delay = 10ms, max_memory = 2MiB }
)");
  const node_spec& t = *g.find_node("t");
  BOOST_TEST(t.params.at("lr") == value{1});
  BOOST_TEST(t.params.at("lr").as_number() == 1.0);
  BOOST_TEST(t.params.at("momentum") == value{0.001});
  BOOST_TEST(to_source(t.params.at("extra")) == "[true, 5m, 1GiB, -2, \"x\", [1.5]]");
  BOOST_TEST(g.find_node("c")->params.at("weights") == (value{list_value{1, 0.5}}));
  BOOST_TEST(g.find_node("c")->params.at("drop_nulls") == value{false});
  BOOST_TEST(g.find_node("i")->params.at("max_memory") == value{size_value{2u << 20}});
}

BOOST_AUTO_TEST_CASE(comments_and_blank_lines_are_ignored_everywhere) {
  auto g = compile_ok(R"(# header

graph g # name
# between
node a = cleaner {   # open
  # inside
  scale = 2          # trailing

}
node b = counter  # no body
a -> # continued on the next line
  b
)");
  BOOST_TEST(g.nodes.size() == 2u);
  BOOST_TEST(g.edges.size() == 1u);
}

BOOST_AUTO_TEST_CASE(duplicate_edges_are_allowed) {
  auto g = compile_ok("graph g\nnode a = cleaner\nnode b = counter\na -> b\na -> b\n");
  BOOST_TEST(g.edges.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
