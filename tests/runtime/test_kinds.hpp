// Small actor kinds for runtime tests: a counting source, a pass-through and a
// collecting sink, each able to fail on cue and to run slowly, with what they see
// recorded in a process-wide `observations` table the tests read.
#pragma once

#include "step/kind_registry.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace conveyor::testing {

struct observations {
  std::mutex mutex;
  /// Values of column `x` each sink consumed, by sink step name.
  std::map<std::string, std::vector<std::uint64_t>> collected;
  /// How often each step (by instance name) was opened: one per incarnation.
  std::map<std::string, int> opens;
  /// Times of opening, by instance name.
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> open_times;
  /// Rows the source was resumed after (one entry per resume).
  std::vector<std::uint64_t> resumed_after_rows;
  /// Largest difference between rows produced and rows consumed by sinks.
  /// Artifacts that `model_sink` steps received, by step name.
  std::map<std::string, std::vector<std::string>> models;
  /// Totals each `group_sum` replica computed with its peers, by instance.
  std::map<std::string, double> group_totals;
  /// `tick` calls each `service` step (by instance) received.
  std::map<std::string, int> ticks;
  std::uint64_t max_lag = 0;
  std::uint64_t produced = 0;
  std::uint64_t consumed = 0;
  /// A `hang` step is inside its `consume`, which never returns (it ignores the drain;
  /// tests run it in a child process that ends around it).
  bool hung = false;
  /// `wait_for_drain` steps: how many saw stop_requested() turn true inside a call.
  int saw_stop_requested = 0;

  void reset();
};

observations& observed();

/// Kinds: `numbers` (source; `progress = 1` reports progress with every batch), `pass`,
/// `collect` (sink), `model_maker` (batches in, a model out after some work),
/// `model_sink`, `group_sum` (a replica group), `service` (a sink that keeps running
/// until the run is drained, counting ticks), `hang` (a sink whose first `consume`
/// never returns until the test releases it), `wait_for_drain` (a sink whose first
/// `consume` returns only once step_context::stop_requested is true).
void register_test_kinds(kind_registry& registry);

} // namespace conveyor::testing
