// The three kinds of metric a registry holds. Observing is lock-free (relaxed atomics):
// safe from any thread, and cheap enough for a request path. Only looking up a child by
// its label values (family::with) takes a lock: do it once per batch or cache the
// reference (children live as long as their registry).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace conveyor::metrics {

/// A monotonic total. `add` takes non-negative amounts (a negative one is ignored).
class counter {
public:
  void add(double amount = 1);
  /// For a total kept elsewhere and mirrored here (a run's counters, read from a
  /// snapshot): the caller makes sure it does not decrease.
  void set(double total) { value_.store(total, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0};
};

/// A value that goes up and down.
class gauge {
public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double amount);
  double value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0};
};

/// Observations counted in fixed buckets (upper bounds, increasing; +Inf is implicit),
/// with their sum and count. A scrape may see an observation in its bucket before it is
/// in the sum (no lock ties them together); the count is the sum of the buckets.
class histogram {
public:
  /// `bounds`: strictly increasing, finite (registry::histogram checks them).
  explicit histogram(std::shared_ptr<const std::vector<double>> bounds);
  void observe(double v);

  struct snapshot {
    std::vector<std::uint64_t> cumulative; ///< per bound, then +Inf (= count)
    double sum = 0;
  };
  snapshot read() const;
  const std::vector<double>& bounds() const { return *bounds_; }

private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_; ///< bounds + 1 (the last: +Inf)
  std::atomic<double> sum_{0};
};

/// Bounds `start`, `start * factor`, ... (`count` of them): for latencies.
std::vector<double> exponential_buckets(double start, double factor, int count);

} // namespace conveyor::metrics
