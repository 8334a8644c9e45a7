// The CPU backend: OpenBLAS sgemm for matrix products, and plain loops written so that
// g++ -O3 vectorizes them (contiguous inner loops, no aliasing surprises) for the rest.
// OpenBLAS is loaded by compute/cpu/openblas.cpp, which picks its kernel first.
#pragma once

#include "compute/backend.hpp"

namespace conveyor::compute {

class cpu_backend final : public backend {
public:
  const char* name() const noexcept override { return "cpu"; }
  std::string describe() const override;
  bool host_memory() const noexcept override { return true; }
  /// OpenBLAS threads: process-wide (see backend::set_threads).
  void set_threads(int n) override;
  int threads() const override;

  buffer allocate(std::size_t n) override;
  void copy_from_host(float* dst, const float* host_src, std::size_t n) override;
  void copy_to_host(float* host_dst, const float* src, std::size_t n) override;
  void copy(float* dst, const float* src, std::size_t n) override;
  void fill(float* dst, float value, std::size_t n) override;
  void gather_rows(int rows, int cols, const float* table, const float* index,
                   float* out) override;

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
            int lda, const float* b, int ldb, float beta, float* c, int ldc) override;
  /// Items spread over the backend's threads; each small item (m * n * k <= 2^16, or
  /// n = 1) by an own loop, larger ones by single-threaded sgemm (compute/cpu/batched_gemm).
  void gemm_strided_batched(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                            const float* a, int lda, std::size_t stride_a, const float* b,
                            int ldb, std::size_t stride_b, float beta, float* c, int ldc,
                            std::size_t stride_c, int count) override;
  void bias_activation(activation act, int rows, int cols, const float* bias,
                       float* z) override;
  void activation_backward(activation act, std::size_t n, const float* y,
                           float* grad) override;
  void column_sums(int rows, int cols, const float* a, float beta, float* out) override;
  void softmax_rows(int rows, int cols, float* z) override;
  void sigmoid(std::size_t n, float* z) override;
  void softmax_cross_entropy(int rows, int cols, const float* logits, const float* labels,
                             float grad_scale, float* grad, float* loss) override;
  void sigmoid_binary_cross_entropy(int rows, const float* logits, const float* labels,
                                    float grad_scale, float* grad, float* loss) override;
  void squared_error(std::size_t n, const float* pred, const float* target, float grad_scale,
                     float* grad, float* loss) override;
  void axpy(std::size_t n, float alpha, const float* x, float* y) override;
  void scale(std::size_t n, float alpha, float* x) override;
  void add_dot(std::size_t n, float alpha, const float* x, const float* y, float* out) override;
  void sgd_momentum_update(std::size_t n, float lr, float momentum, float* w, const float* g,
                           float* v) override;
  void adam_update(std::size_t n, float lr, float beta1, float beta2, float eps,
                   long long step, float* w, const float* g, float* m, float* v) override;
  void release(float* data, std::size_t n) noexcept override;

  /// A forward pass's dense layer: z (rows x out) = act(a (rows x in) w (in x out) +
  /// bias). Batches of up to dense_kernel::max_rows rows go through
  /// compute/cpu/dense_kernel (no packing), larger ones through gemm and
  /// bias_activation; with `any_rows` (a training step's parts) every batch goes through
  /// the kernel (measured in training, MLP 784-256-128-10 on 2 threads, batch 512: parts
  /// of 256 rows 195k samples/s through sgemm, 258k through the kernel). Relu and
  /// identity only: other activations take gemm.
  void dense_forward(activation act, int rows, int in, int out, const float* a,
                     const float* w, const float* bias, float* z, bool any_rows = false);
  /// c (m x n, row-major) = a^T d: `a` k x m (rows lda apart), d k x n. A band of m rows
  /// of a weight gradient A_prev^T dZ over a minibatch of k rows, by
  /// compute/cpu/dense_kernel where the CPU runs it (no packing), else by gemm.
  void transposed_product(int m, int n, int k, const float* a, int lda, const float* d,
                          float* c);
};

/// The process-wide CPU backend (stateless, so one instance serves every model).
backend& default_cpu_backend();

/// OpenBLAS threads used by each gemm, process-wide: what cpu_backend::set_threads sets.
/// For CPU-only code that holds no backend (an inference server sets 1: its workers run
/// side by side); trainers use their backend's knob.
void set_blas_threads(int n);
int blas_threads();

} // namespace conveyor::compute
