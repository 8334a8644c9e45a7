#include "compute/cuda/kernels.hpp"

#include "compute/cuda/gpu_error.hpp"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

namespace conveyor::compute::gpu {

namespace {

constexpr int threads = 256;
constexpr int max_blocks = 1024; // grid-stride loops beyond this
constexpr int warp = 32;

int blocks_for(std::size_t n) {
  return static_cast<int>(std::max<std::size_t>(
      1, std::min<std::size_t>((n + threads - 1) / threads, max_blocks)));
}

void launched() { CONVEYOR_CUDA(cudaGetLastError()); }

#define CONVEYOR_GRID_STRIDE(i, n)                                                           \
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;      \
       i < (n); i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

__device__ float activate(activation act, float v) {
  switch (act) {
  case activation::identity: return v;
  case activation::relu: return fmaxf(v, 0.0f);
  case activation::tanh: return tanhf(v);
  case activation::sigmoid: return 1.0f / (1.0f + expf(-v));
  }
  return v;
}

__global__ void fill_kernel(float* dst, float value, std::size_t n) {
  CONVEYOR_GRID_STRIDE(i, n) dst[i] = value;
}

__global__ void gather_rows_kernel(std::size_t n, int cols, const float* __restrict__ table,
                                   const float* __restrict__ index, float* __restrict__ out) {
  CONVEYOR_GRID_STRIDE(i, n) {
    const std::size_t row = static_cast<std::size_t>(index[i / cols]);
    out[i] = table[row * cols + i % cols];
  }
}

__global__ void bias_activation_kernel(activation act, std::size_t n, int cols,
                                       const float* __restrict__ bias, float* __restrict__ z) {
  CONVEYOR_GRID_STRIDE(i, n) z[i] = activate(act, z[i] + bias[i % cols]);
}

__global__ void activation_backward_kernel(activation act, std::size_t n,
                                           const float* __restrict__ y,
                                           float* __restrict__ g) {
  CONVEYOR_GRID_STRIDE(i, n) {
    const float yi = y[i];
    switch (act) {
    case activation::identity: break;
    case activation::relu: g[i] = yi > 0.0f ? g[i] : 0.0f; break;
    case activation::tanh: g[i] *= 1.0f - yi * yi; break;
    case activation::sigmoid: g[i] *= yi * (1.0f - yi); break;
    }
  }
}

__device__ float warp_max(float v) {
  for (int o = warp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ float warp_sum(float v) {
  for (int o = warp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row: the row's max and sum of exponentials by shuffles.
__global__ void softmax_rows_kernel(int rows, int cols, float* z) {
  const int row = blockIdx.x * (blockDim.x / warp) + threadIdx.x / warp;
  const int lane = threadIdx.x % warp;
  if (row >= rows) return;
  float* r = z + static_cast<std::size_t>(row) * cols;
  float mx = -INFINITY;
  for (int j = lane; j < cols; j += warp) mx = fmaxf(mx, r[j]);
  mx = warp_max(mx);
  float sum = 0;
  for (int j = lane; j < cols; j += warp) sum += expf(r[j] - mx);
  const float inv = 1.0f / warp_sum(sum);
  for (int j = lane; j < cols; j += warp) r[j] = expf(r[j] - mx) * inv;
}

// Fused softmax + cross-entropy, one warp per row; `grad` may alias `logits` (every lane
// reads its elements before writing them, and the label's logit is read first).
__global__ void softmax_cross_entropy_kernel(int rows, int cols, const float* logits,
                                             const float* __restrict__ labels,
                                             float grad_scale, float* grad,
                                             double* __restrict__ row_loss) {
  const int row = blockIdx.x * (blockDim.x / warp) + threadIdx.x / warp;
  const int lane = threadIdx.x % warp;
  if (row >= rows) return;
  const float* in = logits + static_cast<std::size_t>(row) * cols;
  float* out = grad + static_cast<std::size_t>(row) * cols;
  const int label = static_cast<int>(labels[row]);
  const float z_label = in[label];
  float mx = -INFINITY;
  for (int j = lane; j < cols; j += warp) mx = fmaxf(mx, in[j]);
  mx = warp_max(mx);
  float sum = 0;
  for (int j = lane; j < cols; j += warp) sum += expf(in[j] - mx);
  sum = warp_sum(sum);
  __syncwarp();
  const float inv = grad_scale / sum;
  for (int j = lane; j < cols; j += warp)
    out[j] = expf(in[j] - mx) * inv - (j == label ? grad_scale : 0.0f);
  if (lane == 0)
    row_loss[row] = static_cast<double>(logf(sum)) - static_cast<double>(z_label - mx);
}

__global__ void sigmoid_bce_kernel(int rows, const float* logits,
                                   const float* __restrict__ labels, float grad_scale,
                                   float* grad, double* __restrict__ row_loss) {
  CONVEYOR_GRID_STRIDE(r, static_cast<std::size_t>(rows)) {
    const float z = logits[r];
    const float y = labels[r];
    row_loss[r] = static_cast<double>(fmaxf(z, 0.0f) - z * y + log1pf(expf(-fabsf(z))));
    grad[r] = (1.0f / (1.0f + expf(-z)) - y) * grad_scale;
  }
}

// Reductions in double: each block sums its grid-stride share of term(i) in a fixed
// order, then one block folds the partials in block order.
template <class Term>
__global__ void partial_sums_kernel(std::size_t n, Term term, double* partials) {
  __shared__ double shared[threads];
  double s = 0;
  CONVEYOR_GRID_STRIDE(i, n) s += term(i);
  shared[threadIdx.x] = s;
  __syncthreads();
  for (int half = threads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// *out = (accumulate ? *out : 0) + scale * sum of partials
__global__ void finish_sum_kernel(int count, const double* partials, double scale,
                                  bool accumulate, float* out) {
  __shared__ double shared[threads];
  double s = 0;
  for (int i = threadIdx.x; i < count; i += threads) s += partials[i];
  shared[threadIdx.x] = s;
  __syncthreads();
  for (int half = threads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double base = accumulate ? static_cast<double>(*out) : 0.0;
    *out = static_cast<float>(base + scale * shared[0]);
  }
}

template <class Term>
void reduce(cudaStream_t s, std::size_t n, Term term, double scale, bool accumulate, float* out,
            double* scratch) {
  const int blocks = blocks_for(n);
  partial_sums_kernel<<<blocks, threads, 0, s>>>(n, term, scratch);
  finish_sum_kernel<<<1, threads, 0, s>>>(blocks, scratch, scale, accumulate, out);
  launched();
}

struct stored_term {
  const double* v;
  __device__ double operator()(std::size_t i) const { return v[i]; }
};

struct dot_term {
  const float* x;
  const float* y;
  __device__ double operator()(std::size_t i) const {
    return static_cast<double>(x[i]) * static_cast<double>(y[i]);
  }
};

// Squared error: writes the gradient and returns the term, in one pass.
struct squared_error_term {
  const float* pred;
  const float* target;
  float two_scale;
  float* grad;
  __device__ double operator()(std::size_t i) const {
    const float d = pred[i] - target[i];
    grad[i] = d * two_scale;
    return static_cast<double>(d) * d;
  }
};

__global__ void sigmoid_kernel(std::size_t n, float* z) {
  CONVEYOR_GRID_STRIDE(i, n) z[i] = 1.0f / (1.0f + expf(-z[i]));
}

__global__ void axpy_kernel(std::size_t n, float alpha, const float* __restrict__ x,
                            float* __restrict__ y) {
  CONVEYOR_GRID_STRIDE(i, n) y[i] += alpha * x[i];
}

__global__ void scale_kernel(std::size_t n, float alpha, float* x) {
  CONVEYOR_GRID_STRIDE(i, n) x[i] *= alpha;
}

__global__ void sgd_kernel(std::size_t n, float lr, float momentum, float* __restrict__ w,
                           const float* __restrict__ g, float* __restrict__ v) {
  CONVEYOR_GRID_STRIDE(i, n) {
    if (momentum == 0.0f) {
      w[i] -= lr * g[i];
    } else {
      const float vi = momentum * v[i] + g[i];
      v[i] = vi;
      w[i] -= lr * vi;
    }
  }
}

__global__ void adam_kernel(std::size_t n, float step_size, float inv_sqrt_bc2, float beta1,
                            float beta2, float eps, float* __restrict__ w,
                            const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v) {
  CONVEYOR_GRID_STRIDE(i, n) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

__global__ void to_bf16_kernel(std::size_t n, const float* __restrict__ src,
                               __nv_bfloat16* __restrict__ dst) {
  CONVEYOR_GRID_STRIDE(i, n) dst[i] = __float2bfloat16_rn(src[i]);
}

int row_blocks(int rows) { return (rows + threads / warp - 1) / (threads / warp); }

} // namespace

std::size_t reduction_scratch(std::size_t n) { return static_cast<std::size_t>(blocks_for(n)); }

void fill(cudaStream_t s, float* dst, float value, std::size_t n) {
  if (!n) return;
  fill_kernel<<<blocks_for(n), threads, 0, s>>>(dst, value, n);
  launched();
}

void gather_rows(cudaStream_t s, int rows, int cols, const float* table, const float* index,
                 float* out) {
  const auto n = static_cast<std::size_t>(rows) * cols;
  if (!n) return;
  gather_rows_kernel<<<blocks_for(n), threads, 0, s>>>(n, cols, table, index, out);
  launched();
}

void bias_activation(cudaStream_t s, activation act, int rows, int cols, const float* bias,
                     float* z) {
  const auto n = static_cast<std::size_t>(rows) * cols;
  if (!n) return;
  bias_activation_kernel<<<blocks_for(n), threads, 0, s>>>(act, n, cols, bias, z);
  launched();
}

void activation_backward(cudaStream_t s, activation act, std::size_t n, const float* y,
                         float* grad) {
  if (!n || act == activation::identity) return;
  activation_backward_kernel<<<blocks_for(n), threads, 0, s>>>(act, n, y, grad);
  launched();
}

void softmax_rows(cudaStream_t s, int rows, int cols, float* z) {
  if (rows <= 0 || cols <= 0) return;
  softmax_rows_kernel<<<row_blocks(rows), threads, 0, s>>>(rows, cols, z);
  launched();
}

void sigmoid(cudaStream_t s, std::size_t n, float* z) {
  if (!n) return;
  sigmoid_kernel<<<blocks_for(n), threads, 0, s>>>(n, z);
  launched();
}

void softmax_cross_entropy(cudaStream_t s, int rows, int cols, const float* logits,
                           const float* labels, float grad_scale, float* grad, float* loss,
                           double* row_loss, double* scratch) {
  if (rows > 0)
    softmax_cross_entropy_kernel<<<row_blocks(rows), threads, 0, s>>>(rows, cols, logits, labels,
                                                                      grad_scale, grad, row_loss);
  reduce(s, static_cast<std::size_t>(std::max(rows, 0)), stored_term{row_loss}, grad_scale, false,
         loss, scratch);
}

void sigmoid_binary_cross_entropy(cudaStream_t s, int rows, const float* logits,
                                  const float* labels, float grad_scale, float* grad,
                                  float* loss, double* row_loss, double* scratch) {
  const auto n = static_cast<std::size_t>(std::max(rows, 0));
  if (n) sigmoid_bce_kernel<<<blocks_for(n), threads, 0, s>>>(rows, logits, labels, grad_scale, grad, row_loss);
  reduce(s, n, stored_term{row_loss}, grad_scale, false, loss, scratch);
}

void squared_error(cudaStream_t s, std::size_t n, const float* pred, const float* target,
                   float grad_scale, float* grad, float* loss, double* scratch) {
  reduce(s, n, squared_error_term{pred, target, 2.0f * grad_scale, grad}, grad_scale, false, loss,
         scratch);
}

void axpy(cudaStream_t s, std::size_t n, float alpha, const float* x, float* y) {
  if (!n) return;
  axpy_kernel<<<blocks_for(n), threads, 0, s>>>(n, alpha, x, y);
  launched();
}

void scale(cudaStream_t s, std::size_t n, float alpha, float* x) {
  if (!n) return;
  scale_kernel<<<blocks_for(n), threads, 0, s>>>(n, alpha, x);
  launched();
}

void add_dot(cudaStream_t s, std::size_t n, float alpha, const float* x, const float* y,
             float* out, double* scratch) {
  reduce(s, n, dot_term{x, y}, alpha, true, out, scratch);
}

void sgd_momentum_update(cudaStream_t s, std::size_t n, float lr, float momentum, float* w,
                         const float* g, float* v) {
  if (!n) return;
  sgd_kernel<<<blocks_for(n), threads, 0, s>>>(n, lr, momentum, w, g, v);
  launched();
}

void adam_update(cudaStream_t s, std::size_t n, float lr, float beta1, float beta2, float eps,
                 long long step, float* w, const float* g, float* m, float* v) {
  if (!n) return;
  // The bias corrections in double on the host, as the CPU backend computes them.
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  adam_kernel<<<blocks_for(n), threads, 0, s>>>(n, static_cast<float>(lr / bc1),
                                                static_cast<float>(1.0 / std::sqrt(bc2)), beta1,
                                                beta2, eps, w, g, m, v);
  launched();
}

void to_bf16(cudaStream_t s, std::size_t n, const float* src, std::uint16_t* dst) {
  if (!n) return;
  to_bf16_kernel<<<blocks_for(n), threads, 0, s>>>(n, src,
                                                   reinterpret_cast<__nv_bfloat16*>(dst));
  launched();
}

} // namespace conveyor::compute::gpu
