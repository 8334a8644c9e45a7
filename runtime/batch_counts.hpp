// Exact row counts across restarts. A replay after a restart sends batches through
// steps again; counting every arrival would report more rows than the data holds. So
// step actors report each batch they handled by its identity (source, sequence) and
// the coordinator counts a batch once per step: the first time it is seen. Later
// arrivals of the same identity are replays, counted apart. Plain C++; owned by the
// coordinator.
//
// The identity holds because steps keep a batch's (source, sequence) when they
// transform it (the step contract), and a replayed source numbers its batches as
// before; a replayed batch is assumed to hold the same rows as the first time
// (deterministic steps).
#pragma once

#include "base/sequence_set.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace conveyor {

/// One batch a step instance handled: received (`output` false) on input port `port`,
/// or emitted on output port `port`; or a run of `count` such batches with consecutive
/// sequence numbers from `sequence`, each of `rows` rows and `bytes` bytes and none with
/// rejected rows (see append_handled).
struct handled_batch {
  bool output = false;
  std::uint32_t port = 0;
  std::string source;
  std::uint64_t sequence = 0;
  std::uint64_t rows = 0;
  /// Inputs: the batch's payload bytes.
  std::uint64_t bytes = 0;
  /// Rows the step rejected while handling it (inputs of consumers, outputs of sources).
  std::uint64_t rejected = 0;
  std::uint64_t count = 1;
};

/// Appends `b` to `list`, extending the last entry instead where `b` continues its run
/// (same direction, port and source, the next sequence number, the same rows and bytes,
/// no rejected rows in either): a stream of equal batches is reported in a few entries
/// rather than one per batch.
void append_handled(std::vector<handled_batch>& list, handled_batch b);

/// How long a producer waited for credit on one edge (its output port to one consumer
/// step): where backpressure holds the graph back.
struct credit_wait {
  std::uint32_t port = 0;
  std::string consumer_step;
  std::uint64_t wait_ns = 0;
};

/// What one incarnation of one step instance reports, periodically and when it ends.
struct step_stats {
  std::string instance;
  std::string step;
  std::int32_t incarnation = 0;
  /// Whose batches are deduplicated together: the step, or for a replica group each
  /// instance (every replica receives every batch).
  std::string scope;
  /// Cumulative for the incarnation: time inside the step's own code, and rows
  /// rejected outside any batch (in `finish`, in a consumer's `produce`).
  std::uint64_t busy_ns = 0;
  std::uint64_t rejected_outside_batches = 0;
  /// Batches handled since the previous report of this incarnation.
  std::vector<handled_batch> handled;
  /// The incarnation has ended: nothing follows this report.
  bool last = false;
  /// Cumulative for the incarnation: time blocked on credit, per edge.
  std::vector<credit_wait> credit_waits;
};

class batch_counts {
public:
  struct totals {
    /// Rows of distinct batches received, emitted and rejected, payload bytes received.
    std::uint64_t rows_in = 0;
    std::uint64_t rows_out = 0;
    std::uint64_t rows_rejected = 0;
    std::uint64_t bytes_in = 0;
    /// Rows of batches received again, and emitted again (a replayed source).
    std::uint64_t replayed_in = 0;
    std::uint64_t replayed_out = 0;
    /// Distinct batches emitted, by output port.
    std::map<std::uint32_t, std::uint64_t> batches_out;
  };

  /// Counts the batches of one report.
  void add(const step_stats& report);
  /// Totals of `step`, over its instances and incarnations.
  totals of(const std::string& step) const;

private:
  using key = std::tuple<std::string, bool, std::uint32_t, std::string>;
  std::map<key, sequence_set> seen_; // by (scope, output, port, source)
  std::map<std::string, totals> totals_; // by step
};

} // namespace conveyor
