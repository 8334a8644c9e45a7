// A team of threads that run one job together, again and again: a training step's
// parts (model::compute_gradients split by rows, then by columns), one part per thread,
// meeting at barriers between its phases.
//
// Made for jobs of a millisecond or less, many per second: the threads are persistent,
// and between jobs a worker spins briefly before it sleeps, so the next job of a
// training loop (a few tens of microseconds later) starts without a futex wake-up
// (waking an idle thread costs tens of microseconds, more on a busy machine); barriers
// spin likewise. A worker idle for longer sleeps on a condition variable and costs
// nothing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace conveyor::compute::cpu {

class worker_team {
public:
  /// `threads` >= 1 threads in all: the caller of run() and threads - 1 workers.
  explicit worker_team(int threads);
  ~worker_team();
  worker_team(const worker_team&) = delete;
  worker_team& operator=(const worker_team&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  /// Calls fn(t) for every t < parts (parts <= size()), t = 0 on the calling thread, the
  /// others on workers, and returns when all have returned. An exception thrown by any
  /// part is rethrown here (the first one) after every part has ended; the others'
  /// barrier() calls throw meanwhile, so none waits for a part that has given up. One
  /// caller at a time; fn must not call run() on the same team.
  void run(int parts, const std::function<void(int)>& fn);
  /// Inside fn: returns when every part of the job has called it as often (all parts
  /// call it the same number of times).
  void barrier();

private:
  void work(int index);
  void wait_for_job(std::uint64_t seen);
  void record(std::exception_ptr e);

  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> quit_{false};
  int parts_ = 0;
  std::atomic<int> arrived_{0};
  std::atomic<std::uint64_t> barrier_generation_{0};
  std::atomic<bool> broken_{false};
  std::mutex mutex_;
  std::condition_variable wake_, done_, passed_;
  std::exception_ptr error_;
};

} // namespace conveyor::compute::cpu
