// The CPU backend's elementwise loops of a training step, compiled once per instruction
// set and chosen when the program loads (the build stays portable): the plain x86-64
// clone uses 4-float SSE vectors, the AVX2 one 8, the AVX-512 one 16. The AVX2 and
// AVX-512 clones may fuse a multiply and an add into one rounding, so results may differ
// from the plain clone's in the last bit.
#pragma once

#include <cstddef>

namespace conveyor::compute::cpu {

/// PyTorch SGD: v = momentum v + g; w -= lr v (momentum 0: w -= lr g; v unused).
void sgd_momentum(std::size_t n, float lr, float momentum, float* w, const float* g, float* v);
/// z[r][j] = max(z[r][j] + b[j], 0) for rows x cols, row-major.
void bias_relu(int rows, int cols, const float* b, float* z);
/// z[r][j] += b[j].
void bias_add(int rows, int cols, const float* b, float* z);
/// g[i] = y[i] > 0 ? g[i] : 0.
void relu_backward(std::size_t n, const float* y, float* g);
/// out[j] += sum over rows of a[r][j].
void add_rows(int rows, int cols, const float* a, float* out);

} // namespace conveyor::compute::cpu
