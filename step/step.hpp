// The contract between an actor kind's logic and the runtime that hosts it.
// A kind implements `step` as plain C++ (no CAF): the runtime's step actor owns the
// edges, credits, sequence numbers, acknowledgements and supervision, and calls the
// step. Kinds are therefore testable without an actor system.
//
// Rules for implementations:
// - All calls come from one thread at a time (the hosting actor); no locking needed.
// - `open` is called once, first. Then a source gets `produce` calls (and perhaps one
//   `resume` before the first), a consumer gets `consume` calls and, when every input
//   has ended, `finish`.
// - `finish` may be called again after more `consume` calls: when a downstream step
//   restarts, its sources replay what was not acknowledged, through steps that had
//   already finished. Steps must tolerate that (flush again, do not double-count).
// - A step reports a failure it cannot handle by throwing (`step_failure` or any
//   std::exception): the runtime stops the step, logs the message and supervises it
//   (restart with backoff, or fail the run). Bad rows are not failures: count them
//   with `context::reject` and carry on.
// - Each call should return promptly (a source's `produce` makes one batch; a
//   trainer's makes a few optimizer steps): the hosting actor serves its mailbox
//   (credits, peers, shutdown) between calls.
#pragma once

#include "data/batch.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace conveyor {

/// Thrown by a step for a failure that should stop (and restart) it.
class step_failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A trained model on a "model" edge. The runtime treats the artifact as opaque
/// bytes (the model file format, docs/model-format.md), so models cross nodes as they
/// are written to disk.
struct model_message {
  /// The model's name (what a publisher files it under).
  std::string name;
  std::shared_ptr<const std::string> artifact;
  /// The registry version a publisher filed it under; 0 for a model not (yet) published.
  std::uint64_t version = 0;
};

/// A message between the replicas of a replica-group kind (`kind_schema::replica_group`),
/// e.g. gradients to all-reduce or a checkpoint path to broadcast. `tag` lets the
/// receiver match messages to its own progress (the collective operation they belong
/// to). The payload is opaque bytes, shared and immutable: a local send shares it, a
/// send to another node copies it; the kind chooses the encoding.
struct peer_message {
  int from_replica = 0;
  std::uint64_t tag = 0;
  std::shared_ptr<const std::string> bytes;
};

/// Where a long-running step stands, for the live progress line.
struct progress_info {
  std::string step;
  int epoch = 0;
  int epochs = 0;
  std::uint64_t step_in_run = 0;
  std::uint64_t steps = 0;
  double loss = 0;
  double samples_per_second = 0;
};

/// Collects a step's output. `port` is the index of the output port in the kind's
/// schema (`outputs[port]`).
class emitter {
public:
  virtual ~emitter() = default;
  virtual void emit(std::size_t port, batch b) = 0;
  /// Models go out on "model" ports. Emitters that carry none refuse them.
  virtual void emit_model(std::size_t port, model_message m) {
    (void)port;
    (void)m;
    throw step_failure("this emitter carries no models");
  }
};

/// What a step may ask of the runtime.
class step_context {
public:
  virtual ~step_context() = default;
  /// The step's name in the graph (with "#i" for replica i > 0).
  virtual const std::string& step_name() const = 0;
  /// Replica index (0-based) and count, for steps that shard work.
  virtual int replica() const = 0;
  virtual int replicas() const = 0;
  /// Counts `rows` rejected rows (malformed, missing values dropped, ...) with a reason
  /// shown in the log at most a few times per step.
  virtual void reject(std::uint64_t rows, const std::string& reason) = 0;
  /// Durable per-step state: kept by the runtime across restarts of this step (not
  /// across runs). A cleaner saves its fitted statistics so that a restarted cleaner
  /// transforms replayed rows exactly as before.
  virtual std::optional<std::string> load_state() const = 0;
  virtual void save_state(std::string bytes) = 0;
  /// Leveled log lines, prefixed with the step name.
  virtual void log_info(const std::string& message) = 0;
  virtual void log_warning(const std::string& message) = 0;
  /// Replica groups: sends `bytes` to every other replica of this step (they receive
  /// it through `step::consume_peer`). Messages from one replica arrive in order.
  virtual void send_to_peers(std::uint64_t tag, std::shared_ptr<const std::string> bytes) {
    (void)tag;
    (void)bytes;
  }
  /// Long work: where it stands (shown as a live line by `conveyor run`).
  virtual void report_progress(const progress_info& p) { (void)p; }
  /// Named results (accuracy, loss, ...) that appear in the run report.
  virtual void report_metrics(const std::map<std::string, double>& metrics) { (void)metrics; }
  /// True once the run is draining (SIGINT/SIGTERM). Work that can block or run long
  /// inside one call (opening or reading a FIFO, a training loop) polls it and ends
  /// early: a source ends its stream, a trainer stops at the next step boundary. May
  /// be called from any thread of the step (it reads an atomic flag).
  virtual bool stop_requested() const { return false; }
};

