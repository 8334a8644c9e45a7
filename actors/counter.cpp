#include "actors/counter.hpp"

#include "actors/kind_schema_builder.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace conveyor {

counter_options counter_options::from(const step_params& params) {
  auto every = params.get_integer("every");
  if (every < 0)
    throw step_failure("counter: parameter 'every' must be >= 0");
  return counter_options{static_cast<std::uint64_t>(every)};
}

void counter::open(step_context& ctx) {
  ctx_ = &ctx;
  if (auto state = ctx.load_state()) {
    unsigned long long rows = 0, batches = 0;
    if (std::sscanf(state->c_str(), "%llu %llu", &rows, &batches) == 2) {
      rows_ = rows;
      batches_ = batches;
    }
  }
}

void counter::consume(std::size_t port, batch b, emitter& out) {
  auto now = std::chrono::steady_clock::now();
  if (received_ == 0)
    first_ = now;
  last_ = now;
  ++received_;
  bytes_ += b.payload_bytes();
  auto before = rows_;
  rows_ += b.rows;
  ++batches_;
  ctx_->save_state(std::to_string(rows_) + " " + std::to_string(batches_));
  if (options_.every > 0 && rows_ / options_.every != before / options_.every)
    ctx_->log_info(std::to_string(rows_) + " rows in " + std::to_string(batches_) + " batches");
}

void counter::finish(emitter& out) {
  ctx_->log_info("total: " + std::to_string(rows_) + " rows in " + std::to_string(batches_) +
                 " batches");
  // What this incarnation received, first batch to last: a transport's rate (bench/cluster).
  if (received_ > 1) {
    auto seconds = std::chrono::duration<double>(last_ - first_).count();
    ctx_->report_metrics({{"first_to_last_seconds", seconds},
                          {"batches_received", static_cast<double>(received_)},
                          {"bytes_received", static_cast<double>(bytes_)}});
  }
}

kind_entry counter_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "counter";
  e.schema.doc = "Counts rows and batches and logs the totals (sink).";
  e.schema.params = {
    optional_param("every", param_type::integer, 0,
                   "log a line every this many rows (0: only at the end)"),
  };
  e.schema.inputs = {batch_port("in")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<counter>(counter_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
