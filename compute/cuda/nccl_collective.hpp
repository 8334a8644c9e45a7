// compute::collective over NCCL: one communicator per rank, all-reduces queued on the
// rank's compute stream (so they are "ready" at once: later work on the stream waits
// for them, and the host never does). The communicator is non-blocking: joining the
// group and each operation return at once, and ready() asks NCCL whether they have
// finished, so a rank never blocks a thread that another rank's actor may need.
// Broadcasts (host bytes: start messages, checkpoint paths) use the host collective.
// A rank that fails aborts its communicator (ncclCommAbort), so peers waiting on it
// get an error instead of hanging.
#pragma once

#include "compute/collective.hpp"
#include "compute/cuda/cuda_backend.hpp"

#include <nccl.h>

#include <string>

namespace conveyor::compute {

class nccl_collective final : public collective {
public:
  /// `id`: the bytes of rank 0's ncclUniqueId; throws gpu_error when it is malformed
  /// or NCCL refuses to start.
  nccl_collective(collective& host, const std::string& id, int rank, int size,
                  cuda_backend& device);
  ~nccl_collective() override;
  nccl_collective(const nccl_collective&) = delete;
  nccl_collective& operator=(const nccl_collective&) = delete;

  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }
  void start_all_reduce(float* data, std::size_t n) override;
  void start_broadcast(std::string bytes) override;
  bool ready() const override;
  void complete() override;
  const std::string& broadcast_result() const override { return host_.broadcast_result(); }

private:
  enum class operation { none, all_reduce, broadcast };
  /// NCCL's state of the communicator: ncclSuccess, ncclInProgress or an error.
  ncclResult_t state() const;

  collective& host_;
  cuda_backend& device_;
  int rank_;
  int size_;
  ncclComm_t comm_ = nullptr;
  bool healthy_ = true;
  operation current_ = operation::none;
};

} // namespace conveyor::compute
