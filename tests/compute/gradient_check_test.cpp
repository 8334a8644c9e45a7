// Analytic gradients against central finite differences, parameter by parameter, for
// every model kind, hidden activation, output head and the L2 term.
#include "compute/model.hpp"
#include "test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

using namespace conveyor::compute;
using conveyor::compute::test::random_floats;
using conveyor::compute::test::random_labels;

namespace {

struct gradient_case {
  std::string name;
  model_spec spec;
};

// Worst relative error over all parameters: |analytic - numeric| / max(1e-2, |a|, |n|).
void check_gradients(const gradient_case& c) {
  BOOST_TEST_CONTEXT(c.name) {
    model m(c.spec);
    const int rows = 6;
    const auto x = random_floats(static_cast<std::size_t>(rows) * m.input_width(), 11);
    std::vector<float> y;
    if (m.classes() == 0)
      y = random_floats(static_cast<std::size_t>(rows) * m.output_width(), 12);
    else
      y = random_labels(rows, m.classes(), 13);
    m.compute_gradients(x.data(), y.data(), rows);
    const std::vector<float> analytic(m.gradients(), m.gradients() + m.parameter_count());
    float* p = m.parameters();
    const float eps = 1e-3f;
    double worst = 0;
    std::size_t worst_at = 0;
    for (std::size_t i = 0; i < m.parameter_count(); ++i) {
      const float saved = p[i];
      p[i] = saved + eps;
      const double up = m.loss(x.data(), y.data(), rows);
      p[i] = saved - eps;
      const double down = m.loss(x.data(), y.data(), rows);
      p[i] = saved;
      const double numeric = (up - down) / (2.0 * eps);
      const double err = std::fabs(analytic[i] - numeric) /
                         std::max({1e-2, std::fabs(numeric), static_cast<double>(std::fabs(analytic[i]))});
      if (err > worst) {
        worst = err;
        worst_at = i;
      }
    }
    BOOST_TEST_INFO("worst parameter " << worst_at << " of " << m.parameter_count());
    BOOST_TEST(worst < 2e-2);
  }
}

model_spec spec(std::string kind, std::vector<int> layers, activation act = activation::relu,
                task t = task::automatic, float wd = 0) {
  model_spec s;
  s.kind = std::move(kind);
  s.layers = std::move(layers);
  s.hidden = act;
  s.objective = t;
  s.seed = 7;
  s.weight_decay = wd;
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(gradient_checks)

BOOST_AUTO_TEST_CASE(linear_regression_with_mse_matches_finite_differences) {
  check_gradients({"linear", spec("linear", {5, 2})});
}

BOOST_AUTO_TEST_CASE(logistic_with_sigmoid_bce_matches_finite_differences) {
  check_gradients({"logistic", spec("logistic", {5})});
}

BOOST_AUTO_TEST_CASE(softmax_with_cross_entropy_matches_finite_differences) {
  check_gradients({"softmax", spec("softmax", {5, 4})});
}

BOOST_AUTO_TEST_CASE(mlp_hidden_activations_match_finite_differences) {
  for (auto act : {activation::relu, activation::tanh, activation::sigmoid})
    check_gradients({"mlp multiclass " + std::string(to_string(act)), spec("mlp", {5, 7, 6, 3}, act)});
}

BOOST_AUTO_TEST_CASE(mlp_heads_match_finite_differences) {
  check_gradients({"mlp binary", spec("mlp", {4, 6, 1}, activation::tanh)});
  check_gradients({"mlp regression", spec("mlp", {4, 6, 2}, activation::sigmoid, task::regression)});
  check_gradients({"mlp no hidden layer", spec("mlp", {4, 3})});
}

BOOST_AUTO_TEST_CASE(l2_weight_decay_matches_finite_differences) {
  check_gradients({"mlp wd", spec("mlp", {5, 6, 3}, activation::tanh, task::automatic, 0.1f)});
  check_gradients({"linear wd", spec("linear", {5, 1}, activation::relu, task::automatic, 0.5f)});
}

BOOST_AUTO_TEST_SUITE_END()
