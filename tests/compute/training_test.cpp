// Models learning tiny problems end to end, deterministic initialisation, the replica
// gradient-combination rule, concurrent prediction and label validation.
#include "compute/metrics.hpp"
#include "compute/model.hpp"
#include "compute/optimizer.hpp"
#include "test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <thread>

using namespace conveyor::compute;
using conveyor::compute::test::random_floats;
namespace tt = boost::test_tools;

namespace {

model_spec make_spec(std::string kind, std::vector<int> layers, activation act = activation::relu,
                     std::uint64_t seed = 1) {
  model_spec s;
  s.kind = std::move(kind);
  s.layers = std::move(layers);
  s.hidden = act;
  s.seed = seed;
  return s;
}

float train(model& m, optimizer& opt, const std::vector<float>& x, const std::vector<float>& y,
            int rows, int steps) {
  float loss = 0;
  for (int i = 0; i < steps; ++i) {
    m.compute_gradients(x.data(), y.data(), rows);
    loss = m.loss_to_host();
    opt.step(m.parameters(), m.gradients());
  }
  return loss;
}

} // namespace

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(mlp_learns_xor) {
  model m(make_spec("mlp", {2, 8, 2}, activation::tanh, 3));
  optimizer_spec os;
  os.kind = optimizer_kind::adam;
  os.learning_rate = 0.05f;
  optimizer opt(os, m.parameter_count());
  const std::vector<float> x = {0, 0, 0, 1, 1, 0, 1, 1};
  const std::vector<float> y = {0, 1, 1, 0};
  const float loss = train(m, opt, x, y, 4, 500);
  BOOST_TEST(loss < 0.05f);
  std::vector<float> p(8);
  m.predict(x.data(), 4, p.data());
  BOOST_TEST(accuracy(p.data(), y.data(), 4, 2) == 1.0);
}

BOOST_AUTO_TEST_CASE(linear_regression_recovers_known_weights) {
  const int rows = 256;
  const auto x = random_floats(rows * 3, 5);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = 2.0f * x[r * 3] - 1.0f * x[r * 3 + 1] + 0.5f * x[r * 3 + 2] + 3.0f;
  model m(make_spec("linear", {3, 1}));
  optimizer_spec os;
  os.learning_rate = 0.1f;
  os.momentum = 0.9f;
  optimizer opt(os, m.parameter_count());
  train(m, opt, x, y, rows, 400);
  const float* p = m.parameters(); // W (3 x 1) then b
  BOOST_TEST(p[0] == 2.0f, tt::tolerance(1e-3f));
  BOOST_TEST(p[1] == -1.0f, tt::tolerance(1e-3f));
  BOOST_TEST(p[2] == 0.5f, tt::tolerance(1e-3f));
  BOOST_TEST(p[3] == 3.0f, tt::tolerance(1e-3f));
  std::vector<float> pred(rows);
  m.predict(x.data(), rows, pred.data());
  BOOST_TEST(r2(pred.data(), y.data(), rows) > 0.9999);
}

BOOST_AUTO_TEST_CASE(logistic_separates_separable_data) {
  const int rows = 200;
  const auto x = random_floats(rows * 2, 8);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = x[r * 2] + 0.5f * x[r * 2 + 1] > 0.1f ? 1.0f : 0.0f;
  model m(make_spec("logistic", {2}));
  optimizer_spec os;
  os.learning_rate = 0.5f;
  os.momentum = 0.9f;
  optimizer opt(os, m.parameter_count());
  train(m, opt, x, y, rows, 300);
  std::vector<float> p(rows);
  m.predict(x.data(), rows, p.data());
  BOOST_TEST(accuracy(p.data(), y.data(), rows, 1) >= 0.98);
  BOOST_TEST(auc(p.data(), y.data(), rows) > 0.99);
}

