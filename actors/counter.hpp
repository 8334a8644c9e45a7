// counter: a sink that counts rows and batches and logs the totals. Its counts are
// durable state, so a restarted counter carries on from where it was.
#pragma once

#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <chrono>
#include <cstdint>

namespace conveyor {

struct counter_options {
  std::uint64_t every = 0; ///< log every this many rows; 0: only at finish

  static counter_options from(const step_params& params);
};

class counter : public step {
public:
  explicit counter(counter_options options) : options_(options) {}
  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;
  void finish(emitter& out) override;

  std::uint64_t rows() const { return rows_; }
  std::uint64_t batches() const { return batches_; }

private:
  counter_options options_;
  step_context* ctx_ = nullptr;
  std::uint64_t rows_ = 0;
  std::uint64_t batches_ = 0;
  /// This incarnation's arrivals (not durable): for the rate in the report's metrics.
  std::uint64_t received_ = 0;
  std::uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point first_;
  std::chrono::steady_clock::time_point last_;
};

kind_entry counter_kind();

} // namespace conveyor
