#include "actors/chaos.hpp"

#include "actors/kind_schema_builder.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace conveyor {

chaos_options chaos_options::from(const step_params& params) {
  auto fail_at = params.get_integer("fail_at");
  auto times = params.get_integer("times");
  if (fail_at < 1)
    throw step_failure("chaos: parameter 'fail_at' must be >= 1");
  if (times < 0)
    throw step_failure("chaos: parameter 'times' must be >= 0");
  auto delay = params.get_duration_ns("delay");
  if (delay < 0)
    throw step_failure("chaos: parameter 'delay' must not be negative");
  return chaos_options{static_cast<std::uint64_t>(fail_at), static_cast<std::uint64_t>(times),
                       delay};
}

void chaos::open(step_context& ctx) {
  ctx_ = &ctx;
  if (auto state = ctx.load_state()) {
    try {
      failures_ = std::stoull(*state);
    } catch (const std::exception&) {
      failures_ = 0;
    }
  }
}

void chaos::consume(std::size_t port, batch b, emitter& out) {
  ++seen_;
  if (seen_ == options_.fail_at && failures_ < options_.times) {
    ++failures_;
    ctx_->save_state(std::to_string(failures_));
    throw step_failure("chaos: injected failure at batch " + std::to_string(seen_) + " (" +
                       std::to_string(failures_) + " of " + std::to_string(options_.times) +
                       ")");
  }
  if (options_.delay_ns > 0)
    std::this_thread::sleep_for(std::chrono::nanoseconds(options_.delay_ns));
  out.emit(0, std::move(b));
}

kind_entry chaos_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "chaos";
  e.schema.doc = "Fault injection for testing supervision: fails on a chosen batch, "
                 "then passes batches through (optionally slowly).";
  e.schema.params = {
    optional_param("fail_at", param_type::integer, 1,
                   "fail when consuming this batch (1-based) since the step (re)started"),
    optional_param("times", param_type::integer, 1, "failures in total, across restarts"),
    optional_param("delay", param_type::duration, dsl::duration_value{0},
                   "sleep this long per batch (simulates a slow step)"),
  };
  e.schema.inputs = {batch_port("in")};
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<chaos>(chaos_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
