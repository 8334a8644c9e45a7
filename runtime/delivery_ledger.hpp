// The delivery ledger: which batches of which source every terminal step has
// acknowledged. It decides where a restarted source resumes (after the last batch
// that every terminal step reachable from it acknowledged, with nothing missing
// before it), which replayed batches a terminal step skips, and when a run is
// complete. Plain C++; owned by the coordinator.
#pragma once

#include "data/batch.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace conveyor {

class delivery_ledger {
public:
  /// Declares that batches of `source` (a source instance) reach `terminal` (a step
  /// name). Call for every pair before the run starts.
  void add_route(const std::string& source, const std::string& terminal);

  /// Records that `terminal` consumed batch `sequence` of `source`, which ends at
  /// `position`. Returns false for a duplicate (already acknowledged) or an unknown
  /// route.
  bool ack(const std::string& terminal, const std::string& source, std::uint64_t sequence,
           const source_position& position);

  struct resume_point {
    /// Last sequence acknowledged everywhere with no gap before it (0: none).
    std::uint64_t last_sequence = 0;
    source_position position;
  };
  /// Where `source` resumes after a restart.
  resume_point resume_point_of(const std::string& source) const;

  /// The source ended its stream with batch `last_sequence` (0: it produced none).
  void set_final(const std::string& source, std::uint64_t last_sequence);
  /// The source is replaying: its end is not known again until it reports it.
  void clear_final(const std::string& source);

  /// True when every source reported its end and every route acknowledged it all.
  bool complete() const;

  /// What `terminal` has acknowledged, per source: the watermark and the sequence
  /// numbers above it.
  struct acked_set {
    std::string source;
    std::uint64_t watermark = 0;
    std::vector<std::uint64_t> above;
  };
  std::vector<acked_set> delivered_to(const std::string& terminal) const;

  /// Sources registered (with or without routes).
  void add_source(const std::string& source);

  /// Every acknowledgement as text, one line per route's watermark
  /// (`upto SOURCE TERMINAL SEQUENCE BYTE_OFFSET LINE ROW`) and per sequence acknowledged
  /// above it (`ack ...`, the same fields). Ends of streams are not kept: a resumed run's sources
  /// report theirs again.
  std::string encode() const;
  /// Replays `encode`'s text into a ledger whose routes are declared; lines for unknown
  /// routes are skipped. Returns the number of the first malformed line, or 0.
  std::size_t restore(const std::string& text);

private:
  struct route {
    std::uint64_t watermark = 0;
    source_position watermark_position;
    /// Acknowledged above the watermark, with their end positions.
    std::map<std::uint64_t, source_position> above;
  };
  struct source_state {
    std::optional<std::uint64_t> final_sequence;
    std::map<std::string, route> routes; // by terminal step
  };
  std::map<std::string, source_state> sources_;
};

} // namespace conveyor
