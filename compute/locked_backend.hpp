// A backend shared by threads: every call to the backend it wraps is made under one
// mutex, and the memory it holds is counted. An inference server keeps the parameters
// of every model it serves in one (models arrive and are evicted from several threads),
// while each of its computing threads computes with a backend of its own on the same
// device (model::predict with a backend), so computing never takes this lock.
#pragma once

#include "compute/backend.hpp"

#include <atomic>
#include <memory>
#include <mutex>

namespace conveyor::compute {

class locked_backend final : public backend {
public:
  explicit locked_backend(std::unique_ptr<backend> inner);

  /// Floats allocated through it and not yet released.
  std::size_t floats_held() const noexcept { return held_.load(std::memory_order_relaxed); }
  backend& inner() noexcept { return *inner_; }

  const char* name() const noexcept override { return inner_->name(); }
  std::string describe() const override;
  bool host_memory() const noexcept override { return inner_->host_memory(); }
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
  void synchronize() override;
  void release(float* data, std::size_t n) noexcept override;

private:
  std::unique_ptr<backend> inner_;
  mutable std::mutex mutex_;
  std::atomic<std::size_t> held_{0};
};

} // namespace conveyor::compute