class step {
public:
  virtual ~step() = default;

  /// Called once before anything else. Open files here; throw if they are unusable.
  virtual void open(step_context& ctx) { (void)ctx; }

  /// True for steps without inputs that produce batches on their own.
  virtual bool is_source() const { return false; }

  /// Sources: restart after the batch whose position is `after` (the last one that
  /// every downstream step acknowledged). Called at most once, before `produce`.
  virtual void resume(const source_position& after) { (void)after; }

  /// Sources: every terminal step downstream has acknowledged every batch up to the
  /// one that ended at `up_to` (the position a restart would resume after). Called in
  /// order of increasing position, after `open`, also after the stream has ended. A
  /// source that reads from a broker acknowledges the broker here, never sooner.
  virtual void delivered(const source_position& up_to) { (void)up_to; }

  /// Sources: emits the next batch (or nothing) and returns true, or returns false at
  /// the end of the stream. The runtime stamps `source` and `sequence`.
  /// Consumers: after `finish`, the runtime calls `produce` while it returns true (long
  /// work such as training, in slices), then sends end-of-stream.
  virtual bool produce(emitter& out) {
    (void)out;
    return false;
  }

  /// While true, the runtime does not call `produce` (the step waits for peers); it
  /// asks again after each `consume_peer`.
  virtual bool blocked() const { return false; }

  /// Consumers: handles one batch from input port `port` (index into the kind's
  /// `inputs`). Steps with batch outputs emit exactly one batch per output port per
  /// consumed batch, keeping its `source` and `sequence` (an empty one where no rows
  /// remain), or hold it and emit it later (by `finish` at the latest); this keeps
  /// acknowledgement exact.
  virtual void consume(std::size_t port, batch b, emitter& out) {
    (void)port;
    (void)b;
    (void)out;
  }

  /// Consumers: every input has ended; emit whatever is held.
  virtual void finish(emitter& out) { (void)out; }

  /// Consumers of "model" ports: handles one model.
  virtual void consume_model(std::size_t port, model_message m, emitter& out) {
    (void)port;
    (void)m;
    (void)out;
  }

  /// Replica groups: a message from another replica of this step.
  virtual void consume_peer(peer_message m) { (void)m; }

  /// Services (an inference server) keep running after `finish`: the runtime does not
  /// end their stream, so the run goes on, until the run is drained (SIGINT/SIGTERM).
  /// Meanwhile it calls `tick` about once a second.
  virtual bool is_service() const { return false; }
  /// Periodic upkeep, about once a second from `open` on, between the other calls:
  /// services report metrics and check on their own threads; a replica waiting for its
  /// peers checks how long it has waited (the trainer's watchdog). Throwing stops the
  /// step and hands it to supervision, as from any other call.
  virtual void tick() {}

  /// Terminal steps: true to have each batch acknowledged as soon as `consume`
  /// returns; false to acknowledge only once the step has ended its stream (a trainer
  /// that caches its data: after a restart, the data is replayed to it).
  virtual bool acknowledge_on_consume() const { return true; }
};

} // namespace conveyor
