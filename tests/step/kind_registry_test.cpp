// The kind registry as the graph compiler's catalog: a kind's instance rule and its
// factory's refusals become instance counts and problems at the right parameter.
#include "dsl/front_end.hpp"
#include "step/kind_registry.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

/// `source` (no inputs) and `spread`, whose `devices = "cpu:N"` runs N instances and
/// whose factory refuses a `batch` below 1 and `low` above `high`.
kind_registry make_registry() {
  kind_registry r;
  kind_entry source;
  source.schema.name = "source";
  source.schema.outputs = {dsl::port_schema{"out", "batch"}};
  source.factory = [](const step_config&) { return std::make_unique<step>(); };
  r.add(std::move(source));

  kind_entry spread;
  spread.schema.name = "spread";
  auto param = [](std::string name, dsl::value v) {
    dsl::param_schema p;
    p.name = std::move(name);
    p.type = dsl::param_type::any;
    p.default_value = std::move(v);
    return p;
  };
  spread.schema.params = {param("devices", std::string("cpu:1")), param("batch", 8),
                          param("low", 0), param("high", 1)};
  spread.schema.inputs = {dsl::port_schema{"in", "batch"}};
  spread.factory = [](const step_config& c) {
    if (c.params.get_integer("low") > c.params.get_integer("high"))
      throw step_failure("spread: 'high' is below 'low'");
    if (c.params.get_integer("batch") < 1)
      throw step_failure("spread: parameter 'batch' must be >= 1");
    return std::make_unique<step>();
  };
  spread.instances = instance_rule{"devices", [](const step_params& p) {
                                     auto d = p.get_string("devices");
                                     if (d.rfind("cpu:", 0) != 0)
                                       throw step_failure("spread: devices must be cpu:N");
                                     return std::stoi(d.substr(4));
                                   }};
  r.add(std::move(spread));
  return r;
}

dsl::compile_result compile(const kind_registry& r, const std::string& body) {
  dsl::compile_options o;
  o.file_name = "g.flow";
  return dsl::compile("graph g\nnode src = source\n" + body + "\nsrc -> s\n", r, o);
}

std::string first_error(const dsl::compile_result& c) {
  return c.diagnostics.empty() ? std::string{}
                               : std::to_string(c.diagnostics[0].location.line) + ":" +
                                   std::to_string(c.diagnostics[0].location.column) + " " +
                                   c.diagnostics[0].message;
}

} // namespace

BOOST_AUTO_TEST_SUITE(kind_registry_suite)

BOOST_AUTO_TEST_CASE(a_kinds_instance_rule_decides_the_instances_in_the_compiled_spec) {
  auto r = make_registry();
  auto c = compile(r, "node s = spread { devices = \"cpu:3\", replicas = 5 }");
  BOOST_TEST_REQUIRE(c.ok(), first_error(c));
  BOOST_TEST(c.spec->find_node("s")->instances == 3);
  auto plain = compile(r, "node s = spread { }\nnode other = source { replicas = 2 }");
  BOOST_TEST_REQUIRE(plain.ok(), first_error(plain));
  BOOST_TEST(plain.spec->find_node("other")->instances == 2);
}

BOOST_AUTO_TEST_CASE(a_throwing_instance_rule_is_a_diagnostic_at_its_parameter) {
  auto r = make_registry();
  auto c = compile(r, "node s = spread { devices = \"gpu:1\" }");
  BOOST_TEST(!c.ok());
  BOOST_TEST(first_error(c) == "3:29 spread: devices must be cpu:N");
  BOOST_TEST(dsl::to_string(c.diagnostics[0].code) == "invalid_parameter");
}

BOOST_AUTO_TEST_CASE(a_value_the_factory_refuses_is_a_diagnostic_at_the_parameter_it_names) {
  auto r = make_registry();
  auto c = compile(r, "node s = spread { batch = 0 }");
  BOOST_TEST(first_error(c) == "3:27 spread: parameter 'batch' must be >= 1");
  // Of several named parameters, the one named first.
  auto both = compile(r, "node s = spread { low = 5, high = 2 }");
  BOOST_TEST(first_error(both) == "3:35 spread: 'high' is below 'low'");
}

BOOST_AUTO_TEST_SUITE_END()
