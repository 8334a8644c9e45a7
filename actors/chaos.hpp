// chaos: fault injection for testing supervision. Passes batches through unchanged,
// but throws step_failure on the `fail_at`-th batch since this instance opened, until
// it has failed `times` times in all (counted in durable state across restarts).
// Not for production graphs.
#pragma once

#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>

namespace conveyor {

struct chaos_options {
  std::uint64_t fail_at = 1;
  std::uint64_t times = 1;
  /// Sleep this long per batch: simulates a slow step (backpressure, drain tests).
  std::int64_t delay_ns = 0;

  static chaos_options from(const step_params& params);
};

class chaos : public step {
public:
  explicit chaos(chaos_options options) : options_(options) {}
  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;

private:
  chaos_options options_;
  step_context* ctx_ = nullptr;
  std::uint64_t seen_ = 0;     // batches since open
  std::uint64_t failures_ = 0; // failures injected so far, across restarts
};

kind_entry chaos_kind();

} // namespace conveyor
