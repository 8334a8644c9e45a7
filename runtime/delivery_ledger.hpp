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

  /// Records that `terminal` consumed the `count` batches of `source` from sequence
  /// `first` on, the last of which ends at `position` (the positions of the others are
  /// not needed: a route's watermark only ever stops at the end of a run it was told
  /// of). Returns false when all of them were acknowledged already, or for an unknown
  /// route.
  bool ack(const std::string& terminal, const std::string& source, std::uint64_t first,
           const source_position& position, std::uint64_t count = 1);

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
  /// (`upto SOURCE TERMINAL SEQUENCE BYTE_OFFSET LINE ROW`) and per run acknowledged
  /// above it (`acks SOURCE TERMINAL FIRST LAST BYTE_OFFSET LINE ROW`; `restore` also
  /// reads `ack SOURCE TERMINAL SEQUENCE ...`, a run of one, as journals before runs
  /// have). Ends of streams are not kept: a resumed run's sources report theirs again.
  std::string encode() const;
  /// Replays `encode`'s text into a ledger whose routes are declared; lines for unknown
  /// routes are skipped. Returns the number of the first malformed line, or 0.
  std::size_t restore(const std::string& text);

private:
  /// Sequences first..last (the key is first), the last of which ends at `position`.
  struct run {
    std::uint64_t last = 0;
    source_position position;
  };
  struct route {
    std::uint64_t watermark = 0;
    source_position watermark_position;
    /// Runs acknowledged above the watermark, by first sequence: apart, none
    /// touching the next (`ack` merges them).
    std::map<std::uint64_t, run> above;
  };
  /// Moves the watermark over the runs that start within or right after it.
  static void advance(route& rt);
  struct source_state {
    std::optional<std::uint64_t> final_sequence;
    std::map<std::string, route> routes; // by terminal step
  };
  std::map<std::string, source_state> sources_;
};

} // namespace conveyor
