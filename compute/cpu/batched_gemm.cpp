#include "compute/cpu/batched_gemm.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace conveyor::compute::cpu {

namespace {

/// C += alpha op(A) op(B) (beta already applied), with the loops ordered so that the
/// innermost one runs along memory and carries no dependence (g++ vectorizes it without
/// fast-math): a dot product per row for one output column, else rows of B scaled into C.
template <bool trans_a, bool trans_b>
inline __attribute__((always_inline)) void accumulate(int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                int ldb, float* c, int ldc) {
  const auto B = [&](int p, int j) {
    return trans_b ? b[static_cast<std::size_t>(j) * ldb + p] : b[static_cast<std::size_t>(p) * ldb + j];
  };
  if constexpr (trans_a) {
    // op(A)[i][p] = A[p][i]: for each p, a row of A times one value of B into a column of C.
    for (int p = 0; p < k; ++p) {
      const float* arow = a + static_cast<std::size_t>(p) * lda;
      for (int j = 0; j < n; ++j) {
        const float s = alpha * B(p, j);
        if (ldc == 1) {
          for (int i = 0; i < m; ++i)
            c[i] += arow[i] * s;
        } else {
          float* col = c + j;
          for (int i = 0; i < m; ++i)
            col[static_cast<std::size_t>(i) * ldc] += arow[i] * s;
        }
      }
    }
  } else if (n == 1 && (trans_b || ldb == 1)) {
    // One output: a dot product per row, vectorized as a reduction (a fixed order for a
    // given instruction set, so results are reproducible on one machine).
    for (int i = 0; i < m; ++i) {
      const float* arow = a + static_cast<std::size_t>(i) * lda;
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int p = 0; p < k; ++p)
        sum += arow[p] * b[p];
      c[static_cast<std::size_t>(i) * ldc] += alpha * sum;
    }
  } else {
    for (int i = 0; i < m; ++i) {
      const float* arow = a + static_cast<std::size_t>(i) * lda;
      float* row = c + static_cast<std::size_t>(i) * ldc;
      for (int p = 0; p < k; ++p) {
        const float s = alpha * arow[p];
        if constexpr (trans_b) {
          for (int j = 0; j < n; ++j)
            row[j] += s * b[static_cast<std::size_t>(j) * ldb + p];
        } else {
          const float* brow = b + static_cast<std::size_t>(p) * ldb;
          for (int j = 0; j < n; ++j)
            row[j] += s * brow[j];
        }
      }
    }
  }
}

} // namespace

// One clone per instruction set, chosen when the program loads (the build stays portable).
__attribute__((target_clones("avx512f", "avx2", "default")))
void small_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  for (int i = 0; i < m; ++i) {
    float* row = c + static_cast<std::size_t>(i) * ldc;
    for (int j = 0; j < n; ++j)
      row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
  if (trans_a)
    trans_b ? accumulate<true, true>(m, n, k, alpha, a, lda, b, ldb, c, ldc)
            : accumulate<true, false>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  else
    trans_b ? accumulate<false, true>(m, n, k, alpha, a, lda, b, ldb, c, ldc)
            : accumulate<false, false>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

namespace {

/// Workers wait for a job, take items from its counter until none is left, and report.
class pool {
public:
  pool() {
    const int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1;
    for (int i = 0; i < n; ++i)
      workers_.emplace_back([this] { work(); });
  }
  ~pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_)
      t.join();
  }

  bool run(int count, int threads, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock())
      return false;
    const int helpers = std::min<int>(threads - 1, static_cast<int>(workers_.size()));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      count_ = count;
      next_.store(0);
      wanted_ = helpers;
      active_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    take(fn, count);
    std::unique_lock<std::mutex> lock(mutex_);
    wanted_ = 0; // workers that have not joined yet need not
    done_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
    return true;
  }

private:
  void take(const std::function<void(int)>& fn, int count) {
    inside_job = true;
    for (int i = next_.fetch_add(1); i < count; i = next_.fetch_add(1))
      fn(i);
    inside_job = false;
  }

public:
  /// True on a thread running items: a parallel_for there runs inline (nested calls
  /// never wait for the pool they are part of).
  static thread_local bool inside_job;

private:

  void work() {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return quit_ || (generation_ != seen && wanted_ > 0); });
      if (quit_)
        return;
      seen = generation_;
      --wanted_;
      ++active_;
      const auto* fn = fn_;
      const int count = count_;
      lock.unlock();
      take(*fn, count);
      lock.lock();
      if (--active_ == 0)
        done_.notify_all();
    }
  }

  std::mutex busy_; ///< one job at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* fn_ = nullptr;
  int count_ = 0;
  std::atomic<int> next_{0};
  int wanted_ = 0, active_ = 0;
  std::uint64_t generation_ = 0;
  bool quit_ = false;
};

} // namespace

thread_local bool pool::inside_job = false;

void parallel_for(int count, int threads, const std::function<void(int)>& fn) {
  if (count <= 0)
    return;
  if (threads > 1 && count > 1 && !pool::inside_job) {
    static pool shared;
    if (shared.run(count, std::min(threads, count), fn))
      return;
  }
  for (int i = 0; i < count; ++i)
    fn(i);
}

} // namespace conveyor::compute::cpu
