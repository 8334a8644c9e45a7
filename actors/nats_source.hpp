// nats_source: a never-ending source that reads MessagePack rows from a durable
// NATS JetStream consumer, at least once.
//
// Each `produce` fetches up to `batch` messages, waiting at most `max_wait`, and emits
// them as one batch (nothing when none came). A message that does not decode (see
// stream_rows.hpp) is rejected with its stream sequence and the field, written to the
// quarantine file if there is one, and covered by its batch like a row, so it is
// acknowledged with it: it would never decode. A batch of rejected messages only is
// emitted with no rows for that reason.
//
// Acknowledgement: a message is acknowledged to JetStream only when the runtime says
// (`delivered`) that its batch reached every terminal step. Position after a batch:
// byte_offset = stream sequence of its last message, row = rows emitted so far.
// Replay: the stream sequences that end the batches emitted but not yet delivered are
// durable state, so a restarted incarnation rebuilds exactly the same batches after the
// resume position (the terminal steps skip those they already have, by source and
// sequence number). Messages up to the resume position that JetStream still holds as
// unacknowledged are skipped and acknowledged. Across runs (the state is per run), a
// new run receives what was not acknowledged again: at least once.
// The stream ends only when the run drains; a `produce` waits at most `max_wait`.
//
// Respawn: a supervisor restarting the step spawns the new incarnation while the old one
// may still be inside a fetch. Opening takes the process-wide consumer_lease of the
// durable consumer first, which the old incarnation gives back only once its consumer
// is closed (its destructor); the new one waits for it at most `takeover_wait` (then
// fails, naming the consumer), so two incarnations never read the durable at once.
#pragma once

#include "actors/jetstream_consumer.hpp"
#include "actors/stream_rows.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

struct nats_source_options {
  jetstream_target target;
  stream_columns columns;
  std::uint32_t batch_rows = 1024;
  std::int64_t max_wait_ms = 200;
  std::int64_t connect_timeout_ms = 5000;
  /// How long opening waits for an earlier holder in this process to close the consumer.
  std::int64_t takeover_wait_ms = 30'000;
  std::string quarantine;

  static nats_source_options from(const step_params& params);
};

class nats_source : public step {
public:
  explicit nats_source(nats_source_options options);
  ~nats_source() override;

  /// Connects, binds the durable consumer and opens the quarantine file; throws
  /// step_failure naming the server, stream and durable name (or the file).
  void open(step_context& ctx) override;
  bool is_source() const override { return true; }
  void resume(const source_position& after) override;
  bool produce(emitter& out) override;
  void delivered(const source_position& up_to) override;

private:
  /// Decodes `m` into the batch being built, or rejects it.
  void take(const jetstream_consumer::message& m);
  /// Emits the batch ending with `last`, keeping it for the acknowledgement.
  void emit(emitter& out, jetstream_consumer::message last);
  void save_state();
  void load_state(const std::string& bytes);
  void check_quarantine(bool ok);

  nats_source_options options_;
  step_context* ctx_ = nullptr;
  /// Held from before the consumer opens until after it is closed (~nats_source).
  consumer_lease lease_;
  std::unique_ptr<jetstream_consumer> consumer_;
  std::unique_ptr<msgpack_row_decoder> decoder_;
  std::unique_ptr<row_batch_builder> builder_;
  std::FILE* quarantine_ = nullptr;
  /// Fetched and not yet taken into a batch (replay: past a batch's end).
  std::deque<jetstream_consumer::message> fetched_;
  /// The last message of the batch being built, how many it holds, and whether it
  /// rebuilds a batch emitted before a restart.
  std::optional<jetstream_consumer::message> building_;
  std::uint32_t batch_messages_ = 0;
  bool building_replay_ = false;
  /// Emitted, not yet delivered everywhere: the last message of each batch, by sequence.
  std::map<std::uint64_t, jetstream_consumer::message> undelivered_;
  /// Durable state: the stream sequences ending the batches not yet delivered.
  std::deque<std::uint64_t> batch_ends_;
  /// Replay after a restart: batches to rebuild with these ends, in order.
  std::deque<std::uint64_t> replay_ends_;
  /// Messages up to here were delivered before a restart: skip them.
  std::uint64_t delivered_through_ = 0;
  /// The last stream sequence received (messages delivered again at or below it are
  /// skipped).
  std::uint64_t received_through_ = 0;
  /// The furthest position the runtime reported delivered.
  std::uint64_t reported_through_ = 0;
  /// Quarantined up to here (durable: a replay does not write them again).
  std::uint64_t quarantined_through_ = 0;
  std::uint64_t rows_emitted_ = 0;
};

kind_entry nats_source_kind();

} // namespace conveyor
