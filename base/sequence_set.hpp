// A set of sequence numbers (1, 2, ...) kept compact: every number up to `watermark`,
// plus the ones above it that arrived out of order. Batches are numbered per source and
// mostly arrive in order, so the set stays a watermark and a few stragglers. Used for
// what a terminal step has delivered, what a csv_writer has in its file, and which
// batches the coordinator has counted.
#pragma once

#include <cstdint>
#include <set>

namespace conveyor {

struct sequence_set {
  std::uint64_t watermark = 0;
  std::set<std::uint64_t> above;

  bool contains(std::uint64_t sequence) const {
    return sequence <= watermark || above.count(sequence) != 0;
  }

  /// Adds `sequence`; false if it was already in the set.
  bool insert(std::uint64_t sequence) {
    if (sequence <= watermark || !above.insert(sequence).second)
      return false;
    for (auto next = above.begin(); next != above.end() && *next == watermark + 1;
         next = above.erase(next))
      watermark = *next;
    return true;
  }

  /// Adds every number up to `up_to` (what another holder of the set knows is there).
  void advance_to(std::uint64_t up_to) {
    if (up_to <= watermark)
      return;
    watermark = up_to;
    above.erase(above.begin(), above.upper_bound(up_to));
    for (auto next = above.begin(); next != above.end() && *next == watermark + 1;
         next = above.erase(next))
      watermark = *next;
  }

  /// Adds the `count` numbers from `first`; returns how many of them were new.
  std::uint64_t insert_run(std::uint64_t first, std::uint64_t count) {
    if (first == watermark + 1 && above.empty()) { // in order: the common case, no set nodes
      watermark += count;
      return count;
    }
    std::uint64_t added = 0;
    for (std::uint64_t k = 0; k < count; ++k)
      added += insert(first + k) ? 1 : 0;
    return added;
  }
};

} // namespace conveyor
