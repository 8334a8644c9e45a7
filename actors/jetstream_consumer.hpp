// jetstream_consumer: a pull subscription on a durable JetStream consumer, over the
// NATS C client, for nats_source. No CAF.
//
// Opening (re)creates the durable consumer at its acknowledged floor: whatever an
// earlier holder of the name (a previous incarnation, a previous run) received but did
// not acknowledge is delivered again at once, not after the ack wait. So one holder per
// durable name at a time. The consumer acknowledges "all": acknowledging a message
// acknowledges every earlier one, so only the last message of a delivered batch is
// acknowledged. Deliveries are checked to be contiguous (consumer sequence 1, 2, ...
// since the consumer was created): a gap means another connection (a previous
// incarnation still closing) took messages, and the consumer is reset again to its
// acknowledged floor, so no message is ever skipped.
//
// A lost connection (the server restarted or unreachable) is not a failure: the NATS
// client's own reconnection is off (in libnats 3.4 a fetch racing its reconnect thread
// crashed the process), and `fetch` opens a new connection itself, at most once per
// call, then binds the consumer again at its acknowledged floor, as a reset does. Every
// other failure throws step_failure with the server, stream and durable name and the
// client's text.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __jsCtx;

namespace conveyor {

struct jetstream_target {
  std::string url;
  std::string stream;
  std::string durable;
  std::string subject;
};

/// One holder of a durable consumer per process at a time: a process-wide lease keyed by
/// the consumer (server URL as written, stream, durable name). A respawned nats_source
/// takes it before it opens the consumer, and its previous incarnation gives it back
/// once its consumer is closed (subscription and connection gone), so that the two never
/// pull from the durable at the same time (which would deliver rows twice or out of
/// order). Holders in other processes are not seen; the consumer's delivery check
/// (below) covers those.
class consumer_lease {
public:
  consumer_lease() = default;
  ~consumer_lease() { release(); }
  consumer_lease(const consumer_lease&) = delete;
  consumer_lease& operator=(const consumer_lease&) = delete;

  static std::string key_of(const jetstream_target& target);

  /// Takes the lease on `key`, waiting while another holder in this process has it: at
  /// most `patience`, and only while `stop()` is false (asked every 20 ms). False when
  /// the wait ended without the lease. This object must not hold a lease already.
  bool acquire(const std::string& key, std::chrono::milliseconds patience,
               const std::function<bool()>& stop);
  /// Gives the lease back (nothing when none is held) and wakes the waiters.
  void release();
  bool holds() const { return !key_.empty(); }

  /// Observable state, for tests and messages: acquire() calls waiting on `key` now.
  static std::size_t waiting(const std::string& key);

private:
  std::string key_;
};

class jetstream_consumer {
public:
  struct message_deleter {
    void operator()(__natsMsg* m) const;
  };
  using message_ptr = std::unique_ptr<__natsMsg, message_deleter>;

  /// One fetched message: its stream sequence and payload (owned by `msg`).
  struct message {
    std::uint64_t stream_sequence = 0;
    const char* data = nullptr;
    std::size_t size = 0;
    message_ptr msg;
  };

  /// Connects (waiting at most `connect_timeout_ms`) and binds the consumer.
  jetstream_consumer(jetstream_target target, std::int64_t connect_timeout_ms);
  ~jetstream_consumer();
  jetstream_consumer(const jetstream_consumer&) = delete;
  jetstream_consumer& operator=(const jetstream_consumer&) = delete;

  /// The stream sequence the consumer was acknowledged through when it opened (0: none).
  std::uint64_t ack_floor() const { return ack_floor_; }

  /// Up to `max` messages in stream order, waiting at most `wait_ms` (none: empty).
  /// After a reset (see above), messages come again from the acknowledged floor.
  std::vector<message> fetch(int max, std::int64_t wait_ms);
  /// How many times deliveries had a gap and the consumer was reset.
  std::uint64_t resets() const { return resets_; }
  /// How many times the connection was lost and opened again (then the consumer was
  /// bound again at its acknowledged floor), and whether it is open now.
  std::uint64_t reconnects() const { return reconnects_; }
  bool connected() const { return connection_ != nullptr; }

  /// Acknowledges `m` and every message before it, waiting up to a second for the
  /// server's confirmation; after one that fails, without waiting.
  void acknowledge_through(const message& m);

  /// "nats://host:port stream S durable D", for messages.
  std::string describe() const;

private:
  [[noreturn]] void fail(const std::string& what, int status, int js_error) const;
  /// Connects (no automatic reconnection) and makes the JetStream context; false when the
  /// server cannot be reached within `timeout_ms`, and with `throw_unreachable`, throws.
  bool connect(std::int64_t timeout_ms, bool throw_unreachable);
  /// Drops the subscription, the context and the connection (after a loss).
  void disconnect();
  /// (Re)creates the durable consumer at its acknowledged floor and subscribes.
  void bind();
  void unsubscribe();

  jetstream_target target_;
  __natsConnection* connection_ = nullptr;
  __jsCtx* js_ = nullptr;
  __natsSubscription* subscription_ = nullptr;
  std::uint64_t ack_floor_ = 0;
  /// The consumer sequence the next delivery must have.
  std::uint64_t next_delivery_ = 1;
  std::uint64_t resets_ = 0;
  std::uint64_t reconnects_ = 0;
  std::int64_t connect_timeout_ms_ = 0;
  bool confirm_acks_ = true;
};

} // namespace conveyor
