// Optimizer steps against values computed by hand with PyTorch's update rules.
#include "compute/optimizer.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

using namespace conveyor::compute;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(optimizers)

BOOST_AUTO_TEST_CASE(sgd_with_momentum_follows_pytorch_for_three_steps) {
  optimizer_spec s;
  s.kind = optimizer_kind::sgd;
  s.learning_rate = 0.1f;
  s.momentum = 0.9f;
  optimizer opt(s, 2);
  std::vector<float> w = {1.0f, -2.0f};
  const std::vector<float> g = {0.5f, 1.0f};
  // v1 = g = (.5, 1): w = (.95, -2.1)
  opt.step(w.data(), g.data());
  BOOST_TEST(w[0] == 0.95f, tt::tolerance(1e-6f));
  BOOST_TEST(w[1] == -2.1f, tt::tolerance(1e-6f));
  // v2 = .9 v1 + g = (.95, 1.9): w = (.855, -2.29)
  opt.step(w.data(), g.data());
  BOOST_TEST(w[0] == 0.855f, tt::tolerance(1e-6f));
  BOOST_TEST(w[1] == -2.29f, tt::tolerance(1e-6f));
  // v3 = .9 v2 + g = (1.355, 2.71): w = (.7195, -2.561)
  opt.step(w.data(), g.data());
  BOOST_TEST(w[0] == 0.7195f, tt::tolerance(1e-6f));
  BOOST_TEST(w[1] == -2.561f, tt::tolerance(1e-6f));
  BOOST_TEST(opt.steps() == 3);
  BOOST_TEST(opt.state().first[1] == 2.71f, tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(adam_follows_pytorch_with_bias_correction) {
  optimizer_spec s;
  s.kind = optimizer_kind::adam;
  s.learning_rate = 0.01f;
  optimizer opt(s, 1);
  std::vector<float> w = {1.0f};
  // Hand computation in double with PyTorch's formula.
  double wd = 1.0, m = 0, v = 0;
  const double grads[] = {0.5, -0.25, 1.0};
  for (int t = 1; t <= 3; ++t) {
    const float g = static_cast<float>(grads[t - 1]);
    opt.step(w.data(), &g);
    m = 0.9 * m + 0.1 * grads[t - 1];
    v = 0.999 * v + 0.001 * grads[t - 1] * grads[t - 1];
    const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
    wd -= (0.01 / bc1) * m / (std::sqrt(v) / std::sqrt(bc2) + 1e-8);
    BOOST_TEST(w[0] == wd, tt::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(state_round_trips_through_bytes_and_resumes_identically) {
  optimizer_spec s;
  s.kind = optimizer_kind::adam;
  s.learning_rate = 0.05f;
  optimizer a(s, 3);
  std::vector<float> w = {1, 2, 3};
  const std::vector<float> g = {0.1f, -0.2f, 0.3f};
  a.step(w.data(), g.data());
  a.step(w.data(), g.data());
  const auto bytes = encode_optimizer_state(a.state());
  auto back = decode_optimizer_state(bytes);
  BOOST_TEST_REQUIRE(static_cast<bool>(back), back.error);
  BOOST_TEST((*back.value == a.state()));

  optimizer b(s, 3);
  b.load_state(*back.value);
  std::vector<float> w2 = w;
  a.step(w.data(), g.data());
  b.step(w2.data(), g.data());
  BOOST_TEST(w == w2, tt::per_element());
  BOOST_TEST(b.steps() == 3);
}

BOOST_AUTO_TEST_CASE(mismatched_state_and_bad_bytes_are_rejected_with_messages) {
  optimizer_spec s;
  s.momentum = 0.9f;
  optimizer a(s, 4);
  optimizer_state wrong;
  wrong.kind = optimizer_kind::sgd;
  wrong.first.resize(3);
  BOOST_CHECK_THROW(a.load_state(wrong), std::invalid_argument);
  BOOST_TEST(!decode_optimizer_state("").value.has_value());
  BOOST_TEST(!decode_optimizer_state("\x81\xa4kind\xa3sgd").value.has_value());
  auto bytes = encode_optimizer_state(a.state());
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    BOOST_TEST_REQUIRE(!decode_optimizer_state(std::string_view(bytes).substr(0, cut)).value.has_value());
}

BOOST_AUTO_TEST_CASE(moments_are_allocated_by_the_first_step) {
  optimizer_spec s;
  s.momentum = 0.9f;
  optimizer sgd(s, 4);
  BOOST_TEST(sgd.floats_held() == 0u);
  // a fresh optimizer's state: zero moments of the full size
  BOOST_TEST(sgd.state().first == std::vector<float>(4, 0.0f), tt::per_element());
  std::vector<float> w(4, 1.0f);
  const std::vector<float> g(4, 0.5f);
  sgd.step(w.data(), g.data());
  BOOST_TEST(sgd.floats_held() == 4u);

  s.kind = optimizer_kind::adam;
  optimizer adam(s, 4), resumed(s, 4);
  adam.step(w.data(), g.data());
  BOOST_TEST(adam.floats_held() == 8u);
  resumed.load_state(adam.state()); // loading a state allocates too
  BOOST_TEST(resumed.floats_held() == 8u);
  BOOST_TEST((resumed.state() == adam.state()));
}

BOOST_AUTO_TEST_CASE(invalid_hyperparameters_are_rejected) {
  optimizer_spec s;
  s.learning_rate = 0;
  BOOST_CHECK_THROW(optimizer(s, 1), std::invalid_argument);
  s.learning_rate = 0.1f;
  s.momentum = 1.0f;
  BOOST_CHECK_THROW(optimizer(s, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
