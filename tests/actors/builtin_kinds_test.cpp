#include "actors/builtin_kinds.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

BOOST_AUTO_TEST_SUITE(builtin_kinds_suite)

BOOST_AUTO_TEST_CASE(every_builtin_kind_is_registered_with_documented_params_and_batch_ports) {
  kind_registry reg;
  register_builtin_kinds(reg);
  std::vector<std::string> expected{"chaos",     "cleaner",     "counter",    "csv_reader",
                                    "csv_writer", "drift",      "evaluator",  "generate",
                                    "idx_reader",
                                    "inference",
                                    "nats_source", "publisher", "splitter",   "trainer",
                                    "zmq_source"};
  BOOST_TEST(reg.kind_names() == expected, boost::test_tools::per_element());
  for (const auto& name : expected) {
    const auto* k = reg.find(name);
    BOOST_REQUIRE(k != nullptr);
    BOOST_TEST(!k->schema.doc.empty());
    BOOST_TEST((k->schema.inputs.size() + k->schema.outputs.size()) > 0u);
    for (const auto& p : k->schema.params) {
      BOOST_TEST(!p.doc.empty(), name << "." << p.name);
      BOOST_TEST(p.required != p.default_value.has_value(), name << "." << p.name);
    }
    for (const auto& port : k->schema.inputs)
      BOOST_TEST((port.message_type == "batch" || port.message_type == "model"));
    for (const auto& port : k->schema.outputs)
      BOOST_TEST((port.message_type == "batch" || port.message_type == "model"));
  }
}

BOOST_AUTO_TEST_CASE(factories_build_steps_from_defaults_and_required_params) {
  kind_registry reg;
  register_builtin_kinds(reg);
  BOOST_TEST(make_step(*reg.find("csv_reader"), {{"path", "x.csv"}})->is_source());
  BOOST_TEST(make_step(*reg.find("idx_reader"), {{"images", "i"}, {"labels", "l"}})->is_source());
  BOOST_TEST(!make_step(*reg.find("cleaner"), {})->is_source());
  BOOST_TEST(!make_step(*reg.find("splitter"), {})->is_source());
  BOOST_TEST(!make_step(*reg.find("csv_writer"), {{"path", "o.csv"}})->is_source());
  BOOST_TEST(!make_step(*reg.find("counter"), {})->is_source());
  BOOST_TEST(!make_step(*reg.find("chaos"), {})->is_source());
  BOOST_CHECK_THROW(make_step(*reg.find("csv_reader"), {{"path", "x"}, {"delimiter", ",,"}}),
                    step_failure);
}

BOOST_AUTO_TEST_SUITE_END()
