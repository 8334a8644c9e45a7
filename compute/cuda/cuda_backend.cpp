#include "compute/cuda/cuda_backend.hpp"

#include "compute/cuda/kernels.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace conveyor::compute {

namespace {

/// Pinned staging grows to at least this, so small uploads never reallocate.
constexpr std::size_t min_upload_bytes = 1 << 20;

/// cuBLAS's own workspace (NVIDIA's advice for Hopper is 32 MiB): set once, so products
/// recorded into a graph take no memory while recording.
constexpr std::size_t blas_workspace_bytes = 32u << 20;

/// A captured CUDA graph, launched on the compute stream of the backend that made it.
class cuda_recording final : public backend::recording {
public:
  cuda_recording(cuda_backend& owner, gpu::graph_exec exec)
      : owner_(owner), exec_(std::move(exec)) {}
  void replay() override {
    CONVEYOR_CUDA(cudaSetDevice(owner_.device()));
    CONVEYOR_CUDA(cudaGraphLaunch(exec_.get(), owner_.stream()));
  }

private:
  cuda_backend& owner_;
  gpu::graph_exec exec_;
};

} // namespace

cuda_backend::cuda_backend(int device, precision p)
    : device_(device), precision_(p), name_("cuda:" + std::to_string(device)) {
  int count = 0;
  CONVEYOR_CUDA(cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    throw gpu_error(gpu_errc::no_device, "device \"" + name_ + "\": this machine has " +
                                             std::to_string(count) + " GPU(s)");
  make_current();
  cudaDeviceProp prop{};
  CONVEYOR_CUDA(cudaGetDeviceProperties(&prop, device));
  device_name_ = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                 std::to_string(prop.minor) + ", " +
                 std::to_string(prop.totalGlobalMem >> 30) + " GiB)";
  compute_ = gpu::make_stream();
  upload_ = gpu::make_stream();
  compute_tail_ = gpu::make_event();
  for (auto& u : uploads_) u.done = gpu::make_event();
  for (auto& m : marks_) m = gpu::make_event();
  blas_ = gpu::make_cublas();
  CONVEYOR_CUBLAS(cublasSetStream(blas_.get(), compute_.get()));
  // after cublasSetStream, which resets the workspace to cuBLAS's default pool
  CONVEYOR_CUDA(cudaMalloc(&blas_workspace_, blas_workspace_bytes));
  CONVEYOR_CUBLAS(cublasSetWorkspace(blas_.get(), blas_workspace_, blas_workspace_bytes));
  CONVEYOR_CUBLAS(cublasSetMathMode(blas_.get(), p == precision::tf32
                                                     ? CUBLAS_TF32_TENSOR_OP_MATH
                                                     : CUBLAS_DEFAULT_MATH));
  // The pool keeps what is freed (no release threshold), so a training step's
  // allocations after the first come from it without a driver call.
  CONVEYOR_CUDA(cudaDeviceGetDefaultMemPool(&pool_, device));
  auto keep = std::numeric_limits<std::uint64_t>::max();
  CONVEYOR_CUDA(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep));
}

cuda_backend::~cuda_backend() {
  cudaSetDevice(device_);
  for (auto* s : {&reductions_, &ones_, &bf16_a_, &bf16_b_})
    if (s->data) cudaFreeAsync(s->data, compute_.get());
  cudaStreamSynchronize(upload_.get());
  cudaStreamSynchronize(compute_.get());
  if (blas_workspace_) cudaFree(blas_workspace_);
}

void cuda_backend::make_current() const { CONVEYOR_CUDA(cudaSetDevice(device_)); }

void cuda_backend::refuse_while_recording(const char* what) const {
  if (recording_)
    throw gpu_error(gpu_errc::cuda, name_ + ": " + what +
                                        " while recording a CUDA graph (a recorded step may "
                                        "not allocate, touch host memory or wait)");
}

