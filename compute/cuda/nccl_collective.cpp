#include "compute/cuda/nccl_collective.hpp"

#include "compute/cuda/gpu_error.hpp"

#include <cstring>

namespace conveyor::compute {

nccl_collective::nccl_collective(collective& host, const std::string& id, int rank, int size,
                                 cuda_backend& device)
    : host_(host), device_(device), rank_(rank), size_(size) {
  ncclUniqueId uid;
  if (id.size() != sizeof uid.internal)
    throw gpu_error(gpu_errc::nccl, "NCCL group id of " + std::to_string(id.size()) +
                                        " bytes (expected " +
                                        std::to_string(sizeof uid.internal) + ")");
  std::memcpy(uid.internal, id.data(), sizeof uid.internal);
  CONVEYOR_CUDA(cudaSetDevice(device.device()));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  CONVEYOR_NCCL(ncclCommInitRankConfig(&comm_, size, uid, rank, &config));
}

nccl_collective::~nccl_collective() {
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

ncclResult_t nccl_collective::state() const {
  ncclResult_t r = ncclSuccess;
  const ncclResult_t asked = ncclCommGetAsyncError(comm_, &r);
  return asked == ncclSuccess ? r : asked;
}

void nccl_collective::start_all_reduce(float* data, std::size_t n) {
  current_ = operation::all_reduce;
  CONVEYOR_CUDA(cudaSetDevice(device_.device()));
  try {
    CONVEYOR_NCCL(ncclAllReduce(data, data, n, ncclFloat, ncclSum, comm_, device_.stream()));
  } catch (...) {
    healthy_ = false;
    throw;
  }
}

void nccl_collective::start_broadcast(std::string bytes) {
  current_ = operation::broadcast;
  host_.start_broadcast(std::move(bytes));
}

bool nccl_collective::ready() const {
  if (current_ == operation::broadcast) return host_.ready();
  // Joining the group, or the enqueueing of an all-reduce, may still be in progress;
  // an error makes the operation ready, and complete() reports it.
  return state() != ncclInProgress;
}

void nccl_collective::complete() {
  const operation done = current_;
  current_ = operation::none;
  if (done == operation::broadcast) {
    host_.complete();
    return;
  }
  const ncclResult_t r = state();
  if (r != ncclSuccess) {
    healthy_ = false;
    ncclCommAbort(comm_);
    comm_ = nullptr;
    CONVEYOR_NCCL(r);
  }
}

} // namespace conveyor::compute
