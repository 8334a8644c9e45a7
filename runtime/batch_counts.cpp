#include "runtime/batch_counts.hpp"

namespace conveyor {

bool batch_counts::seen_set::insert(std::uint64_t sequence) {
  if (sequence <= watermark || !above.insert(sequence).second)
    return false;
  for (auto next = above.begin(); next != above.end() && *next == watermark + 1;
       next = above.erase(next))
    watermark = *next;
  return true;
}

void batch_counts::add(const step_stats& report) {
  auto& t = totals_[report.step];
  for (const auto& b : report.handled) {
    // A batch without an identity (a kind that breaks the contract) counts every time.
    bool first = b.source.empty() ||
                 seen_[key{report.scope, b.output, b.port, b.source}].insert(b.sequence);
    if (!first) {
      (b.output ? t.replayed_out : t.replayed_in) += b.rows;
      continue;
    }
    if (b.output) {
      t.rows_out += b.rows;
      ++t.batches_out[b.port];
    } else {
      t.rows_in += b.rows;
      t.bytes_in += b.bytes;
    }
    t.rows_rejected += b.rejected;
  }
}

batch_counts::totals batch_counts::of(const std::string& step) const {
  auto i = totals_.find(step);
  return i == totals_.end() ? totals{} : i->second;
}

} // namespace conveyor
