#include "compute/locked_backend.hpp"

namespace conveyor::compute {

locked_backend::locked_backend(std::unique_ptr<backend> inner) : inner_(std::move(inner)) {}

#define CONVEYOR_LOCKED(call)                                                                \
  std::lock_guard<std::mutex> lock(mutex_);                                                  \
  return inner_->call

std::string locked_backend::describe() const { CONVEYOR_LOCKED(describe()); }
void locked_backend::set_threads(int n) { CONVEYOR_LOCKED(set_threads(n)); }
int locked_backend::threads() const { CONVEYOR_LOCKED(threads()); }

buffer locked_backend::allocate(std::size_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  buffer inner = inner_->allocate(n);
  held_.fetch_add(n, std::memory_order_relaxed);
  // Released through this backend, under its lock, and uncounted there.
  return buffer(this, inner.detach(), n);
}

void locked_backend::release(float* data, std::size_t n) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  held_.fetch_sub(n, std::memory_order_relaxed);
  inner_->release(data, n);
}

void locked_backend::copy_from_host(float* dst, const float* host_src, std::size_t n) {
  CONVEYOR_LOCKED(copy_from_host(dst, host_src, n));
}
void locked_backend::copy_to_host(float* host_dst, const float* src, std::size_t n) {
  CONVEYOR_LOCKED(copy_to_host(host_dst, src, n));
}
void locked_backend::copy(float* dst, const float* src, std::size_t n) {
  CONVEYOR_LOCKED(copy(dst, src, n));
}
void locked_backend::fill(float* dst, float value, std::size_t n) {
  CONVEYOR_LOCKED(fill(dst, value, n));
}
void locked_backend::gather_rows(int rows, int cols, const float* table, const float* index,
                                 float* out) {
  CONVEYOR_LOCKED(gather_rows(rows, cols, table, index, out));
}
void locked_backend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float* a, int lda, const float* b, int ldb, float beta, float* c,
                          int ldc) {
  CONVEYOR_LOCKED(gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}
void locked_backend::gemm_strided_batched(bool trans_a, bool trans_b, int m, int n, int k,
                                          float alpha, const float* a, int lda,
                                          std::size_t stride_a, const float* b, int ldb,
                                          std::size_t stride_b, float beta, float* c, int ldc,
                                          std::size_t stride_c, int count) {
  CONVEYOR_LOCKED(gemm_strided_batched(trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b,
                                       ldb, stride_b, beta, c, ldc, stride_c, count));
}
void locked_backend::bias_activation(activation act, int rows, int cols, const float* bias,
                                     float* z) {
  CONVEYOR_LOCKED(bias_activation(act, rows, cols, bias, z));
}
void locked_backend::activation_backward(activation act, std::size_t n, const float* y,
                                         float* grad) {
  CONVEYOR_LOCKED(activation_backward(act, n, y, grad));
}
void locked_backend::column_sums(int rows, int cols, const float* a, float beta, float* out) {
  CONVEYOR_LOCKED(column_sums(rows, cols, a, beta, out));
}
void locked_backend::softmax_rows(int rows, int cols, float* z) {
  CONVEYOR_LOCKED(softmax_rows(rows, cols, z));
}
void locked_backend::sigmoid(std::size_t n, float* z) { CONVEYOR_LOCKED(sigmoid(n, z)); }
void locked_backend::softmax_cross_entropy(int rows, int cols, const float* logits,
                                           const float* labels, float grad_scale, float* grad,
                                           float* loss) {
  CONVEYOR_LOCKED(softmax_cross_entropy(rows, cols, logits, labels, grad_scale, grad, loss));
}
void locked_backend::sigmoid_binary_cross_entropy(int rows, const float* logits,
                                                  const float* labels, float grad_scale,
                                                  float* grad, float* loss) {
  CONVEYOR_LOCKED(sigmoid_binary_cross_entropy(rows, logits, labels, grad_scale, grad, loss));
}
void locked_backend::squared_error(std::size_t n, const float* pred, const float* target,
                                   float grad_scale, float* grad, float* loss) {
  CONVEYOR_LOCKED(squared_error(n, pred, target, grad_scale, grad, loss));
}
void locked_backend::axpy(std::size_t n, float alpha, const float* x, float* y) {
  CONVEYOR_LOCKED(axpy(n, alpha, x, y));
}
void locked_backend::scale(std::size_t n, float alpha, float* x) {
  CONVEYOR_LOCKED(scale(n, alpha, x));
}
void locked_backend::add_dot(std::size_t n, float alpha, const float* x, const float* y,
                             float* out) {
  CONVEYOR_LOCKED(add_dot(n, alpha, x, y, out));
}
void locked_backend::sgd_momentum_update(std::size_t n, float lr, float momentum, float* w,
                                         const float* g, float* v) {
  CONVEYOR_LOCKED(sgd_momentum_update(n, lr, momentum, w, g, v));
}
void locked_backend::adam_update(std::size_t n, float lr, float beta1, float beta2, float eps,
                                 long long step, float* w, const float* g, float* m, float* v) {
  CONVEYOR_LOCKED(adam_update(n, lr, beta1, beta2, eps, step, w, g, m, v));
}
void locked_backend::synchronize() { CONVEYOR_LOCKED(synchronize()); }

#undef CONVEYOR_LOCKED

} // namespace conveyor::compute
