// zmq_source: a never-ending source that reads MessagePack rows from a ZeroMQ PULL
// socket (bound or connected), for fire-and-forget feeds: at most once.
//
// Each `produce` waits at most `max_wait` for a message, then takes what is already
// queued, up to `batch` messages, and emits the rows as one batch. Every frame is one
// message (stream_rows.hpp says what decodes); a message that does not decode is
// rejected with its number (counted from 1 since the step opened) and the field, and
// written to the quarantine file if there is one. Messages longer than
// max_stream_message make ZeroMQ drop the sender's connection.
//
// Nothing is acknowledged and nothing replays: a restart loses the rows in flight
// (emitted, not yet at every sink) and what the socket had queued; a drain stops
// reading and loses what the socket had queued, while everything emitted is delivered.
// Position after a batch: row = rows emitted so far (the only thing a restart keeps).
#pragma once

#include "actors/stream_rows.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace conveyor {

struct zmq_source_options {
  std::string endpoint;
  bool bind = true;
  stream_columns columns;
  std::uint32_t batch_rows = 1024;
  std::int64_t max_wait_ms = 200;
  std::string quarantine;

  static zmq_source_options from(const step_params& params);
};

class zmq_source : public step {
public:
  explicit zmq_source(zmq_source_options options);
  ~zmq_source() override;

  /// Opens the socket (a bind retries while an earlier incarnation still holds the
  /// address, up to 5 s) and the quarantine file; throws step_failure naming them.
  void open(step_context& ctx) override;
  bool is_source() const override { return true; }
  void resume(const source_position& after) override;
  bool produce(emitter& out) override;

private:
  /// Receives one frame without waiting; false when none is queued.
  bool receive(std::string& frame);
  void take(const std::string& frame);
  void check_quarantine(bool ok);

  zmq_source_options options_;
  step_context* ctx_ = nullptr;
  void* context_ = nullptr;
  void* socket_ = nullptr;
  std::unique_ptr<msgpack_row_decoder> decoder_;
  std::unique_ptr<row_batch_builder> builder_;
  std::FILE* quarantine_ = nullptr;
  std::uint64_t received_ = 0;
  std::uint64_t rows_emitted_ = 0;
};

kind_entry zmq_source_kind();

} // namespace conveyor
