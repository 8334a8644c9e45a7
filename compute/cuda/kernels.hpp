// The CUDA backend's own kernels: everything cuBLAS has no routine for, fused where it
// saves a pass over memory (bias + activation, softmax + cross-entropy, the optimizer
// updates). Each function launches on `s` and returns at once; arguments follow
// compute/backend.hpp. Sums that the backend contract takes in double (losses, dot
// products) are reduced in a fixed order (per-block partials, then one block), so a
// result does not depend on scheduling.
#pragma once

#include "compute/backend.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace conveyor::compute::gpu {

/// Partial sums of reductions: each reduction needs `reduction_scratch(n)` doubles.
std::size_t reduction_scratch(std::size_t n);

void fill(cudaStream_t s, float* dst, float value, std::size_t n);
void gather_rows(cudaStream_t s, int rows, int cols, const float* table, const float* index,
                 float* out);
void bias_activation(cudaStream_t s, activation act, int rows, int cols, const float* bias,
                     float* z);
void activation_backward(cudaStream_t s, activation act, std::size_t n, const float* y,
                         float* grad);
void softmax_rows(cudaStream_t s, int rows, int cols, float* z);
void sigmoid(cudaStream_t s, std::size_t n, float* z);
/// The loss functions write per-row losses into `row_loss` (rows doubles), then reduce
/// them into *loss = grad_scale * sum, using `scratch`.
void softmax_cross_entropy(cudaStream_t s, int rows, int cols, const float* logits,
                           const float* labels, float grad_scale, float* grad, float* loss,
                           double* row_loss, double* scratch);
void sigmoid_binary_cross_entropy(cudaStream_t s, int rows, const float* logits,
                                  const float* labels, float grad_scale, float* grad,
                                  float* loss, double* row_loss, double* scratch);
void squared_error(cudaStream_t s, std::size_t n, const float* pred, const float* target,
                   float grad_scale, float* grad, float* loss, double* scratch);
void axpy(cudaStream_t s, std::size_t n, float alpha, const float* x, float* y);
void scale(cudaStream_t s, std::size_t n, float alpha, float* x);
void add_dot(cudaStream_t s, std::size_t n, float alpha, const float* x, const float* y,
             float* out, double* scratch);
void sgd_momentum_update(cudaStream_t s, std::size_t n, float lr, float momentum, float* w,
                         const float* g, float* v);
void adam_update(cudaStream_t s, std::size_t n, float lr, float beta1, float beta2, float eps,
                 long long step, float* w, const float* g, float* m, float* v);
/// dst = bf16(src), round to nearest even; `dst` holds n 16-bit values.
void to_bf16(cudaStream_t s, std::size_t n, const float* src, std::uint16_t* dst);

} // namespace conveyor::compute::gpu
