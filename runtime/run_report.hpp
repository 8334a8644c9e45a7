// What a run did, per step and in total: printed at the end of `conveyor run` and
// written as JSON with `--report FILE` for scripts.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

/// Why a step failed the run: it exhausted its restarts (or may not restart).
struct step_failure_report {
  std::string step;
  std::string instance;
  std::int32_t restarts = 0;
  std::string last_error;
};

enum class run_status { completed, interrupted, failed };

std::string to_string(run_status s);

/// Totals for one step of the graph, summed over replicas and incarnations. Rows are
/// counted once per batch however often a replay after a restart brought it again
/// (batch_counts); the replays are counted apart.
struct step_summary {
  std::string step;
  std::string kind;
  int replicas = 1;
  std::uint64_t rows_in = 0;
  std::uint64_t rows_out = 0;
  std::uint64_t rows_rejected = 0;
  std::uint64_t bytes_in = 0;
  /// Rows that reached the step again after a restart (sources: rows emitted again).
  std::uint64_t rows_replayed = 0;
  int restarts = 0;
  double busy_seconds = 0;
  /// Distinct batches emitted, by output port index (replays not counted again). Not in
  /// the JSON report; read by the metrics endpoint for its per-edge counts.
  std::map<std::uint32_t, std::uint64_t> batches_out;
  /// Time the step's instances waited for credit, by (output port, consumer step), in
  /// seconds over every incarnation. Not in the JSON report; for metrics and status.
  std::map<std::pair<std::uint32_t, std::string>, double> credit_wait_seconds;
  /// Results the step reported (an evaluator's accuracy, a trainer's final loss).
  std::map<std::string, double> metrics;
};

struct run_report {
  std::string graph;
  run_status status = run_status::completed;
  double wall_seconds = 0;
  /// In the graph's node order.
  std::vector<step_summary> steps;
  /// Set when status is `failed`.
  std::vector<step_failure_report> failures;
  /// One-line reason for `failed` runs that no single step caused (placement, ...), and
  /// for a drain that ran out of time.
  std::string error;
  /// Step instances that had not ended when the drain's grace period ran out; the
  /// process does not wait for them.
  std::vector<std::string> abandoned;

  /// Human-readable table for the terminal.
  void print(std::ostream& out) const;
  /// The same facts as a JSON document (a stable contract: see docs/operator-guide.md).
  std::string to_json() const;
};

} // namespace conveyor
