// The compute backend: the narrow set of float32 operations that training and inference
// need, on row-major matrices that live in the backend's memory (host memory for the CPU
// backend, device memory for a CUDA backend). Models and optimizers are written against
// this interface only, so a CUDA backend (cuBLAS + own kernels) slots in behind it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace conveyor::compute {

/// Hidden-layer and output activations. `identity` is the output of regressors and of
/// layers whose activation is fused into the loss (sigmoid + BCE, softmax + CE).
enum class activation { identity, relu, tanh, sigmoid };

class backend;

/// Owns `size` floats of backend memory; releases them through the backend that gave
/// them out. Move-only. The backend must outlive its buffers.
class buffer {
public:
  buffer() = default;
  buffer(backend* owner, float* data, std::size_t size) : owner_(owner), data_(data), size_(size) {}
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  buffer(buffer&& other) noexcept { swap(other); }
  buffer& operator=(buffer&& other) noexcept {
    buffer tmp(std::move(other));
    swap(tmp);
    return *this;
  }
  ~buffer();

  /// Gives up ownership: the memory is the caller's to release through its backend.
  float* detach() noexcept {
    owner_ = nullptr;
    size_ = 0;
    return std::exchange(data_, nullptr);
  }

  float* data() noexcept { return data_; }
  const float* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

private:
  void swap(buffer& o) noexcept {
    std::swap(owner_, o.owner_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
  }
  backend* owner_ = nullptr;
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Rules for every operation below:
/// - pointers are backend memory (from `allocate`), except where a name says `host`;
/// - matrices are row-major; `rows x cols` with leading dimension `cols` unless given;
/// - in-place is allowed only where a comment says so;
/// - operations on distinct buffers may be called concurrently from several threads
///   (the CPU backend keeps no mutable state; BLAS threading is process-wide);
/// - losses write the gradient of (sum over rows of the per-row loss) * grad_scale with
///   respect to the logits/predictions, and that scaled sum (accumulated in double) to
///   `loss`, one float of backend memory: nothing returns a value to the host, so a
///   device backend runs a training step without waiting for it (read results with
///   copy_to_host when they are needed).
class backend {
public:
  virtual ~backend() = default;

  /// A short name for logs ("cpu", "cuda:0").
  virtual const char* name() const noexcept = 0;
  /// One line for logs: the device and the kernels in use (the CPU backend names its
  /// OpenBLAS kernel and why it was chosen).
  virtual std::string describe() const = 0;
  /// True when backend memory is ordinary host memory (pointers may be read directly).
  virtual bool host_memory() const noexcept = 0;

  /// Threads one operation may use. The CPU backend's count is OpenBLAS's, which is
  /// process-wide: every CPU backend in the process shares it (a trainer sets it while
  /// it trains and restores it after). Backends without such a knob ignore it.
  virtual void set_threads(int n) = 0;
  virtual int threads() const = 0;

  /// `n` floats, zero-initialised, aligned for vector loads (64 bytes on the CPU).
  virtual buffer allocate(std::size_t n) = 0;
  virtual void copy_from_host(float* dst, const float* host_src, std::size_t n) = 0;
  virtual void copy_to_host(float* host_dst, const float* src, std::size_t n) = 0;
  virtual void copy(float* dst, const float* src, std::size_t n) = 0;
  virtual void fill(float* dst, float value, std::size_t n) = 0;

  /// out row r = table row index[r], for `rows` rows of `cols` floats; `index` holds
  /// row numbers as floats (exact below 2^24) in backend memory. Minibatches drawn from
  /// a dataset kept in backend memory (a GPU trainer's).
  virtual void gather_rows(int rows, int cols, const float* table, const float* index,
                           float* out) = 0;

  /// C = alpha * op(A) * op(B) + beta * C, op(A) m x k, op(B) k x n, C m x n.
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                    const float* a, int lda, const float* b, int ldb, float beta, float* c,
                    int ldc) = 0;

  /// For each i < count: C_i = alpha * op(A_i) * op(B_i) + beta * C_i, every item of the
  /// shape above, with A_i = a + i * stride_a (likewise B_i, C_i; strides in floats):
  /// many small products in one call (a fleet's per-segment models). The default loops
  /// over `gemm`; a backend overrides it with a batched kernel.
  virtual void gemm_strided_batched(bool trans_a, bool trans_b, int m, int n, int k,
                                    float alpha, const float* a, int lda, std::size_t stride_a,
                                    const float* b, int ldb, std::size_t stride_b, float beta,
                                    float* c, int ldc, std::size_t stride_c, int count) {
    for (int i = 0; i < count; ++i)
      gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb,
           beta, c + i * stride_c, ldc);
  }

