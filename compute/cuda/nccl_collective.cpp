#include "compute/cuda/nccl_collective.hpp"

#include "compute/cuda/gpu_error.hpp"

#include <cstring>

namespace conveyor::compute {

namespace {

/// How often the watchdog asks whether the GPU has passed the newest all-reduce.
constexpr auto poll_interval = std::chrono::milliseconds(10);

} // namespace

nccl_collective::nccl_collective(collective& host, const std::string& id, int rank, int size,
                                 cuda_backend& device, std::chrono::milliseconds timeout)
    : host_(host), device_(device), rank_(rank), size_(size), timeout_(timeout) {
  ncclUniqueId uid;
  if (id.size() != sizeof uid.internal)
    throw gpu_error(gpu_errc::nccl, "NCCL group id of " + std::to_string(id.size()) +
                                        " bytes (expected " +
                                        std::to_string(sizeof uid.internal) + ")");
  std::memcpy(uid.internal, id.data(), sizeof uid.internal);
  CONVEYOR_CUDA(cudaSetDevice(device.device()));
  passed_ = gpu::make_event();
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  CONVEYOR_NCCL(ncclCommInitRankConfig(&comm_, size, uid, rank, &config));
  watchdog_ = std::thread([this] { watch(); });
}

nccl_collective::~nccl_collective() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watchdog_.join();
  if (!comm_) return;
  cudaSetDevice(device_.device());
  // A healthy group whose stream has finished is destroyed; otherwise aborted, which
  // ends an all-reduce still waiting for a peer that failed (waiting for the stream
  // would hang on it).
  if (healthy_ && state() == ncclSuccess && cudaStreamQuery(device_.stream()) == cudaSuccess)
    ncclCommDestroy(comm_);
  else
    ncclCommAbort(comm_);
  cudaGetLastError(); // cudaErrorNotReady from the query is not an error
}

void nccl_collective::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!watching_) {
      wake_.wait(lock, [this] { return stopping_ || watching_; });
      continue;
    }
    cudaSetDevice(device_.device());
    const cudaError_t q = cudaEventQuery(passed_.get());
    if (q == cudaSuccess) {
      watching_ = false;
      continue;
    }
    cudaGetLastError(); // not ready yet is not an error
    if (std::chrono::steady_clock::now() - queued_at_ > timeout_) {
      abort_locked("an all-reduce did not finish on the GPU within " +
                   std::to_string(timeout_.count()) +
                   " ms (collective_timeout): a rank is hung or gone");
      watching_ = false;
      continue;
    }
    wake_.wait_for(lock, poll_interval);
  }
}

ncclResult_t nccl_collective::state() const {
  if (!comm_) return ncclInvalidUsage;
  ncclResult_t r = ncclSuccess;
  const ncclResult_t asked = ncclCommGetAsyncError(comm_, &r);
  return asked == ncclSuccess ? r : asked;
}

void nccl_collective::abort_locked(const std::string& why) noexcept {
  if (aborted_.empty()) aborted_ = why;
  healthy_ = false;
  if (comm_) {
    cudaSetDevice(device_.device());
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }
}

void nccl_collective::abort() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  abort_locked("the group's collective was aborted (collective_timeout)");
}

void nccl_collective::check_alive() const {
  if (!aborted_.empty()) throw gpu_error(gpu_errc::nccl, "NCCL communicator aborted: " + aborted_);
}

void nccl_collective::start_all_reduce(float* data, std::size_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  check_alive();
  current_ = operation::all_reduce;
  CONVEYOR_CUDA(cudaSetDevice(device_.device()));
  try {
    CONVEYOR_NCCL(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_, device_.stream()));
    CONVEYOR_CUDA(cudaEventRecord(passed_.get(), device_.stream()));
  } catch (...) {
    healthy_ = false;
    throw;
  }
  // Timed from the newest all-reduce: the host may queue a step or two ahead of the GPU.
  queued_at_ = std::chrono::steady_clock::now();
  watching_ = true;
  wake_.notify_all();
}

void nccl_collective::start_broadcast(std::string bytes) {
  current_ = operation::broadcast;
  host_.start_broadcast(std::move(bytes));
}

bool nccl_collective::ready() const {
  if (current_ == operation::broadcast) return host_.ready();
  std::lock_guard<std::mutex> lock(mutex_);
  // Joining the group, or the enqueueing of an all-reduce, may still be in progress;
  // an error (an abort included) makes the operation ready, and complete() reports it.
  return !comm_ || state() != ncclInProgress;
}

void nccl_collective::complete() {
  const operation done = current_;
  current_ = operation::none;
  if (done == operation::broadcast) {
    host_.complete();
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  check_alive();
  const ncclResult_t r = state();
  if (r != ncclSuccess) {
    abort_locked(ncclGetErrorString(r));
    CONVEYOR_NCCL(r);
  }
}

} // namespace conveyor::compute
