#include "compute/model_spec.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

using namespace conveyor::compute;

namespace {

std::string error_of(model_spec s) {
  try {
    validate(std::move(s));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

model_spec spec(std::string kind, std::vector<int> layers, task t = task::automatic) {
  model_spec s;
  s.kind = std::move(kind);
  s.layers = std::move(layers);
  s.objective = t;
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(model_specs)

BOOST_AUTO_TEST_CASE(validation_resolves_task_and_normalises_logistic) {
  BOOST_TEST((validate(spec("linear", {3, 1})).objective == task::regression));
  BOOST_TEST((validate(spec("mlp", {3, 4, 2})).objective == task::classification));
  BOOST_TEST((validate(spec("logistic", {3})).layers == std::vector<int>{3, 1}));
  BOOST_TEST(parameter_count(validate(spec("mlp", {784, 256, 128, 10}))) == 235146u);
}

BOOST_AUTO_TEST_CASE(invalid_specs_are_explained) {
  BOOST_TEST(error_of(spec("forest", {3, 1})) == "unknown model kind 'forest' (expected linear, logistic, softmax or mlp)");
  BOOST_TEST(error_of(spec("linear", {3, 1, 1})) == "model 'linear': layers must be [inputs, outputs], got [3, 1, 1]");
  BOOST_TEST(error_of(spec("linear", {3, 1}, task::classification)).find("regression model") != std::string::npos);
  BOOST_TEST(error_of(spec("softmax", {3, 1})).find("classes >= 2") != std::string::npos);
  BOOST_TEST(error_of(spec("mlp", {3, 0, 2})) == "model 'mlp': layer width 0 at position 1 is outside [1, 1000000]");
  BOOST_TEST(error_of(spec("mlp", {3})).find("at least") != std::string::npos);
  BOOST_TEST(error_of(spec("mlp", {1000000, 1000000})).find("too many parameters") != std::string::npos);
  auto s = spec("mlp", {3, 2});
  s.weight_decay = -1;
  BOOST_TEST(error_of(s).find("weight_decay") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(names_parse_and_print) {
  BOOST_TEST((*parse_activation("tanh") == activation::tanh));
  BOOST_TEST(!parse_activation("gelu").has_value());
  BOOST_TEST(to_string(task::regression) == "regression");
}

BOOST_AUTO_TEST_SUITE_END()
