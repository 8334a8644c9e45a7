#include "runtime/batch_counts.hpp"

namespace conveyor {

void append_handled(std::vector<handled_batch>& list, handled_batch b) {
  if (!list.empty()) {
    auto& last = list.back();
    if (last.output == b.output && last.port == b.port && last.source == b.source &&
        !b.source.empty() && b.sequence == last.sequence + last.count && last.rows == b.rows &&
        last.bytes == b.bytes && last.rejected == 0 && b.rejected == 0 && b.count == 1) {
      ++last.count;
      return;
    }
  }
  list.push_back(std::move(b));
}

void batch_counts::add(const step_stats& report) {
  auto& t = totals_[report.step];
  for (const auto& b : report.handled) {
    // A batch without an identity (a kind that breaks the contract) counts every time.
    const std::uint64_t fresh =
      b.source.empty() ? b.count
                       : seen_[key{report.scope, b.output, b.port, b.source}].insert_run(b.sequence,
                                                                                          b.count);
    (b.output ? t.replayed_out : t.replayed_in) += (b.count - fresh) * b.rows;
    if (fresh == 0)
      continue;
    if (b.output) {
      t.rows_out += fresh * b.rows;
      t.batches_out[b.port] += fresh;
    } else {
      t.rows_in += fresh * b.rows;
      t.bytes_in += fresh * b.bytes;
    }
    t.rows_rejected += b.rejected; // a run has none; a single batch counts its own once
  }
}

batch_counts::totals batch_counts::of(const std::string& step) const {
  auto i = totals_.find(step);
  return i == totals_.end() ? totals{} : i->second;
}

} // namespace conveyor
