// What a run did, per step and in total: printed at the end of `conveyor run` and
// written as JSON with `--report FILE` for scripts.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace conveyor {

/// Counters of one incarnation of one step instance (a restart starts a new one).
struct step_stats {
  std::string instance;
  std::string step;
  std::int32_t incarnation = 0;
  std::uint64_t rows_in = 0;
  std::uint64_t rows_out = 0;
  std::uint64_t batches_in = 0;
  std::uint64_t batches_out = 0;
  std::uint64_t rows_rejected = 0;
  std::uint64_t bytes_in = 0;
  /// Time spent inside the step's own code (open, produce, consume, finish).
  std::uint64_t busy_ns = 0;
};

/// Why a step failed the run: it exhausted its restarts (or may not restart).
struct step_failure_report {
  std::string step;
  std::string instance;
  std::int32_t restarts = 0;
  std::string last_error;
};

enum class run_status { completed, interrupted, failed };

std::string to_string(run_status s);

/// Totals for one step of the graph, summed over replicas and incarnations.
struct step_summary {
  std::string step;
  std::string kind;
  int replicas = 1;
  std::uint64_t rows_in = 0;
  std::uint64_t rows_out = 0;
  std::uint64_t rows_rejected = 0;
  std::uint64_t bytes_in = 0;
  int restarts = 0;
  double busy_seconds = 0;
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
  /// One-line reason for `failed` runs that no single step caused (placement, ...).
  std::string error;

  /// Human-readable table for the terminal.
  void print(std::ostream& out) const;
  /// The same facts as a JSON document (a stable contract: see docs/operator-guide.md).
  std::string to_json() const;
};

} // namespace conveyor
