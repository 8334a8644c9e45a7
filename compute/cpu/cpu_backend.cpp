#include "compute/cpu/cpu_backend.hpp"

#include "compute/cpu/batched_gemm.hpp"
#include "compute/cpu/dense_kernel.hpp"
#include "compute/cpu/elementwise.hpp"
#include "compute/cpu/openblas.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

namespace conveyor::compute {

namespace {
constexpr std::size_t alignment = 64;
}


buffer cpu_backend::allocate(std::size_t n) {
  if (n == 0) return buffer(this, nullptr, 0);
  std::size_t bytes = (n * sizeof(float) + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return buffer(this, static_cast<float*>(p), n);
}

void cpu_backend::release(float* data, std::size_t) noexcept { std::free(data); }

void cpu_backend::copy_from_host(float* dst, const float* src, std::size_t n) {
  if (n) std::memcpy(dst, src, n * sizeof(float));
}
void cpu_backend::copy_to_host(float* dst, const float* src, std::size_t n) {
  if (n) std::memcpy(dst, src, n * sizeof(float));
}
void cpu_backend::copy(float* dst, const float* src, std::size_t n) {
  if (n && dst != src) std::memmove(dst, src, n * sizeof(float));
}
void cpu_backend::fill(float* dst, float value, std::size_t n) { std::fill(dst, dst + n, value); }

void cpu_backend::gather_rows(int rows, int cols, const float* table, const float* index,
                              float* out) {
  const auto width = static_cast<std::size_t>(cols);
  for (int r = 0; r < rows; ++r)
    std::memcpy(out + static_cast<std::size_t>(r) * width,
                table + static_cast<std::size_t>(index[r]) * width, width * sizeof(float));
}

void cpu_backend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float* a, int lda, const float* b, int ldb, float beta, float* c,
                       int ldc) {
  if (m <= 0 || n <= 0) return;
  if (m <= 3) {
    // A few rows (serving lone requests): matrix-vector products stream B once per row,
    // where sgemm would first pack all of it (measured on the 784-256-128-10 MLP: one
    // row 40 -> 8 us, two rows 42 -> 16 us; from four rows on sgemm wins).
    for (int i = 0; i < m; ++i) {
      const float* row = trans_a ? a + i : a + static_cast<std::size_t>(i) * lda;
      const int inc = trans_a ? lda : 1;
      float* out = c + static_cast<std::size_t>(i) * ldc;
      if (trans_b) // B is n x k: out = B row
        openblas::sgemv(false, n, k, alpha, b, ldb, row, inc, beta, out, 1);
      else // B is k x n: out = B^T row
        openblas::sgemv(true, k, n, alpha, b, ldb, row, inc, beta, out, 1);
    }
    return;
  }
  openblas::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cpu_backend::dense_forward(activation act, int rows, int in, int out, const float* a,
                                const float* w, const float* bias, float* z, bool any_rows) {
  if (rows > 0 && (rows <= dense_kernel::max_rows || any_rows) && dense_kernel::available() &&
      (act == activation::identity || act == activation::relu)) {
    dense_kernel::forward(rows, out, in, a, in, w, bias, act, z);
    return;
  }
  gemm(false, false, rows, out, in, 1.0f, a, in, w, out, 0.0f, z, out);
  bias_activation(act, rows, out, bias, z);
}

void cpu_backend::transposed_product(int m, int n, int k, const float* a, int lda,
                                     const float* d, float* c) {
  if (m <= 0 || n <= 0) return;
  if (dense_kernel::available()) {
    dense_kernel::transposed_product(m, n, k, a, lda, d, c);
    return;
  }
  gemm(true, false, m, n, k, 1.0f, a, lda, d, n, 0.0f, c, n);
}

void cpu_backend::bias_activation(activation act, int rows, int cols, const float* bias,
                                  float* z) {
  if (act == activation::relu)
    return cpu::bias_relu(rows, cols, bias, z);
  if (act == activation::identity)
    return cpu::bias_add(rows, cols, bias, z);
  for (int r = 0; r < rows; ++r) {
    float* __restrict row = z + static_cast<std::size_t>(r) * cols;
    const float* __restrict b = bias;
    switch (act) {
    case activation::identity:
    case activation::relu:
      break; // above: cpu_loops, vectorized per instruction set
    case activation::tanh:
      for (int j = 0; j < cols; ++j) row[j] = std::tanh(row[j] + b[j]);
      break;
    case activation::sigmoid:
      for (int j = 0; j < cols; ++j) row[j] = 1.0f / (1.0f + std::exp(-(row[j] + b[j])));
      break;
    }
  }
}

void cpu_backend::activation_backward(activation act, std::size_t n, const float* __restrict y,
                                      float* __restrict g) {
  switch (act) {
  case activation::identity:
    break;
  case activation::relu:
    cpu::relu_backward(n, y, g);
    break;
  case activation::tanh:
    for (std::size_t i = 0; i < n; ++i) g[i] *= 1.0f - y[i] * y[i];
    break;
  case activation::sigmoid:
    for (std::size_t i = 0; i < n; ++i) g[i] *= y[i] * (1.0f - y[i]);
    break;
  }
}

void cpu_backend::column_sums(int rows, int cols, const float* a, float beta,
                              float* __restrict out) {
  if (beta == 0.0f)
    std::fill(out, out + cols, 0.0f);
  else if (beta != 1.0f)
    for (int j = 0; j < cols; ++j) out[j] *= beta;
  cpu::add_rows(rows, cols, a, out);
}

void cpu_backend::softmax_rows(int rows, int cols, float* z) {
  for (int r = 0; r < rows; ++r) {
    float* row = z + static_cast<std::size_t>(r) * cols;
    float mx = row[0];
    for (int j = 1; j < cols; ++j) mx = std::max(mx, row[j]);
    float sum = 0;
    for (int j = 0; j < cols; ++j) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < cols; ++j) row[j] *= inv;
  }
}

void cpu_backend::sigmoid(std::size_t n, float* z) {
  for (std::size_t i = 0; i < n; ++i) z[i] = 1.0f / (1.0f + std::exp(-z[i]));
}

void cpu_backend::softmax_cross_entropy(int rows, int cols, const float* logits,
                                        const float* labels, float grad_scale, float* grad,
                                        float* loss) {
  double total = 0;
  for (int r = 0; r < rows; ++r) {
    const float* in = logits + static_cast<std::size_t>(r) * cols;
    float* out = grad + static_cast<std::size_t>(r) * cols;
    float mx = in[0];
    for (int j = 1; j < cols; ++j) mx = std::max(mx, in[j]);
    const int label = static_cast<int>(labels[r]);
    const float shifted_label = in[label] - mx; // read before `out` may overwrite `in`
    float sum = 0;
    for (int j = 0; j < cols; ++j) {
      out[j] = std::exp(in[j] - mx);
      sum += out[j];
    }
    // loss_r = log(sum exp(z - max)) - (z_label - max)
    total += static_cast<double>(std::log(sum)) - shifted_label;
    const float inv = grad_scale / sum;
    for (int j = 0; j < cols; ++j) out[j] *= inv;
    out[label] -= grad_scale;
  }
  *loss = static_cast<float>(total * grad_scale);
}

void cpu_backend::sigmoid_binary_cross_entropy(int rows, const float* logits,
                                               const float* labels, float grad_scale,
                                               float* grad, float* loss) {
  double total = 0;
  for (int r = 0; r < rows; ++r) {
    const float z = logits[r];
    const float y = labels[r];
    // loss = max(z, 0) - z y + log(1 + exp(-|z|)), stable for any z.
    total += static_cast<double>(std::max(z, 0.0f) - z * y + std::log1p(std::exp(-std::fabs(z))));
    const float p = 1.0f / (1.0f + std::exp(-z));
    grad[r] = (p - y) * grad_scale;
  }
  *loss = static_cast<float>(total * grad_scale);
}

void cpu_backend::squared_error(std::size_t n, const float* pred, const float* target,
                                float grad_scale, float* grad, float* loss) {
  double total = 0;
  const float two_scale = 2.0f * grad_scale;
  for (std::size_t i = 0; i < n; ++i) {
    const float d = pred[i] - target[i];
    total += static_cast<double>(d) * d;
    grad[i] = d * two_scale;
  }
  *loss = static_cast<float>(total * grad_scale);
}

void cpu_backend::axpy(std::size_t n, float alpha, const float* __restrict x,
                       float* __restrict y) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void cpu_backend::scale(std::size_t n, float alpha, float* x) {
  for (std::size_t i = 0; i < n; ++i) x[i] *= alpha;
}

void cpu_backend::add_dot(std::size_t n, float alpha, const float* x, const float* y,
                          float* out) {
  // Blocks of float partial sums (vectorizable) folded into a double.
  double total = 0;
  constexpr std::size_t block = 1024;
  for (std::size_t i = 0; i < n; i += block) {
    const std::size_t end = std::min(n, i + block);
    float s = 0;
    for (std::size_t k = i; k < end; ++k) s += x[k] * y[k];
    total += s;
  }
  *out = static_cast<float>(*out + alpha * total);
}

void cpu_backend::sgd_momentum_update(std::size_t n, float lr, float momentum,
                                      float* __restrict w, const float* __restrict g,
                                      float* __restrict v) {
  cpu::sgd_momentum(n, lr, momentum, w, g, v);
}

void cpu_backend::adam_update(std::size_t n, float lr, float beta1, float beta2, float eps,
                              long long step, float* __restrict w, const float* __restrict g,
                              float* __restrict m, float* __restrict v) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
  for (std::size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + one_b1 * gi;
    const float vi = beta2 * v[i] + one_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

backend& default_cpu_backend() {
  static cpu_backend instance;
  return instance;
}

std::string cpu_backend::describe() const {
  const auto& k = openblas::kernel();
  if (!k.error.empty()) return std::string("cpu: ") + k.error;
  // the config starts "OpenBLAS 0.3.21 ..." (build options follow)
  const auto version_end = k.config.find(' ', k.config.find(' ') + 1);
  return "cpu: " + k.config.substr(0, version_end) + ", kernel " + k.corename + " (" + k.reason +
         ")";
}

void cpu_backend::gemm_strided_batched(bool trans_a, bool trans_b, int m, int n, int k,
                                       float alpha, const float* a, int lda,
                                       std::size_t stride_a, const float* b, int ldb,
                                       std::size_t stride_b, float beta, float* c, int ldc,
                                       std::size_t stride_c, int count) {
  if (count <= 0 || m <= 0 || n <= 0) return;
  // One output column: a dot product per row, where sgemm's kernels are at their worst.
  const bool small = n == 1 || static_cast<long long>(m) * n * k <= cpu::small_gemm_flops;
  // Waking threads costs tens of microseconds (more on a busy machine): only for batches
  // with work enough to pay for it.
  const long long work = static_cast<long long>(count) * m * n * k;
  cpu::parallel_for(count, work >= cpu::parallel_gemm_flops ? threads() : 1, [&](int i) {
    const auto at = static_cast<std::size_t>(i);
    if (small)
      cpu::small_gemm(trans_a, trans_b, m, n, k, alpha, a + at * stride_a, lda,
                      b + at * stride_b, ldb, beta, c + at * stride_c, ldc);
    else
      openblas::sgemm(trans_a, trans_b, m, n, k, alpha, a + at * stride_a, lda,
                      b + at * stride_b, ldb, beta, c + at * stride_c, ldc);
  });
}

void cpu_backend::set_threads(int n) { set_blas_threads(n); }
int cpu_backend::threads() const { return blas_threads(); }

void set_blas_threads(int n) { openblas::set_threads(std::max(1, n)); }
int blas_threads() { return openblas::threads(); }

} // namespace conveyor::compute