void cuda_backend::synchronize() {
  make_current();
  refuse_while_recording("synchronize");
  CONVEYOR_CUDA(cudaStreamSynchronize(compute_.get()));
}

std::string cuda_backend::describe() const {
  int blas_version = 0;
  cublasGetVersion(blas_.get(), &blas_version);
  return name_ + ": " + device_name_ + ", cuBLAS " + std::to_string(blas_version) +
         ", precision " + to_string(precision_);
}

void* cuda_backend::grow(scratch& s, std::size_t bytes) {
  if (bytes <= s.bytes) return s.data;
  refuse_while_recording("scratch memory grew");
  const std::size_t want = std::max(bytes, 2 * s.bytes);
  if (s.data) CONVEYOR_CUDA(cudaFreeAsync(s.data, compute_.get()));
  s.data = nullptr;
  s.bytes = 0;
  CONVEYOR_CUDA(cudaMallocFromPoolAsync(&s.data, want, pool_, compute_.get()));
  s.bytes = want;
  return s.data;
}

buffer cuda_backend::allocate(std::size_t n) {
  if (n == 0) return buffer(this, nullptr, 0);
  make_current();
  refuse_while_recording("allocate");
  void* p = nullptr;
  CONVEYOR_CUDA(cudaMallocFromPoolAsync(&p, n * sizeof(float), pool_, compute_.get()));
  CONVEYOR_CUDA(cudaMemsetAsync(p, 0, n * sizeof(float), compute_.get()));
  return buffer(this, static_cast<float*>(p), n);
}

void cuda_backend::release(float* data, std::size_t) noexcept {
  cudaSetDevice(device_);
  cudaFreeAsync(data, compute_.get());
}

void cuda_backend::copy_from_host(float* dst, const float* host_src, std::size_t n) {
  if (!n) return;
  make_current();
  refuse_while_recording("an upload");
  CONVEYOR_CUDA(cudaEventRecord(compute_tail_.get(), compute_.get()));
  upload(dst, host_src, n, compute_tail_.get());
}

backend::work_mark cuda_backend::mark() {
  make_current();
  refuse_while_recording("a mark");
  CONVEYOR_CUDA(cudaEventRecord(marks_[marks_taken_ % marks_.size()].get(), compute_.get()));
  return ++marks_taken_;
}

void cuda_backend::copy_from_host_after(work_mark after, float* dst, const float* host_src,
                                        std::size_t n) {
  if (!n) return;
  make_current();
  refuse_while_recording("an upload");
  if (after > marks_taken_)
    throw std::invalid_argument(name_ + ": copy_from_host_after: mark " +
                                std::to_string(after) + " was never taken");
  // A ring slot re-recorded since `after` names later work: waiting for it is safe.
  upload(dst, host_src, n, after == 0 ? nullptr : marks_[(after - 1) % marks_.size()].get());
}

void cuda_backend::upload(float* dst, const float* host_src, std::size_t n, cudaEvent_t ready) {
  const std::size_t bytes = n * sizeof(float);
  auto& slot = uploads_[next_upload_];
  next_upload_ = (next_upload_ + 1) % uploads_.size();
  // The slot's previous upload must have read its pinned memory before it is refilled.
  CONVEYOR_CUDA(cudaEventSynchronize(slot.done.get()));
  if (slot.host.bytes() < bytes)
    slot.host = gpu::pinned_buffer(std::max({bytes, 2 * slot.host.bytes(), min_upload_bytes}));
  std::memcpy(slot.host.data(), host_src, bytes);
  if (ready) CONVEYOR_CUDA(cudaStreamWaitEvent(upload_.get(), ready, 0));
  CONVEYOR_CUDA(cudaMemcpyAsync(dst, slot.host.data(), bytes, cudaMemcpyHostToDevice,
                                upload_.get()));
  CONVEYOR_CUDA(cudaEventRecord(slot.done.get(), upload_.get()));
  CONVEYOR_CUDA(cudaStreamWaitEvent(compute_.get(), slot.done.get(), 0));
}

