// compute::collective over NCCL: one communicator per rank, all-reduces queued on the
// rank's compute stream (so they are "ready" at once: later work on the stream waits
// for them, and the host never does). The communicator is non-blocking: joining the
// group and each operation return at once, and ready() asks NCCL whether they have
// finished, so a rank never blocks a thread that another rank's actor may need.
// Broadcasts (host bytes: start messages, checkpoint paths) use the host collective.
// A rank that fails aborts its communicator (ncclCommAbort), so peers waiting on it
// get an error instead of hanging.
//
// Watchdog: an all-reduce is stream-ordered, so a hung peer shows only as a GPU that
// never gets past it, and the host thread that next waits for the stream (a loss read)
// would wait forever. A watchdog thread records an event after each all-reduce and, if
// the GPU has not passed it `timeout` after it was queued, aborts the communicator:
// NCCL's kernels then return, the waiting thread gets its stream back, and every later
// operation throws gpu_error naming the timeout, so the trainer fails and its group
// restarts from the last checkpoint. abort() does the same at once (the trainer's own
// watchdog, for a group still joining).
#pragma once

#include "compute/collective.hpp"
#include "compute/cuda/cuda_backend.hpp"

#include <nccl.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace conveyor::compute {

class nccl_collective final : public collective {
public:
  /// `id`: the bytes of rank 0's ncclUniqueId; throws gpu_error when it is malformed
  /// or NCCL refuses to start.
  nccl_collective(collective& host, const std::string& id, int rank, int size,
                  cuda_backend& device, std::chrono::milliseconds timeout);
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
  void abort() noexcept override;

private:
  enum class operation { none, all_reduce, broadcast };
  /// NCCL's state of the communicator: ncclSuccess, ncclInProgress or an error.
  /// Caller holds mutex_.
  ncclResult_t state() const;
  /// Caller holds mutex_.
  void abort_locked(const std::string& why) noexcept;
  /// Throws gpu_error when the communicator was aborted. Caller holds mutex_.
  void check_alive() const;
  void watch();

  collective& host_;
  cuda_backend& device_;
  int rank_;
  int size_;
  std::chrono::milliseconds timeout_;
  ncclComm_t comm_ = nullptr;
  bool healthy_ = true;
  operation current_ = operation::none;

  // Shared with the watchdog thread, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  gpu::event passed_; ///< recorded after the newest all-reduce
  std::chrono::steady_clock::time_point queued_at_{};
  bool watching_ = false; ///< an all-reduce is queued and the GPU may not have passed it
  bool stopping_ = false;
  std::string aborted_; ///< why the communicator was aborted; empty while it is not
  std::thread watchdog_;
};

} // namespace conveyor::compute
