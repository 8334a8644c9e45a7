#include "compute/cpu/cpu_backend.hpp"
#include "compute/cpu/dense_kernel.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace conveyor::compute;

namespace {

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

/// act(a w + bias) in double precision, rows `lda` apart in `a`.
std::vector<double> reference(int m, int n, int k, const std::vector<float>& a, int lda,
                              const std::vector<float>& w, const std::vector<float>& bias,
                              activation act) {
  std::vector<double> c(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = bias[j];
      for (int p = 0; p < k; ++p)
        s += static_cast<double>(a[static_cast<std::size_t>(i) * lda + p]) * w[static_cast<std::size_t>(p) * n + j];
      if (act == activation::relu) s = std::max(s, 0.0);
      if (act == activation::tanh) s = std::tanh(s);
      c[static_cast<std::size_t>(i) * n + j] = s;
    }
  return c;
}

/// Runs `compute` on an output with guard values around it and checks it against the
/// reference; the guards must be untouched (masked tails write nothing past a row).
template <class F>
void check(int m, int n, int k, int lda, activation act, F compute) {
  const auto a = random_floats(static_cast<std::size_t>(m) * lda, 1);
  const auto w = random_floats(static_cast<std::size_t>(k) * n, 2);
  const auto bias = random_floats(static_cast<std::size_t>(n), 3);
  const std::size_t guard = 32;
  std::vector<float> out(static_cast<std::size_t>(m) * n + 2 * guard, 1234.5f);
  compute(a.data(), w.data(), bias.data(), out.data() + guard);
  const auto want = reference(m, n, k, a, lda, w, bias, act);
  const std::string where = std::to_string(m) + " x " + std::to_string(n) + " x " + std::to_string(k);
  for (std::size_t i = 0; i < want.size(); ++i)
    BOOST_TEST_REQUIRE(std::fabs(out[guard + i] - want[i]) <= 1e-4 * (1 + std::sqrt(k)),
                       where << ": value " << i << " is " << out[guard + i] << ", want " << want[i]);
  for (std::size_t i = 0; i < guard; ++i) {
    BOOST_TEST_REQUIRE(out[i] == 1234.5f, where << ": wrote before the output");
    BOOST_TEST_REQUIRE(out[guard + want.size() + i] == 1234.5f, where << ": wrote past the output");
  }
}

const int widths[] = {1, 7, 10, 15, 16, 17, 31, 33, 64, 65, 100, 128, 256};

} // namespace

BOOST_AUTO_TEST_SUITE(dense_kernel_suite)

BOOST_AUTO_TEST_CASE(each_instruction_set_matches_a_double_precision_product_with_partial_tiles) {
  int tested = 0;
  for (auto set : {dense_kernel::isa::avx512, dense_kernel::isa::avx2_fma}) {
    if (!dense_kernel::supports(set))
      continue;
    ++tested;
    for (int m : {1, 2, 3, 5, 6, 7, 12, 13, 64, 128})
      for (int n : widths)
        for (int k : {1, 3, 100})
          for (auto act : {activation::identity, activation::relu})
            check(m, n, k, k + 3, act, [&](const float* a, const float* w, const float* b, float* c) {
              dense_kernel::forward(set, m, n, k, a, k + 3, w, b, act, c);
            });
  }
  if (tested == 0)
    BOOST_TEST_MESSAGE("this CPU runs no dense_kernel instruction set; gemm serves instead");
}

// The weight gradient's form: c = a^T d with `a` k x m (rows lda apart), against a double
// precision product, with partial tiles, and with guards around c.
BOOST_AUTO_TEST_CASE(each_instruction_set_computes_a_transposed_product) {
  int tested = 0;
  for (auto set : {dense_kernel::isa::avx512, dense_kernel::isa::avx2_fma}) {
    if (!dense_kernel::supports(set))
      continue;
    ++tested;
    for (int m : {1, 5, 6, 7, 13, 100})
      for (int n : widths)
        for (int k : {1, 3, 64, 129}) {
          const int lda = m + 5;
          const auto a = random_floats(static_cast<std::size_t>(k) * lda, 4);
          const auto d = random_floats(static_cast<std::size_t>(k) * n, 5);
          const std::size_t guard = 32, size = static_cast<std::size_t>(m) * n;
          std::vector<float> out(size + 2 * guard, 1234.5f);
          dense_kernel::transposed_product(set, m, n, k, a.data(), lda, d.data(),
                                           out.data() + guard);
          const std::string where = std::to_string(m) + " x " + std::to_string(n) + " x " +
                                    std::to_string(k);
          for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
              double want = 0;
              for (int p = 0; p < k; ++p)
                want += static_cast<double>(a[static_cast<std::size_t>(p) * lda + i]) *
                        d[static_cast<std::size_t>(p) * n + j];
              const float got = out[guard + static_cast<std::size_t>(i) * n + j];
              BOOST_TEST_REQUIRE(std::fabs(got - want) <= 1e-4 * (1 + std::sqrt(k)),
                                 where << ": (" << i << ", " << j << ") is " << got << ", want "
                                       << want);
            }
          for (std::size_t i = 0; i < guard; ++i) {
            BOOST_TEST_REQUIRE(out[i] == 1234.5f, where << ": wrote before the output");
            BOOST_TEST_REQUIRE(out[guard + size + i] == 1234.5f, where << ": wrote past the output");
          }
        }
  }
  if (tested == 0)
    BOOST_TEST_MESSAGE("this CPU runs no dense_kernel instruction set; gemm serves instead");
}

BOOST_AUTO_TEST_CASE(dense_forward_matches_the_product_below_and_above_the_kernels_row_limit) {
  cpu_backend be;
  for (bool any_rows : {false, true}) // true: the kernel at every row count (training)
    for (int m : {1, 4, 5, dense_kernel::max_rows, dense_kernel::max_rows + 1, 300})
      for (int n : {10, 128, 256})
        for (auto act : {activation::identity, activation::relu, activation::tanh})
          check(m, n, 784, 784, act, [&](const float* a, const float* w, const float* b, float* c) {
            be.dense_forward(act, m, 784, n, a, w, b, c, any_rows);
          });
}

BOOST_AUTO_TEST_SUITE_END()