std::unique_ptr<backend::recording> cuda_backend::record(const std::function<void()>& body) {
  make_current();
  refuse_while_recording("recording");
  CONVEYOR_CUDA(cudaStreamBeginCapture(compute_.get(), cudaStreamCaptureModeThreadLocal));
  recording_ = true;
  cudaGraph_t raw = nullptr;
  try {
    body();
  } catch (...) { // end the capture (the stream works eagerly again) and drop it
    recording_ = false;
    cudaStreamEndCapture(compute_.get(), &raw);
    if (raw) cudaGraphDestroy(raw);
    cudaGetLastError(); // a failed capture's error is not sticky: clear it
    throw;
  }
  recording_ = false;
  CONVEYOR_CUDA(cudaStreamEndCapture(compute_.get(), &raw));
  gpu::graph captured(raw);
  cudaGraphExec_t exec = nullptr;
  CONVEYOR_CUDA(cudaGraphInstantiate(&exec, captured.get(), 0));
  return std::make_unique<cuda_recording>(*this, gpu::graph_exec(exec));
}

void cuda_backend::copy_to_host(float* host_dst, const float* src, std::size_t n) {
  if (!n) return;
  make_current();
  refuse_while_recording("a read to the host");
  CONVEYOR_CUDA(cudaMemcpyAsync(host_dst, src, n * sizeof(float), cudaMemcpyDeviceToHost,
                                compute_.get()));
  CONVEYOR_CUDA(cudaStreamSynchronize(compute_.get()));
}

void cuda_backend::copy(float* dst, const float* src, std::size_t n) {
  if (!n || dst == src) return;
  make_current();
  CONVEYOR_CUDA(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice,
                                compute_.get()));
}

void cuda_backend::fill(float* dst, float value, std::size_t n) {
  make_current();
  gpu::fill(compute_.get(), dst, value, n);
}

void cuda_backend::gather_rows(int rows, int cols, const float* table, const float* index,
                               float* out) {
  make_current();
  gpu::gather_rows(compute_.get(), rows, cols, table, index, out);
}

std::uint16_t* cuda_backend::bf16_copy(scratch& s, const float* src, std::size_t n) {
  auto* out = static_cast<std::uint16_t*>(grow(s, n * sizeof(std::uint16_t)));
  gpu::to_bf16(compute_.get(), n, src, out);
  return out;
}