BOOST_AUTO_TEST_CASE(softmax_learns_three_blobs) {
  const int rows = 300;
  auto x = random_floats(rows * 2, 21, -0.3f, 0.3f);
  std::vector<float> y(rows);
  const float cx[] = {-1, 1, 0}, cy[] = {0, 0, 1.5f};
  for (int r = 0; r < rows; ++r) {
    y[r] = static_cast<float>(r % 3);
    x[r * 2] += cx[r % 3];
    x[r * 2 + 1] += cy[r % 3];
  }
  model m(make_spec("softmax", {2, 3}));
  optimizer_spec os;
  os.kind = optimizer_kind::adam;
  os.learning_rate = 0.1f;
  optimizer opt(os, m.parameter_count());
  train(m, opt, x, y, rows, 200);
  std::vector<float> p(rows * 3);
  m.predict(x.data(), rows, p.data());
  BOOST_TEST(accuracy(p.data(), y.data(), rows, 3) >= 0.99);
  for (int r = 0; r < rows; ++r)
    BOOST_TEST_REQUIRE(p[r * 3] + p[r * 3 + 1] + p[r * 3 + 2] == 1.0f, tt::tolerance(1e-5f));
}

BOOST_AUTO_TEST_CASE(initialisation_is_deterministic_per_seed) {
  model a(make_spec("mlp", {20, 16, 4}, activation::relu, 42));
  model b(make_spec("mlp", {20, 16, 4}, activation::relu, 42));
  model c(make_spec("mlp", {20, 16, 4}, activation::relu, 43));
  BOOST_TEST(a.parameters_to_host() == b.parameters_to_host(), tt::per_element());
  BOOST_TEST(a.parameters_to_host() != c.parameters_to_host());
  // He for the relu layer: weight variance about 2 / fan_in; biases zero.
  const auto p = a.parameters_to_host();
  double ss = 0;
  for (int i = 0; i < 20 * 16; ++i) ss += p[i] * p[i];
  BOOST_TEST(ss / (20 * 16) == 2.0 / 20, tt::tolerance(0.25));
  for (int j = 0; j < 16; ++j) BOOST_TEST_REQUIRE(p[20 * 16 + j] == 0.0f);
  // Glorot uniform for the output layer: |w| <= sqrt(6 / (16 + 4)).
  for (std::size_t i = 20 * 16 + 16; i < 20 * 16 + 16 + 64; ++i)
    BOOST_TEST_REQUIRE(std::fabs(p[i]) <= std::sqrt(6.0 / 20));
}

BOOST_AUTO_TEST_CASE(replica_gradients_combine_weighted_by_rows_into_the_full_batch_gradient) {
  const auto spec = make_spec("mlp", {6, 5, 3}, activation::tanh, 9);
  const int rows = 10, first = 4; // unequal shards
  const auto x = random_floats(rows * 6, 30);
  const auto y = test::random_labels(rows, 3, 31);
  model full(spec), a(spec), b(spec);
  full.compute_gradients(x.data(), y.data(), rows);
  a.compute_gradients(x.data(), y.data(), first);
  b.compute_gradients(x.data() + first * 6, y.data() + first, rows - first);
  for (std::size_t i = 0; i < full.parameter_count(); ++i) {
    const float combined = (a.gradients()[i] * first + b.gradients()[i] * (rows - first)) / rows;
    BOOST_TEST_REQUIRE(combined == full.gradients()[i], tt::tolerance(1e-4f));
  }
}

BOOST_AUTO_TEST_CASE(predict_is_safe_from_several_threads_on_one_model) {
  const model m(make_spec("mlp", {32, 64, 10}, activation::relu, 4));
  const int rows = 3000; // more than one 1024-row block
  const auto x = random_floats(rows * 32, 50);
  std::vector<float> expected(rows * 10);
  m.predict(x.data(), rows, expected.data());
  std::vector<std::vector<float>> got(4, std::vector<float>(rows * 10));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      predict_workspace ws;
      for (int k = 0; k < 5; ++k) m.predict(x.data(), rows, got[t].data(), ws);
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) BOOST_TEST_REQUIRE(g == expected, tt::per_element());
}

BOOST_AUTO_TEST_CASE(out_of_range_labels_name_their_row) {
  model m(make_spec("softmax", {2, 3}));
  const std::vector<float> x(6, 0.0f);
  const std::vector<float> y = {0, 2, 3};
  try {
    m.compute_gradients(x.data(), y.data(), 3);
    BOOST_FAIL("expected an exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("row 2") != std::string::npos, e.what());
  }
  const std::vector<float> nan_label = {0, std::nanf(""), 1};
  BOOST_CHECK_THROW(m.compute_gradients(x.data(), nan_label.data(), 3), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
