// Lowering asks the catalog, once per node, how many instances it runs and whether its
// kind accepts its values; what the kind refuses is a diagnostic at the parameter.
#include "test_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;

namespace {

/// The test catalog with a trainer whose `devices = "cpu:N"` gives N instances and a
/// cleaner that refuses a negative scale, as the runtime's registry does for its kinds.
class ruled_catalog : public test_catalog {
public:
  instance_count instances_of(const node_spec& node) const override {
    if (node.kind != "trainer") return test_catalog::instances_of(node);
    const auto& devices = node.params.at("devices").as_string();
    if (devices.rfind("cpu:", 0) != 0 || devices.size() == 4 || devices.substr(4) == "0")
      return instance_count{0, param_problem{"devices", "devices must be \"cpu:N\" with N >= 1"}};
    return instance_count{std::stoi(devices.substr(4)), std::nullopt};
  }
  std::optional<param_problem> check_params(const node_spec& node) const override {
    ++checked;
    if (node.kind == "cleaner" && node.params.at("scale").as_number() < 0)
      return param_problem{"scale", "cleaner: 'scale' must not be negative"};
    if (node.kind == "counter" && node.name == "whole")
      return param_problem{{}, "counter: this node is refused as a whole"};
    return std::nullopt;
  }
  mutable int checked = 0;
};

compile_result compile_ruled(const ruled_catalog& kinds, const std::string& src,
                             std::map<std::string, std::string> overrides = {}) {
  compile_options o;
  o.file_name = "g.flow";
  o.overrides = std::move(overrides);
  return compile(src, kinds, o);
}

} // namespace

BOOST_AUTO_TEST_SUITE(lowering)

BOOST_AUTO_TEST_CASE(a_kinds_instance_rule_sets_the_instances_of_its_nodes_in_the_spec) {
  ruled_catalog kinds;
  auto r = compile_ruled(kinds, R"(graph g
node r = csv_reader { path = "x.csv", replicas = 3 }
node t = trainer { model = "mlp", devices = "cpu:4", replicas = 2 }
r -> t
)");
  BOOST_TEST_REQUIRE(r.ok(), summary(r));
  BOOST_TEST(r.spec->find_node("r")->instances == 3); // no rule: the replicas attribute
  BOOST_TEST(r.spec->find_node("t")->instances == 4); // the rule wins over `replicas`
  BOOST_TEST(r.spec->find_node("t")->attributes.replicas == 2);
  BOOST_TEST(kinds.checked == 2);
}

BOOST_AUTO_TEST_CASE(a_value_the_instance_rule_refuses_is_an_error_at_that_parameter) {
  ruled_catalog kinds;
  auto r = compile_ruled(kinds, R"(graph g
node r = csv_reader { path = "x.csv" }
node t = trainer { model = "mlp",
  devices = "cpu:0" }
r -> t
)");
  BOOST_TEST(!r.ok());
  BOOST_TEST(summary(r) == "4:13 invalid_parameter: devices must be \"cpu:N\" with N >= 1");
}

BOOST_AUTO_TEST_CASE(a_value_from_an_override_is_reported_at_its_use_with_the_param_named) {
  ruled_catalog kinds;
  std::string src = R"(graph g
param scale = 1.0
node r = csv_reader { path = "x.csv" }
node c = cleaner { scale = $scale }
r -> c
)";
  auto r = compile_ruled(kinds, src, {{"scale", "-2.0"}});
  BOOST_TEST_REQUIRE(r.diagnostics.size() == 1u, summary(r));
  BOOST_TEST(summary(r) == "4:28 invalid_parameter: cleaner: 'scale' must not be negative");
  BOOST_TEST(r.diagnostics[0].hint == "the value comes from param 'scale'");
  auto text = format_diagnostics(r.diagnostics, src);
  BOOST_TEST(text.find("g.flow:4:28: error:") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_value_from_the_defaults_block_is_reported_there) {
  ruled_catalog kinds;
  auto r = compile_ruled(kinds, R"(graph g
defaults { scale = -1.0 }
node r = csv_reader { path = "x.csv" }
node c = cleaner
r -> c
)");
  BOOST_TEST(summary(r) == "2:20 invalid_parameter: cleaner: 'scale' must not be negative");
}

BOOST_AUTO_TEST_CASE(a_problem_naming_no_parameter_is_reported_at_the_node) {
  ruled_catalog kinds;
  auto r = compile_ruled(kinds, R"(graph g
node r = csv_reader { path = "x.csv" }
node whole = counter
r -> whole
)");
  BOOST_TEST(summary(r) == "3:6 invalid_parameter: counter: this node is refused as a whole");
}

BOOST_AUTO_TEST_CASE(every_refused_node_is_reported_in_one_compile) {
  ruled_catalog kinds;
  auto r = compile_ruled(kinds, R"(graph g
node r = csv_reader { path = "x.csv" }
node c = cleaner { scale = -1.0 }
node t = trainer { model = "mlp", devices = "gpu:0" }
r -> c -> t
)");
  BOOST_TEST(r.diagnostics.size() == 2u, summary(r));
}

BOOST_AUTO_TEST_SUITE_END()
