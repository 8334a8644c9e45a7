#include "compute/cpu/worker_team.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace conveyor::compute::cpu {

namespace {

/// How long a thread spins for the next job (or for the parts to end) before it
/// sleeps: longer than the gap between two steps of a training loop (the optimizer's
/// update and the next batch's gather), far shorter than a scheduler's time slice.
constexpr auto spin_time = std::chrono::microseconds(300);

inline void pause() noexcept {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

/// Spins until done() or spin_time has passed; returns done().
template <class Done> bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + spin_time;
  while (true) {
    for (int i = 0; i < 64; ++i) {
      if (done())
        return true;
      pause();
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return done();
  }
}

} // namespace

worker_team::worker_team(int threads) {
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this, i] { work(i); });
}

worker_team::~worker_team() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_)
    t.join();
}

void worker_team::record(std::exception_ptr e) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_)
      error_ = std::move(e);
    broken_.store(true);
  }
  passed_.notify_all();
}

void worker_team::run(int parts, const std::function<void(int)>& fn) {
  parts_ = std::max(1, std::min(parts, size()));
  if (parts_ == 1) {
    fn(0); // barrier() passes at once
    return;
  }
  job_ = &fn;
  error_ = nullptr;
  broken_.store(false);
  arrived_.store(0);
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  {
    // Workers asleep check the generation under the lock: taking it here means none is
    // between its check and its wait, so the notification reaches every sleeper.
    std::lock_guard<std::mutex> lock(mutex_);
  }
  wake_.notify_all();
  try {
    fn(0);
  } catch (...) {
    record(std::current_exception());
  }
  auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(all_done)) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, all_done);
  }
  job_ = nullptr;
  if (error_)
    std::rethrow_exception(error_);
}

void worker_team::barrier() {
  if (parts_ == 1)
    return;
  if (broken_.load())
    throw std::runtime_error("worker_team: another part of the job failed");
  const auto seen = barrier_generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parts_) {
    arrived_.store(0, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      barrier_generation_.fetch_add(1, std::memory_order_release);
    }
    passed_.notify_all();
    return;
  }
  auto passed = [&] {
    return barrier_generation_.load(std::memory_order_acquire) != seen || broken_.load();
  };
  if (!spin_until(passed)) {
    std::unique_lock<std::mutex> lock(mutex_);
    passed_.wait(lock, passed);
  }
  if (barrier_generation_.load(std::memory_order_acquire) == seen)
    throw std::runtime_error("worker_team: another part of the job failed");
}

void worker_team::wait_for_job(std::uint64_t seen) {
  auto ready = [&] {
    return generation_.load(std::memory_order_acquire) != seen || quit_.load();
  };
  if (spin_until(ready))
    return;
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait(lock, ready);
}

void worker_team::work(int index) {
  std::uint64_t seen = 0;
  while (true) {
    wait_for_job(seen);
    if (quit_.load())
      return;
    seen = generation_.load(std::memory_order_acquire);
    if (index < parts_) {
      try {
        (*job_)(index);
      } catch (...) {
        record(std::current_exception());
      }
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_); // the caller may be between check and wait
      done_.notify_one();
    }
  }
}

} // namespace conveyor::compute::cpu
