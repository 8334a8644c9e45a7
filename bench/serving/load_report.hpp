// What a load run measured, and its report: counts per outcome, the latency of every
// successful request, label accuracy; printed as text or JSON.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace conveyor::bench {

/// Tallies of one sender thread; merged at the end (no sharing while running).
struct load_stats {
  std::vector<double> latency_ms; ///< one per successful request
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t rows_ok = 0;
  std::uint64_t labelled_rows = 0; ///< rows of ok replies that carried a label
  std::uint64_t correct_labels = 0;
  std::map<std::string, std::uint64_t> failures; ///< by error code ("timeout (client)", ...)

  void merge(const load_stats& other);
};

/// How the run was set up, echoed in the report.
struct load_settings {
  std::string endpoint;
  std::string model;
  std::uint64_t version = 0;
  std::uint32_t sockets = 1;
  std::uint32_t concurrency = 1;
  std::uint32_t rows_per_request = 1;
  std::string encoding;
};

struct load_summary {
  double seconds = 0;
  double requests_per_s = 0;
  double rows_per_s = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  double accuracy = -1; ///< -1: no labels came back
  /// CPU time the load generator itself used meanwhile (all its threads, ZeroMQ's I/O
  /// thread included): it shares the machine with the server it drives.
  double cpu_seconds = 0;
};

/// Sorts `stats.latency_ms` and computes the summary of a run of `seconds`.
load_summary summarize(load_stats& stats, double seconds);

std::string to_text(const load_settings& s, const load_stats& stats, const load_summary& sum);
std::string to_json(const load_settings& s, const load_stats& stats, const load_summary& sum);

} // namespace conveyor::bench
