// The CUDA backend: one GPU, one compute stream. cuBLAS for the matrix products
// (fp32, tf32 tensor cores, or bf16 operands with fp32 accumulation: compute/
// precision.hpp), compute/cuda/kernels for the rest. Every operation is queued on the
// compute stream and returns at once; only copy_to_host waits (for the work before it),
// so a training step runs without a host sync and its loss stays on the device until
// read.
//
// Memory: buffers come from the device's stream-ordered memory pool, which keeps freed
// memory for reuse instead of returning it to the driver. Uploads go through pinned
// host buffers (a ring of four) and run on a second stream: copy_from_host returns once
// the host data is staged, the copy runs while the host queues the next operations, and
// the compute stream waits for it by an event before it reads the data. An upload
// waits for the compute work queued before it (its destination may still be read).
//
// Marks (backend::mark) are events recorded on the compute stream from a ring of eight;
// copy_from_host_after makes its upload wait for that event instead of the stream's tail.
//
// Recording (backend::record) captures the compute stream into a CUDA graph, so a
// training step's kernels and cuBLAS calls launch as one. cuBLAS gets a workspace of its
// own at construction, so a captured product allocates nothing. While capturing, the
// operations that would allocate, touch the host or wait throw gpu_error, and the
// capture is ended and discarded.
//
// Threads: unlike the CPU backend, operations use the backend's stream and scratch
// memory, so one backend is used by one thread at a time (a trainer replica owns its
// backend); any thread may be that thread (each call makes its GPU current).
#pragma once

#include "compute/backend.hpp"
#include "compute/cuda/gpu_resources.hpp"
#include "compute/precision.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace conveyor::compute {

class cuda_backend final : public backend {
public:
  /// GPU `device` (a CUDA ordinal); throws gpu_error (no_device) when it is not there.
  cuda_backend(int device, precision p);
  ~cuda_backend() override;

  const char* name() const noexcept override { return name_.c_str(); }
  std::string describe() const override;
  bool host_memory() const noexcept override { return false; }
  void set_threads(int) override {}
  int threads() const override { return 1; }

  buffer allocate(std::size_t n) override;
  void copy_from_host(float* dst, const float* host_src, std::size_t n) override;
  void copy_to_host(float* host_dst, const float* src, std::size_t n) override;
  work_mark mark() override;
  void copy_from_host_after(work_mark after, float* dst, const float* host_src,
                            std::size_t n) override;
  std::unique_ptr<recording> record(const std::function<void()>& body) override;
  void copy(float* dst, const float* src, std::size_t n) override;
  void fill(float* dst, float value, std::size_t n) override;
  void gather_rows(int rows, int cols, const float* table, const float* index,
                   float* out) override;

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
            int lda, const float* b, int ldb, float beta, float* c, int ldc) override;
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

  int device() const noexcept { return device_; }
  precision math() const noexcept { return precision_; }
  /// The compute stream: a collective queues its work here, in order with the step.
  cudaStream_t stream() const noexcept { return compute_.get(); }
  /// Waits for everything queued so far.
  void synchronize() override;

private:
  /// Device memory that grows on demand and is reused across calls (stream-ordered).
  struct scratch {
    void* data = nullptr;
    std::size_t bytes = 0;
  };
  void make_current() const;
  /// Throws gpu_error naming `what` while the compute stream is being captured.
  void refuse_while_recording(const char* what) const;
  /// The upload of copy_from_host*, after the compute stream reaches `ready`.
  void upload(float* dst, const float* host_src, std::size_t n, cudaEvent_t ready);
  void* grow(scratch& s, std::size_t bytes);
  double* doubles(std::size_t n) { return static_cast<double*>(grow(reductions_, n * sizeof(double))); }
  std::uint16_t* bf16_copy(scratch& s, const float* src, std::size_t n);

  int device_;
  precision precision_;
  std::string name_;
  std::string device_name_;
  gpu::stream compute_;
  gpu::stream upload_;
  gpu::event compute_tail_;
  gpu::cublas blas_;
  cudaMemPool_t pool_ = nullptr;
  struct upload_slot {
    gpu::pinned_buffer host;
    gpu::event done;
  };
  std::array<upload_slot, 4> uploads_;
  std::size_t next_upload_ = 0;
  std::array<gpu::event, 8> marks_;
  work_mark marks_taken_ = 0;
  void* blas_workspace_ = nullptr;
  bool recording_ = false;
  scratch reductions_, ones_, bf16_a_, bf16_b_;
  std::size_t ones_count_ = 0;
};

} // namespace conveyor::compute
