#include "compute/cpu/cpu_backend.hpp"
#include "test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace conveyor::compute;

BOOST_AUTO_TEST_SUITE(cpu_backend_ops)

BOOST_AUTO_TEST_CASE(gemm_with_transposes_matches_hand_products) {
  auto& be = default_cpu_backend();
  const std::vector<float> a = {1, 2, 3, 4, 5, 6}; // 2 x 3
  const std::vector<float> b = {1, 0, 0, 1, 1, 1}; // 3 x 2
  std::vector<float> c(4, 0);
  be.gemm(false, false, 2, 2, 3, 1, a.data(), 3, b.data(), 2, 0, c.data(), 2);
  BOOST_TEST(c == (std::vector<float>{4, 5, 10, 11}), boost::test_tools::per_element());
  // A^T A (3 x 3)
  std::vector<float> d(9, 0);
  be.gemm(true, false, 3, 3, 2, 1, a.data(), 3, a.data(), 3, 0, d.data(), 3);
  BOOST_TEST(d == (std::vector<float>{17, 22, 27, 22, 29, 36, 27, 36, 45}), boost::test_tools::per_element());
  // A A^T (2 x 2)
  std::vector<float> e(4, 0);
  be.gemm(false, true, 2, 2, 3, 1, a.data(), 3, a.data(), 3, 0, e.data(), 2);
  BOOST_TEST(e == (std::vector<float>{14, 32, 32, 77}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bias_activation_fuses_bias_and_relu) {
  auto& be = default_cpu_backend();
  std::vector<float> z = {-1, 0.5f, 2, -3};
  const std::vector<float> bias = {0.5f, -1};
  be.bias_activation(activation::relu, 2, 2, bias.data(), z.data());
  BOOST_TEST(z == (std::vector<float>{0, 0, 2.5f, 0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_gives_loss_and_gradient_in_one_pass) {
  auto& be = default_cpu_backend();
  std::vector<float> z = {1, 2, 3};
  const float label = 2;
  float loss = 0;
  be.softmax_cross_entropy(1, 3, z.data(), &label, 1.0f, z.data(), &loss);
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  BOOST_TEST(loss == std::log(s) - 3.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(z[0] == std::exp(1.0) / s, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(z[2] == std::exp(3.0) / s - 1.0, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(sigmoid_bce_is_stable_for_large_logits) {
  auto& be = default_cpu_backend();
  std::vector<float> z = {100.0f, -100.0f};
  const std::vector<float> y = {0, 1};
  std::vector<float> g(2);
  float loss = 0;
  be.sigmoid_binary_cross_entropy(2, z.data(), y.data(), 0.5f, g.data(), &loss);
  BOOST_TEST(loss == 100.0f, boost::test_tools::tolerance(1e-6f)); // scaled like the gradient
  g[0] *= 2;
  g[1] *= 2;
  BOOST_TEST(g[0] == 1.0f);
  BOOST_TEST(g[1] == -1.0f);
}

BOOST_AUTO_TEST_CASE(column_sums_accumulate_with_beta) {
  auto& be = default_cpu_backend();
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<float> out = {10, 10, 10};
  be.column_sums(2, 3, a.data(), 1.0f, out.data());
  BOOST_TEST(out == (std::vector<float>{15, 17, 19}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(buffers_are_zeroed_aligned_and_released) {
  auto& be = default_cpu_backend();
  buffer b = be.allocate(1000);
  BOOST_TEST(b.size() == 1000u);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0u);
  for (std::size_t i = 0; i < b.size(); ++i) BOOST_TEST_REQUIRE(b.data()[i] == 0.0f);
  buffer moved = std::move(b);
  BOOST_TEST(b.data() == nullptr);
  BOOST_TEST(moved.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(add_dot_accumulates_a_scaled_dot_product_in_place) {
  auto& be = default_cpu_backend();
  const std::vector<float> x = {1, 2, 3}, y = {4, 5, 6};
  float acc = 1;
  be.add_dot(3, 0.5f, x.data(), y.data(), &acc);
  BOOST_TEST(acc == 17.0f); // 1 + 0.5 * 32
}

BOOST_AUTO_TEST_CASE(the_thread_count_is_a_knob_of_the_backend) {
  auto& be = default_cpu_backend();
  be.set_threads(1);
  BOOST_TEST(be.threads() == 1);
  BOOST_TEST(blas_threads() == 1); // OpenBLAS's count: process-wide
}

BOOST_AUTO_TEST_CASE(vectorized_elementwise_loops_match_scalar_loops_at_every_tail_length) {
  // the loops run as 16-, 8- or 4-float vectors (compute/cpu/elementwise): every
  // remainder of a row or vector length is checked against plain scalar arithmetic
  cpu_backend be;
  const auto close = [](float a, float b) { return std::fabs(a - b) <= 1e-6f * (1 + std::fabs(b)); };
  for (int cols = 1; cols <= 35; ++cols)
    for (int rows : {1, 3}) {
      const std::size_t n = static_cast<std::size_t>(rows) * cols;
      const auto z0 = test::random_floats(n, 40 + cols), bias = test::random_floats(cols, 41);
      auto relu = z0, plus = z0;
      be.bias_activation(activation::relu, rows, cols, bias.data(), relu.data());
      be.bias_activation(activation::identity, rows, cols, bias.data(), plus.data());
      auto grad = test::random_floats(n, 42);
      const auto grad0 = grad;
      be.activation_backward(activation::relu, n, relu.data(), grad.data());
      std::vector<float> sums(cols, 0.5f);
      be.column_sums(rows, cols, z0.data(), 2.0f, sums.data());
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < cols; ++j) {
          const std::size_t i = static_cast<std::size_t>(r) * cols + j;
          BOOST_TEST(plus[i] == z0[i] + bias[j]);
          BOOST_TEST(relu[i] == std::max(z0[i] + bias[j], 0.0f));
          BOOST_TEST(grad[i] == (relu[i] > 0 ? grad0[i] : 0.0f));
        }
      for (int j = 0; j < cols; ++j) {
        float expected = 1.0f;
        for (int r = 0; r < rows; ++r) expected += z0[static_cast<std::size_t>(r) * cols + j];
        BOOST_TEST(close(sums[j], expected));
      }
      for (float momentum : {0.0f, 0.9f}) {
        auto w = test::random_floats(n, 43), v = test::random_floats(n, 44);
        const auto g = test::random_floats(n, 45), w0 = w, v0 = v;
        be.sgd_momentum_update(n, 0.05f, momentum, w.data(), g.data(), v.data());
        for (std::size_t i = 0; i < n; ++i) {
          const float vi = momentum == 0.0f ? g[i] : momentum * v0[i] + g[i];
          BOOST_TEST(close(w[i], w0[i] - 0.05f * vi));
          BOOST_TEST(close(v[i], momentum == 0.0f ? v0[i] : vi));
        }
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()
