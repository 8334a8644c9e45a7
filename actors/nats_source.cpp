#include "actors/nats_source.hpp"

#include "actors/csv_quote.hpp"
#include "actors/kind_schema_builder.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

namespace conveyor {

namespace {

constexpr const char* kind_name = "nats_source";

std::string required_text(const step_params& params, const std::string& key) {
  auto v = params.get_string(key);
  if (v.empty())
    throw step_failure(std::string(kind_name) + ": parameter '" + key + "' must not be empty");
  return v;
}

} // namespace

nats_source_options nats_source_options::from(const step_params& params) {
  nats_source_options o;
  o.target.url = required_text(params, "url");
  o.target.stream = required_text(params, "stream");
  o.target.durable = required_text(params, "durable");
  o.target.subject = required_text(params, "subject");
  for (char c : o.target.durable)
    if (c == '.' || c == '*' || c == '>' || c == ' ')
      throw step_failure(std::string(kind_name) +
                         ": parameter 'durable' must not contain '.', '*', '>' or spaces, got '" +
                         o.target.durable + "'");
  o.columns = stream_columns::from(params, kind_name);
  auto b = params.get_integer("batch");
  if (b < 1 || b > (1 << 20))
    throw step_failure(std::string(kind_name) + ": parameter 'batch' must be in 1..1048576, got " +
                       std::to_string(b));
  o.batch_rows = static_cast<std::uint32_t>(b);
  auto wait = params.get_duration_ns("max_wait");
  if (wait < 1'000'000 || wait > 10'000'000'000LL)
    throw step_failure(std::string(kind_name) + ": parameter 'max_wait' must be in 1ms..10s");
  o.max_wait_ms = wait / 1'000'000;
  o.quarantine = params.get_string("quarantine");
  auto takeover = params.get_duration_ns("takeover_wait");
  if (takeover < 1'000'000 || takeover > 600'000'000'000LL)
    throw step_failure(std::string(kind_name) + ": parameter 'takeover_wait' must be in 1ms..10m");
  o.takeover_wait_ms = takeover / 1'000'000;
  return o;
}

nats_source::nats_source(nats_source_options options) : options_(std::move(options)) {}

nats_source::~nats_source() {
  consumer_.reset(); // closed before the lease goes to a waiting next incarnation
  lease_.release();
  if (quarantine_ != nullptr)
    std::fclose(quarantine_);
}

void nats_source::open(step_context& ctx) {
  ctx_ = &ctx;
  auto state = ctx.load_state();
  if (state)
    load_state(*state);
  if (!options_.quarantine.empty()) {
    // A restarted source appends: what was quarantined before the restart stays.
    errno = 0;
    quarantine_ = std::fopen(options_.quarantine.c_str(), state ? "ab" : "wb");
    if (quarantine_ == nullptr)
      throw step_failure(std::string(kind_name) + ": cannot open quarantine file '" +
                         options_.quarantine + "': " + std::strerror(errno));
    if (!state)
      check_quarantine(std::fputs("sequence,reason,message_hex\n", quarantine_) >= 0 &&
                       std::fflush(quarantine_) == 0);
  }
  auto schema = options_.columns.schema();
  decoder_ = std::make_unique<msgpack_row_decoder>(schema);
  builder_ = std::make_unique<row_batch_builder>(schema);
  const auto key = consumer_lease::key_of(options_.target);
  const auto asked = std::chrono::steady_clock::now();
  if (!lease_.acquire(key, std::chrono::milliseconds(options_.takeover_wait_ms),
                      [&ctx] { return ctx.stop_requested(); }))
    throw step_failure(
      ctx.stop_requested()
        ? std::string(kind_name) + ": drained while waiting for an earlier incarnation to "
          "close the durable consumer (" + key + ")"
        : std::string(kind_name) + ": the durable consumer (" + key + ") is still open in "
          "this process after " + std::to_string(options_.takeover_wait_ms) + " ms "
          "(takeover_wait): an earlier incarnation of this step has not closed it, or "
          "another step reads the same durable name");
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - asked).count();
  if (waited >= 1)
    ctx.log_info("waited " + std::to_string(waited) + " ms for an earlier incarnation to close "
                 "the durable consumer");
  try {
    consumer_ = std::make_unique<jetstream_consumer>(options_.target, options_.connect_timeout_ms);
  } catch (...) {
    lease_.release();
    throw;
  }
  ctx.log_info("reading " + consumer_->describe() + " subject '" + options_.target.subject +
               "' after stream sequence " + std::to_string(consumer_->ack_floor()));
  save_state();
}

void nats_source::resume(const source_position& after) {
  delivered_through_ = after.byte_offset;
  rows_emitted_ = after.row;
  while (!replay_ends_.empty() && replay_ends_.front() <= delivered_through_)
    replay_ends_.pop_front();
}

void nats_source::load_state(const std::string& bytes) {
  std::istringstream in(bytes);
  std::string word;
  std::uint64_t value = 0;
  if (!(in >> word >> quarantined_through_) || word != "quarantined" || !(in >> word) ||
      word != "ends")
    throw step_failure(std::string(kind_name) + ": unreadable durable state");
  // Batches emitted before the restart and not delivered: rebuilt with the same ends.
  while (in >> value)
    replay_ends_.push_back(value);
}

void nats_source::save_state() {
  std::string s = "quarantined " + std::to_string(quarantined_through_) + "\nends";
  for (auto end : replay_ends_)
    s += " " + std::to_string(end);
  for (auto end : batch_ends_)
    s += " " + std::to_string(end);
  ctx_->save_state(std::move(s));
}

void nats_source::check_quarantine(bool ok) {
  if (ok)
    return;
  throw step_failure(std::string(kind_name) + ": cannot write quarantine file '" +
                     options_.quarantine + "': " + std::strerror(errno));
}

void nats_source::take(const jetstream_consumer::message& m) {
  auto error = decoder_->decode(m.data, m.size);
  if (error.empty()) {
    builder_->add(*decoder_);
    return;
  }
  ctx_->reject(1, "stream sequence " + std::to_string(m.stream_sequence) + ": " + error);
  if (quarantine_ != nullptr && m.stream_sequence > quarantined_through_) {
    std::string line = std::to_string(m.stream_sequence) + ",";
    append_csv_field(line, error, ',');
    line += "," + to_hex(m.data, m.size) + "\n";
    check_quarantine(std::fwrite(line.data(), 1, line.size(), quarantine_) == line.size());
    quarantined_through_ = m.stream_sequence;
  }
}

void nats_source::emit(emitter& out, jetstream_consumer::message last) {
  auto b = builder_->take();
  b.first_row = rows_emitted_;
  rows_emitted_ += b.rows;
  b.position = source_position{last.stream_sequence, 0, rows_emitted_};
  if (quarantine_ != nullptr)
    check_quarantine(std::fflush(quarantine_) == 0);
  batch_ends_.push_back(last.stream_sequence);
  save_state();
  auto end = last.stream_sequence;
  undelivered_.emplace(end, std::move(last));
  // A rebuilt batch that the runtime already reported delivered (acknowledgements of
  // the previous incarnation's batches that arrived after the restart).
  if (end <= reported_through_)
    delivered(source_position{reported_through_, 0, 0});
  out.emit(0, std::move(b));
}

bool nats_source::produce(emitter& out) {
  if (ctx_->stop_requested())
    return true; // the drain ends the stream; nothing more is fetched
  if (fetched_.empty()) {
    auto resets = consumer_->resets();
    auto reconnects = consumer_->reconnects();
    bool was_connected = consumer_->connected();
    auto got = consumer_->fetch(static_cast<int>(options_.batch_rows), options_.max_wait_ms);
    if (consumer_->resets() != resets)
      ctx_->log_warning("another connection took messages of " + consumer_->describe() +
                        " (an earlier incarnation closing?): reading again after stream "
                        "sequence " + std::to_string(consumer_->ack_floor()));
    if (was_connected && !consumer_->connected())
      ctx_->log_warning("lost the connection to " + consumer_->describe() +
                        ": connecting again every " + std::to_string(options_.max_wait_ms) +
                        " ms");
    if (consumer_->reconnects() != reconnects)
      ctx_->log_info("connected again to " + consumer_->describe() +
                     ": reading again after stream sequence " +
                     std::to_string(consumer_->ack_floor()));
    std::optional<jetstream_consumer::message> skipped;
    for (auto& m : got) {
      if (m.stream_sequence <= received_through_) {
        // Here already (delivered again: its ack wait passed, a reset or a reconnection).
        // A batch's last message is kept from its newest delivery: one from a lost
        // connection can no longer be acknowledged.
        auto pending = undelivered_.find(m.stream_sequence);
        if (pending != undelivered_.end())
          pending->second = std::move(m);
        continue;
      }
      received_through_ = m.stream_sequence;
      if (m.stream_sequence <= delivered_through_)
        skipped = std::move(m); // delivered before a restart
      else
        fetched_.push_back(std::move(m));
    }
    if (skipped) {
      auto through = skipped->stream_sequence;
      undelivered_.emplace(through, std::move(*skipped));
      delivered(source_position{through, 0, 0});
    }
  }
  // One batch per call: up to `batch` messages, or, replaying, up to the next recorded end.
  bool done = false;
  while (!fetched_.empty() && !done) {
    bool replaying = !replay_ends_.empty();
    auto& m = fetched_.front();
    if (replaying && m.stream_sequence > replay_ends_.front()) {
      // The recorded end is gone from the stream (its limits dropped it): end here.
      replay_ends_.pop_front();
      done = building_.has_value();
      continue;
    }
    if (!building_)
      building_replay_ = replaying;
    take(m);
    building_ = std::move(m);
    fetched_.pop_front();
    ++batch_messages_;
    if (replaying && building_->stream_sequence == replay_ends_.front()) {
      replay_ends_.pop_front();
      done = true;
    } else if (!replaying) {
      done = batch_messages_ == options_.batch_rows;
    }
  }
  // A replayed batch short of its recorded end continues with the next fetch.
  if (!building_ || (!done && building_replay_))
    return true;
  emit(out, std::move(*building_));
  building_.reset();
  batch_messages_ = 0;
  return true;
}

void nats_source::delivered(const source_position& up_to) {
  auto through = up_to.byte_offset;
  reported_through_ = std::max(reported_through_, through);
  auto end = undelivered_.upper_bound(through);
  if (end != undelivered_.begin() && consumer_) {
    try {
      consumer_->acknowledge_through(std::prev(end)->second);
    } catch (const step_failure& e) {
      // Not acknowledged: JetStream delivers these again to the next run (at least once).
      ctx_->log_warning(e.what());
    }
    undelivered_.erase(undelivered_.begin(), end);
  }
  while (!batch_ends_.empty() && batch_ends_.front() <= through)
    batch_ends_.pop_front();
  if (ctx_ != nullptr)
    save_state();
}

kind_entry nats_source_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = kind_name;
  e.schema.doc = "Reads MessagePack rows from a durable NATS JetStream consumer, at least "
                 "once; never ends (drain the run to stop it).";
  e.schema.params = {
    optional_param("url", param_type::string, "nats://127.0.0.1:4222", "NATS server URL"),
    required_param("stream", param_type::string, "JetStream stream to read"),
    required_param("durable", param_type::string,
                   "durable consumer name (one reader at a time; created if missing)"),
    required_param("subject", param_type::string, "subject filter within the stream"),
    optional_param("batch", param_type::integer, std::int64_t{1024}, "messages per batch at most"),
    optional_param("max_wait", param_type::duration, dsl::duration_value{200'000'000},
                   "longest wait for messages before a smaller batch goes out"),
    optional_param("takeover_wait", param_type::duration, dsl::duration_value{30'000'000'000},
                   "a restarted source waits this long at most for its previous incarnation "
                   "to close the durable consumer"),
    dsl::writes_file(optional_param("quarantine", param_type::string, "",
                                    "CSV file receiving malformed messages "
                                    "(sequence, reason, message as hex)")),
  };
  // The row schema's params (columns, categorical, label), listed before `batch`.
  auto columns = stream_columns::params();
  auto batch = std::find_if(e.schema.params.begin(), e.schema.params.end(),
                            [](const dsl::param_schema& p) { return p.name == "batch"; });
  e.schema.params.insert(batch, columns.begin(), columns.end());
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<nats_source>(nats_source_options::from(c.params));
  };
  e.instances = instance_rule{{}, [](const step_params&) { return 1; }};
  return e;
}

} // namespace conveyor