void cuda_backend::gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                        const float* a, int lda, const float* b, int ldb, float beta, float* c,
                        int ldc) {
  if (m <= 0 || n <= 0) return;
  make_current();
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the operands swap.
  const auto op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (precision_ == precision::bf16 && k > 0) {
    // Elements from the first to the last one op() reads: (rows - 1) * ld + cols.
    const auto span = [](int rows, int cols, int ld) {
      return static_cast<std::size_t>(rows - 1) * ld + cols;
    };
    const auto* a16 = bf16_copy(bf16_a_, a, trans_a ? span(k, m, lda) : span(m, k, lda));
    const auto* b16 = bf16_copy(bf16_b_, b, trans_b ? span(n, k, ldb) : span(k, n, ldb));
    CONVEYOR_CUBLAS(cublasGemmEx(blas_.get(), op_b, op_a, n, m, k, &alpha, b16, CUDA_R_16BF, ldb,
                                 a16, CUDA_R_16BF, lda, &beta, c, CUDA_R_32F, ldc,
                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  CONVEYOR_CUBLAS(
      cublasSgemm(blas_.get(), op_b, op_a, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
}

void cuda_backend::bias_activation(activation act, int rows, int cols, const float* bias,
                                   float* z) {
  make_current();
  gpu::bias_activation(compute_.get(), act, rows, cols, bias, z);
}

void cuda_backend::activation_backward(activation act, std::size_t n, const float* y,
                                       float* grad) {
  make_current();
  gpu::activation_backward(compute_.get(), act, n, y, grad);
}

void cuda_backend::column_sums(int rows, int cols, const float* a, float beta, float* out) {
  if (cols <= 0) return;
  make_current();
  if (rows <= 0) {
    if (beta == 0.0f) gpu::fill(compute_.get(), out, 0.0f, static_cast<std::size_t>(cols));
    else if (beta != 1.0f) gpu::scale(compute_.get(), static_cast<std::size_t>(cols), beta, out);
    return;
  }
  // out = A^T ones + beta out: a matrix-vector product against a vector of ones (the
  // row-major rows x cols A is the column-major cols x rows matrix cuBLAS sees).
  const auto want = static_cast<std::size_t>(rows);
  auto* ones = static_cast<float*>(grow(ones_, want * sizeof(float)));
  if (ones_count_ < want) {
    ones_count_ = ones_.bytes / sizeof(float);
    gpu::fill(compute_.get(), ones, 1.0f, ones_count_);
  }
  const float one = 1.0f;
  CONVEYOR_CUBLAS(cublasSgemv(blas_.get(), CUBLAS_OP_N, cols, rows, &one, a, cols, ones, 1,
                              &beta, out, 1));
}

void cuda_backend::softmax_rows(int rows, int cols, float* z) {
  make_current();
  gpu::softmax_rows(compute_.get(), rows, cols, z);
}

void cuda_backend::sigmoid(std::size_t n, float* z) {
  make_current();
  gpu::sigmoid(compute_.get(), n, z);
}

void cuda_backend::softmax_cross_entropy(int rows, int cols, const float* logits,
                                         const float* labels, float grad_scale, float* grad,
                                         float* loss) {
  make_current();
  const auto r = static_cast<std::size_t>(std::max(rows, 0));
  double* d = doubles(r + gpu::reduction_scratch(r));
  gpu::softmax_cross_entropy(compute_.get(), rows, cols, logits, labels, grad_scale, grad, loss,
                             d, d + r);
}

void cuda_backend::sigmoid_binary_cross_entropy(int rows, const float* logits,
                                                const float* labels, float grad_scale,
                                                float* grad, float* loss) {
  make_current();
  const auto r = static_cast<std::size_t>(std::max(rows, 0));
  double* d = doubles(r + gpu::reduction_scratch(r));
  gpu::sigmoid_binary_cross_entropy(compute_.get(), rows, logits, labels, grad_scale, grad, loss,
                                    d, d + r);
}

void cuda_backend::squared_error(std::size_t n, const float* pred, const float* target,
                                 float grad_scale, float* grad, float* loss) {
  make_current();
  gpu::squared_error(compute_.get(), n, pred, target, grad_scale, grad, loss,
                     doubles(gpu::reduction_scratch(n)));
}

void cuda_backend::axpy(std::size_t n, float alpha, const float* x, float* y) {
  make_current();
  gpu::axpy(compute_.get(), n, alpha, x, y);
}

void cuda_backend::scale(std::size_t n, float alpha, float* x) {
  make_current();
  gpu::scale(compute_.get(), n, alpha, x);
}

void cuda_backend::add_dot(std::size_t n, float alpha, const float* x, const float* y,
                           float* out) {
  make_current();
  gpu::add_dot(compute_.get(), n, alpha, x, y, out, doubles(gpu::reduction_scratch(n)));
}

void cuda_backend::sgd_momentum_update(std::size_t n, float lr, float momentum, float* w,
                                       const float* g, float* v) {
  make_current();
  gpu::sgd_momentum_update(compute_.get(), n, lr, momentum, w, g, v);
}

void cuda_backend::adam_update(std::size_t n, float lr, float beta1, float beta2, float eps,
                               long long step, float* w, const float* g, float* m, float* v) {
  make_current();
  gpu::adam_update(compute_.get(), n, lr, beta1, beta2, eps, step, w, g, m, v);
}

} // namespace conveyor::compute
