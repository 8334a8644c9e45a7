#include "compute/cpu/elementwise.hpp"

#include <algorithm>

namespace conveyor::compute::cpu {

// one clone per instruction set; the loader picks one (an ifunc)
#define CONVEYOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

CONVEYOR_CLONES void sgd_momentum(std::size_t n, float lr, float momentum, float* __restrict w,
                                  const float* __restrict g, float* __restrict v) {
  if (momentum == 0.0f) {
    for (std::size_t i = 0; i < n; ++i) w[i] -= lr * g[i];
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float vi = momentum * v[i] + g[i];
    v[i] = vi;
    w[i] -= lr * vi;
  }
}

CONVEYOR_CLONES void bias_relu(int rows, int cols, const float* __restrict b,
                               float* __restrict z) {
  for (int r = 0; r < rows; ++r) {
    float* __restrict row = z + static_cast<std::size_t>(r) * cols;
    for (int j = 0; j < cols; ++j) row[j] = std::max(row[j] + b[j], 0.0f);
  }
}

CONVEYOR_CLONES void bias_add(int rows, int cols, const float* __restrict b,
                              float* __restrict z) {
  for (int r = 0; r < rows; ++r) {
    float* __restrict row = z + static_cast<std::size_t>(r) * cols;
    for (int j = 0; j < cols; ++j) row[j] += b[j];
  }
}

CONVEYOR_CLONES void relu_backward(std::size_t n, const float* __restrict y,
                                   float* __restrict g) {
  for (std::size_t i = 0; i < n; ++i) g[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

CONVEYOR_CLONES void add_rows(int rows, int cols, const float* __restrict a,
                              float* __restrict out) {
  for (int r = 0; r < rows; ++r) {
    const float* __restrict row = a + static_cast<std::size_t>(r) * cols;
    for (int j = 0; j < cols; ++j) out[j] += row[j];
  }
}

#undef CONVEYOR_CLONES

} // namespace conveyor::compute::cpu
