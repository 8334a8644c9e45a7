#include "test_kinds.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>

#include <unistd.h>

namespace conveyor::testing {

void observations::reset() {
  std::lock_guard<std::mutex> guard{mutex};
  collected.clear();
  opens.clear();
  open_times.clear();
  resumed_after_rows.clear();
  models.clear();
  group_totals.clear();
  max_lag = produced = consumed = 0;
  hung = false;
  saw_stop_requested = 0;
}

observations& observed() {
  static observations o;
  return o;
}

namespace {

dsl::param_schema int_param(const std::string& name, std::int64_t def) {
  dsl::param_schema p;
  p.name = name;
  p.type = dsl::param_type::integer;
  p.default_value = dsl::value{def};
  return p;
}

void record_open(const std::string& instance) {
  auto& o = observed();
  std::lock_guard<std::mutex> guard{o.mutex};
  ++o.opens[instance];
  o.open_times[instance].push_back(std::chrono::steady_clock::now());
}

/// Fails on the `fail_at`-th call while fewer than `fail_times` failures happened in
/// earlier incarnations (counted in the step's durable state).
class failure_cue {
public:
  failure_cue(std::int64_t at, std::int64_t times) : at_(at), times_(times) {}
  void open(step_context& ctx) {
    ctx_ = &ctx;
    if (auto s = ctx.load_state())
      failures_ = std::stoll(*s);
  }
  void tick() {
    ++calls_;
    if (at_ > 0 && calls_ == at_ && failures_ < times_) {
      ctx_->save_state(std::to_string(failures_ + 1));
      throw step_failure("injected failure " + std::to_string(failures_ + 1));
    }
  }

private:
  std::int64_t at_, times_;
  std::int64_t calls_ = 0;
  std::int64_t failures_ = 0;
  step_context* ctx_ = nullptr;
};

void pause(std::int64_t us) {
  if (us > 0)
    std::this_thread::sleep_for(std::chrono::microseconds(us));
}

class numbers final : public step {
public:
  explicit numbers(const step_config& c)
    : count_(c.params.get_integer("count")), batch_(c.params.get_integer("batch")),
      payload_(c.params.get_integer("payload")), delay_(c.params.get_integer("delay_us")),
      progress_(c.params.get_integer("progress") != 0),
      cue_(c.params.get_integer("fail_at"), c.params.get_integer("fail_times")),
      schema_(std::make_shared<table_schema>()) {
    schema_->columns.push_back({"x", column_kind::numeric});
    for (std::int64_t i = 0; i < payload_; ++i)
      schema_->columns.push_back({"p" + std::to_string(i), column_kind::numeric});
  }
  void open(step_context& ctx) override {
    ctx_ = &ctx;
    record_open(ctx.step_name());
    cue_.open(ctx);
  }
  bool is_source() const override { return true; }
  void resume(const source_position& after) override {
    next_ = after.row;
    std::lock_guard<std::mutex> guard{observed().mutex};
    observed().resumed_after_rows.push_back(after.row);
  }
  bool produce(emitter& out) override {
    if (count_ > 0 && next_ >= static_cast<std::uint64_t>(count_))
      return false;
    cue_.tick();
    pause(delay_);
    auto n = static_cast<std::uint32_t>(
      count_ > 0 ? std::min<std::uint64_t>(batch_, count_ - next_) : batch_);
    batch b;
    b.rows = n;
    b.first_row = next_;
    b.schema = schema_;
    b.floats.assign(static_cast<std::size_t>(n) * (1 + payload_), 0.0f);
    for (std::uint32_t i = 0; i < n; ++i)
      b.floats[i] = static_cast<float>(next_ + i);
    next_ += n;
    b.position.row = next_;
    {
      auto& o = observed();
      std::lock_guard<std::mutex> guard{o.mutex};
      o.produced += n;
      o.max_lag = std::max(o.max_lag, o.produced - o.consumed);
    }
    out.emit(0, std::move(b));
    if (progress_)
      ctx_->report_progress(progress_info{"", 1, 1, next_, static_cast<std::uint64_t>(count_), 0, 0});
    return true;
  }

private:
  std::int64_t count_, batch_, payload_, delay_;
  bool progress_;
  step_context* ctx_ = nullptr;
  failure_cue cue_;
  std::shared_ptr<table_schema> schema_;
  std::uint64_t next_ = 0;
};

class pass final : public step {
public:
  explicit pass(const step_config& c)
    : delay_(c.params.get_integer("delay_us")),
      cue_(c.params.get_integer("fail_at"), c.params.get_integer("fail_times")) {}
  void open(step_context& ctx) override {
    record_open(ctx.step_name());
    cue_.open(ctx);
  }
  void consume(std::size_t, batch b, emitter& out) override {
    cue_.tick();
    pause(delay_);
    out.emit(0, std::move(b));
  }

private:
  std::int64_t delay_;
  failure_cue cue_;
};

class collect final : public step {
public:
  explicit collect(const step_config& c)
    : delay_(c.params.get_integer("delay_us")),
      cue_(c.params.get_integer("fail_at"), c.params.get_integer("fail_times")) {}
  void open(step_context& ctx) override {
    name_ = ctx.step_name();
    record_open(name_);
    cue_.open(ctx);
  }
  void consume(std::size_t, batch b, emitter&) override {
    cue_.tick();
    pause(delay_);
    auto& o = observed();
    std::lock_guard<std::mutex> guard{o.mutex};
    auto& list = o.collected[name_];
    for (std::uint32_t i = 0; i < b.rows; ++i)
      list.push_back(static_cast<std::uint64_t>(b.floats[i]));
    o.consumed += b.rows;
  }

private:
  std::int64_t delay_;
  failure_cue cue_;
  std::string name_;
};

/// Caches the rows it gets, then "trains" for `work_slices` produce calls and emits a
/// model whose artifact says how many rows it saw; acknowledges only at the end.
class model_maker final : public step {
public:
  explicit model_maker(const step_config& c)
    : slices_(c.params.get_integer("work_slices")),
      cue_(c.params.get_integer("fail_at"), c.params.get_integer("fail_times")) {}
  void open(step_context& ctx) override {
    ctx_ = &ctx;
    record_open(ctx.step_name());
    cue_.open(ctx);
  }
  void consume(std::size_t, batch b, emitter&) override { rows_ += b.rows; }
  bool acknowledge_on_consume() const override { return false; }
  bool produce(emitter& out) override {
    if (done_ >= slices_)
      return false;
    cue_.tick();
    ctx_->report_progress(progress_info{"", 1, 1, static_cast<std::uint64_t>(done_ + 1),
                                        static_cast<std::uint64_t>(slices_), 0.5, 100.0});
    if (++done_ == slices_) {
      out.emit_model(0, model_message{"m", std::make_shared<const std::string>(
                                             "rows=" + std::to_string(rows_))});
      ctx_->report_metrics({{"rows", static_cast<double>(rows_)}});
    }
    return true;
  }

private:
  std::int64_t slices_;
  failure_cue cue_;
  step_context* ctx_ = nullptr;
  std::uint64_t rows_ = 0;
  std::int64_t done_ = 0;
};

class model_sink final : public step {
public:
  explicit model_sink(const step_config&) {}
  void open(step_context& ctx) override { name_ = ctx.step_name(); }
  void consume_model(std::size_t, model_message m, emitter&) override {
    std::lock_guard<std::mutex> guard{observed().mutex};
    observed().models[name_].push_back(*m.artifact);
  }

private:
  std::string name_;
};

/// A replica group: every replica sees every row, sums the rows it owns (row index
/// modulo replicas), and exchanges partial sums with its peers to get the total.
class group_sum final : public step {
public:
  explicit group_sum(const step_config& c) : replica_(c.replica), replicas_(c.replicas) {}
  void open(step_context& ctx) override {
    ctx_ = &ctx;
    record_open(ctx.step_name());
  }
  void consume(std::size_t, batch b, emitter&) override {
    for (std::uint32_t i = 0; i < b.rows; ++i) {
      auto row = b.first_row + i;
      if (static_cast<int>(row % replicas_) == replica_)
        partial_ += b.floats[i];
    }
  }
  void finish(emitter&) override {
    ctx_->send_to_peers(1, std::make_shared<const std::string>(
                             reinterpret_cast<const char*>(&partial_), sizeof partial_));
    total_ = partial_;
    finished_ = true;
  }
  void consume_peer(peer_message m) override {
    double part = 0;
    if (m.bytes && m.bytes->size() == sizeof part)
      std::memcpy(&part, m.bytes->data(), sizeof part);
    total_ += part;
    ++heard_;
  }
  bool blocked() const override { return finished_ && heard_ < replicas_ - 1; }
  bool produce(emitter&) override {
    std::lock_guard<std::mutex> guard{observed().mutex};
    observed().group_totals[ctx_->step_name()] = total_;
    return false;
  }

private:
  int replica_, replicas_;
  step_context* ctx_ = nullptr;
  double partial_ = 0, total_ = 0;
  int heard_ = 0;
  bool finished_ = false;
};

/// A sink that, like an inference server, keeps serving after its inputs end.
class service final : public step {
public:
  explicit service(const step_config&) {}
  void open(step_context& ctx) override {
    name_ = ctx.step_name();
    record_open(name_);
  }
  void consume(std::size_t, batch b, emitter&) override {
    std::lock_guard<std::mutex> guard{observed().mutex};
    for (std::uint32_t i = 0; i < b.rows; ++i)
      observed().collected[name_].push_back(static_cast<std::uint64_t>(b.floats[i]));
  }
  bool is_service() const override { return true; }
  void tick() override {
    std::lock_guard<std::mutex> guard{observed().mutex};
    ++observed().ticks[name_];
  }

private:
  std::string name_;
};

/// Blocks inside its first `consume` for good, ignoring the drain.
class hang final : public step {
public:
  explicit hang(const step_config&) {}
  void consume(std::size_t, batch, emitter&) override {
    {
      std::lock_guard<std::mutex> guard{observed().mutex};
      observed().hung = true;
    }
    for (;;)
      ::pause();
  }
};

/// Blocks inside its first `consume` until the runtime sets stop_requested, as a reader
/// blocked on a FIFO or a trainer inside its loop does.
class wait_for_drain final : public step {
public:
  explicit wait_for_drain(const step_config&) {}
  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume(std::size_t, batch, emitter&) override {
    if (waited_)
      return;
    waited_ = true;
    while (!ctx_->stop_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> guard{observed().mutex};
    ++observed().saw_stop_requested;
  }

private:
  step_context* ctx_ = nullptr;
  bool waited_ = false;
};

template <class T>
kind_entry make_kind(const std::string& name, bool source, bool sink,
                     std::vector<dsl::param_schema> params) {
  kind_entry e;
  e.schema.name = name;
  e.schema.doc = "test kind";
  e.schema.params = std::move(params);
  e.schema.params.push_back(int_param("delay_us", 0));
  e.schema.params.push_back(int_param("fail_at", 0));
  e.schema.params.push_back(int_param("fail_times", 0));
  if (!source)
    e.schema.inputs.push_back(dsl::port_schema{"in", "batch"});
  if (!sink)
    e.schema.outputs.push_back(dsl::port_schema{"out", "batch"});
  e.factory = [](const step_config& c) { return std::make_unique<T>(c); };
  return e;
}

} // namespace

void register_test_kinds(kind_registry& registry) {
  registry.add(make_kind<numbers>(
    "numbers", true, false,
    {int_param("count", 1000), int_param("batch", 10), int_param("payload", 0), int_param("progress", 0)}));
  registry.add(make_kind<pass>("pass", false, false, {}));
  registry.add(make_kind<collect>("collect", false, true, {}));
  registry.add(make_kind<service>("service", false, true, {}));
  registry.add(make_kind<hang>("hang", false, true, {}));
  registry.add(make_kind<wait_for_drain>("wait_for_drain", false, true, {}));
  auto maker = make_kind<model_maker>("model_maker", false, true, {int_param("work_slices", 3)});
  maker.schema.outputs.push_back(dsl::port_schema{"model", "model"});
  registry.add(std::move(maker));
  auto sink = make_kind<model_sink>("model_sink", true, true, {});
  sink.schema.inputs.push_back(dsl::port_schema{"model", "model"});
  registry.add(std::move(sink));
  auto group = make_kind<group_sum>("group_sum", false, true, {int_param("workers", 2)});
  group.schema.replica_group = true;
  group.instances = instance_rule{
    "workers", [](const step_params& p) { return static_cast<int>(p.get_integer("workers")); }};
  registry.add(std::move(group));
}

} // namespace conveyor::testing
