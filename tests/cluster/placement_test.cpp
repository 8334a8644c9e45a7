#include "cluster/placement.hpp"

#include <boost/test/unit_test.hpp>

#include <map>

using namespace conveyor::cluster;

namespace {

std::vector<node_offer> three() {
  return {{"a", {"data"}, 4, 0}, {"b", {}, 4, 2}, {"c", {"gpu"}, 4, 4}};
}

std::map<std::string, std::vector<std::size_t>> nodes_of(const std::vector<placed_instance>& p) {
  std::map<std::string, std::vector<std::size_t>> out;
  for (const auto& i : p)
    out[i.step].push_back(i.node);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(placement)

BOOST_AUTO_TEST_CASE(labels_pin_steps_and_the_rest_spread_over_the_least_loaded_nodes) {
  auto p = place({{"read", 1, "data", 0}, {"clean", 1, "", 0}, {"split", 1, "", 0},
                  {"write", 1, "", 0}},
                 three());
  BOOST_TEST_REQUIRE(bool(p), p.error);
  auto on = nodes_of(*p.value);
  BOOST_TEST(on["read"] == std::vector<std::size_t>{0});
  BOOST_TEST(on["clean"] == std::vector<std::size_t>{1});
  BOOST_TEST(on["split"] == std::vector<std::size_t>{2});
  BOOST_TEST(on["write"] == std::vector<std::size_t>{0});
}

BOOST_AUTO_TEST_CASE(replicas_go_to_different_nodes_before_any_node_gets_two) {
  auto p = place({{"fit", 4, "", 0}}, three());
  BOOST_TEST_REQUIRE(bool(p), p.error);
  BOOST_TEST(nodes_of(*p.value)["fit"] == (std::vector<std::size_t>{0, 1, 2, 0}));
}

BOOST_AUTO_TEST_CASE(gpus_are_subtracted_and_each_instance_gets_its_first_ordinal) {
  auto p = place({{"fit", 3, "", 2}}, three());
  BOOST_TEST_REQUIRE(bool(p), p.error);
  const auto& v = *p.value;
  // b (2 GPUs) and c (4) qualify; b has no other replica of fit, then c, then c again.
  BOOST_TEST(v[0].node == 1u);
  BOOST_TEST(v[0].device == 0);
  BOOST_TEST(v[1].node == 2u);
  BOOST_TEST(v[1].device == 0);
  BOOST_TEST(v[2].node == 2u);
  BOOST_TEST(v[2].device == 2);
  // A step without GPUs has no device.
  auto cpu = place({{"read", 1, "", 0}}, three());
  BOOST_TEST(cpu.value->at(0).device == -1);
}

BOOST_AUTO_TEST_CASE(a_step_that_fits_nowhere_names_its_constraint_and_every_node_considered) {
  auto p = place({{"fit", 4, "", 2}}, three());
  BOOST_TEST(!p);
  BOOST_TEST(p.error == "no node can run step 'fit' (instance 4 of 4) (gpus = 2); nodes "
                        "considered: a: 0 of 0 GPU(s) free; b: 0 of 2 GPU(s) free; c: 0 of 4 "
                        "GPU(s) free",
             p.error);
  auto labelled = place({{"serve", 1, "edge", 1}}, three());
  BOOST_TEST(labelled.error.find("(on = \"edge\", gpus = 1); nodes considered: a: not named or "
                                 "labelled 'edge'") != std::string::npos,
             labelled.error);
}

BOOST_AUTO_TEST_CASE(a_node_labelled_star_takes_any_label) {
  auto p = place({{"read", 1, "anywhere", 0}}, {{"local", {"*"}, 1, 0}});
  BOOST_TEST_REQUIRE(bool(p), p.error);
  BOOST_TEST(p.value->at(0).node == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