  /// z[r][j] = act(z[r][j] + bias[j]) in place: the fused dense-layer epilogue.
  virtual void bias_activation(activation act, int rows, int cols, const float* bias,
                               float* z) = 0;
  /// grad[i] *= act'(·), where the derivative is expressed through the activation's
  /// OUTPUT y (relu: y > 0, tanh: 1 - y^2, sigmoid: y (1 - y)), so only outputs are kept.
  virtual void activation_backward(activation act, std::size_t n, const float* y,
                                   float* grad) = 0;
  /// out[j] = beta * out[j] + sum_r a[r][j]  (bias gradients).
  virtual void column_sums(int rows, int cols, const float* a, float beta, float* out) = 0;

  /// Row-wise softmax in place (inference output of multiclass models).
  virtual void softmax_rows(int rows, int cols, float* z) = 0;
  /// Elementwise logistic sigmoid in place.
  virtual void sigmoid(std::size_t n, float* z) = 0;

  /// Fused softmax + categorical cross-entropy. `labels[r]` is the class index as a
  /// float (validated by the caller to lie in [0, cols)). grad = (softmax - onehot) *
  /// grad_scale; `grad` may alias `logits`. *loss = grad_scale * sum of -log p[label].
  virtual void softmax_cross_entropy(int rows, int cols, const float* logits,
                                     const float* labels, float grad_scale, float* grad,
                                     float* loss) = 0;
  /// Fused sigmoid + binary cross-entropy on one logit per row, labels in [0, 1],
  /// computed stably from logits. grad = (sigmoid - y) * grad_scale; may alias.
  /// *loss = grad_scale * sum of the per-row losses.
  virtual void sigmoid_binary_cross_entropy(int rows, const float* logits,
                                            const float* labels, float grad_scale,
                                            float* grad, float* loss) = 0;
  /// Squared error over all n = rows * cols elements. grad = 2 (p - y) * grad_scale;
  /// may alias `pred`. *loss = grad_scale * sum of (p - y)^2.
  virtual void squared_error(std::size_t n, const float* pred, const float* target,
                             float grad_scale, float* grad, float* loss) = 0;

  /// y += alpha * x
  virtual void axpy(std::size_t n, float alpha, const float* x, float* y) = 0;
  /// x *= alpha
  virtual void scale(std::size_t n, float alpha, float* x) = 0;
  /// *out += alpha * sum x[i] * y[i] (the sum accumulated in double); `out` is one float
  /// of backend memory.
  virtual void add_dot(std::size_t n, float alpha, const float* x, const float* y,
                       float* out) = 0;

  /// PyTorch SGD (dampening 0, no nesterov): v = momentum * v + g; w -= lr * v.
  virtual void sgd_momentum_update(std::size_t n, float lr, float momentum, float* w,
                                   const float* g, float* v) = 0;
  /// PyTorch Adam (no amsgrad): m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  /// w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t = step >= 1.
  virtual void adam_update(std::size_t n, float lr, float beta1, float beta2, float eps,
                           long long step, float* w, const float* g, float* m,
                           float* v) = 0;

  /// Ordering uploads. `copy_from_host` orders an upload after ALL work queued before it
  /// (that work may still read its destination), so on a device an upload never overlaps
  /// the kernels before it. A caller that alternates between input buffers knows better:
  /// `mark()` after the last operation that reads a buffer, and `copy_from_host_after`
  /// with that mark when the buffer is filled again: the upload waits only for the work
  /// before the mark and overlaps what was queued after it (the previous step). Marks
  /// are cheap (a device event from a small ring): a mark taken long ago may wait for
  /// later work than it names, never for less. 0 is "no work to wait for". The CPU
  /// backend, whose operations are done when they return, ignores marks.
  using work_mark = std::uint64_t;
  virtual work_mark mark() { return 0; }
  virtual void copy_from_host_after(work_mark after, float* dst, const float* host_src,
                                    std::size_t n) {
    (void)after;
    copy_from_host(dst, host_src, n);
  }

  /// Work recorded once and replayed with one launch (CUDA graphs): the same operations
  /// on the same pointers with the same scalar arguments, so only the CONTENTS of the
  /// buffers may differ between replays. Replays are queued like any operation. A
  /// recording must not outlive the backend that made it.
  class recording {
  public:
    virtual ~recording() = default;
    virtual void replay() = 0;
  };
  /// Records what `body` queues on this backend WITHOUT running it, and returns the
  /// recording (replay it to run the work). A backend that cannot record (the CPU
  /// backend) returns nullptr and `body` has not run. While recording, nothing may
  /// allocate, upload from or read back to the host, or synchronize: such a call throws,
  /// the recording is abandoned, and the error reaches the caller. compute/
  /// replayed_step.hpp decides when recording pays (fixed shapes, scratch settled).
  virtual std::unique_ptr<recording> record(const std::function<void()>& body) {
    (void)body;
    return nullptr;
  }

  /// Waits until every operation queued so far has finished, so that other backends
  /// on the same device (other streams) may read what it wrote. The CPU's operations
  /// are done when they return.
  virtual void synchronize() {}

  /// Called by `buffer`'s destructor.
  virtual void release(float* data, std::size_t n) noexcept = 0;
};

inline buffer::~buffer() {
  if (owner_ && data_) owner_->release(data_, size_);
}

} // namespace conveyor::compute
