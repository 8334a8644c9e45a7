#include "metrics/metric.hpp"

#include <algorithm>

namespace conveyor::metrics {

namespace {

/// atomic<double> has no fetch_add before C++20: compare-and-swap (uncontended: once).
void add_to(std::atomic<double>& target, double amount) {
  double now = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(now, now + amount, std::memory_order_relaxed)) {
  }
}

} // namespace

void counter::add(double amount) {
  if (amount > 0)
    add_to(value_, amount);
}

void gauge::add(double amount) { add_to(value_, amount); }

histogram::histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<std::uint64_t>[bounds_->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe(double v) {
  // `le` is inclusive: the first bound not below v. NaN lands in +Inf.
  const auto& b = *bounds_;
  const auto i = static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), v) - b.begin());
  buckets_[v == v ? i : b.size()].fetch_add(1, std::memory_order_relaxed);
  add_to(sum_, v);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor)
    out.push_back(v);
  return out;
}

} // namespace conveyor::metrics
