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

  void reset();
};

observations& observed();

/// Kinds: `numbers` (source), `pass`, `collect` (sink), `model_maker` (batches in,
/// a model out after some work), `model_sink`, `group_sum` (a replica group),
/// `service` (a sink that keeps running until the run is drained, counting ticks).
void register_test_kinds(kind_registry& registry);

} // namespace conveyor::testing
