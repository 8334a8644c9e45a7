// The inference server: protocol v1 (docs/inference-protocol.md) on a ZeroMQ ROUTER, a
// bounded queue, dynamic batching and worker threads.
//
//   clients --ROUTER--> front end (decode, validate, resolve the model version, enqueue
//                       or answer at once) --queue--> workers (form a batch, compute,
//                       encode) --outbox + eventfd--> front end --ROUTER--> clients
//
// Rules:
// - Only the front-end thread touches the ROUTER socket; workers hand replies back
//   through a locked outbox and wake it with an eventfd it polls beside the socket
//   (one wake-up per batch), so no socket is shared between threads.
// - Every request gets exactly one reply (unless the server stops first, or the client
//   has left 10,000 replies unread: those are dropped and counted): malformed input,
//   unknown models, a full queue (`overloaded`), expired deadlines and failures while
//   serving (`internal`) are answered, and never affect other requests.
// - A request resolves its model version when it is accepted and keeps it: a version
//   published meanwhile serves only requests accepted after it.
// - Memory is bounded: at most `max_queue` requests wait (at most half of them from one
//   client), each at most `limits.max_bytes`; ZeroMQ drops connections that send
//   messages over twice that (ZMQ_MAXMSGSIZE).
// - A request of a few rows that finds every worker idle and nothing queued is computed
//   by the front end at once (it could not have been batched with anything).
// - A worker forms a batch from waiting requests of the same model version, up to
//   `max_batch` rows, waiting at most `max_delay` after the oldest request's arrival,
//   and closing it early once no request has come for a quarter of `max_delay` (the
//   burst is over; waiting longer only adds latency).
// - `start`, `stop` and `stats` may be called from any thread; `stop` joins everything.
#pragma once

#include "serving/model_catalog.hpp"
#include "wire/server_codec.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace conveyor::serving {

struct server_options {
  std::string endpoint = "tcp://*:5555";
  int workers = 1;
  std::uint32_t max_batch = 64;              ///< rows per batch; 1 disables batching
  std::chrono::microseconds max_delay{500};  ///< 0: batch only what is already waiting
  std::size_t max_queue = 2048;              ///< waiting requests; beyond: overloaded
  wire::request_limits limits;
};

struct server_stats {
  std::uint64_t requests = 0;   ///< messages received
  std::uint64_t ok = 0;         ///< successful replies (predict, models, health)
  std::array<std::uint64_t, wire::error_code_count> errors{}; ///< by wire::error_code
  std::uint64_t rows = 0;       ///< rows computed
  std::uint64_t batches = 0;    ///< batches computed
  std::uint64_t dropped = 0;    ///< replies ZeroMQ refused (client gone, or 10,000 unread)
  std::size_t queued = 0;       ///< waiting now
  double latency_p50_ms = 0;    ///< predict replies, accepted -> answered, whole lifetime
  double latency_p99_ms = 0;
};

class server {
public:
  server(server_options options, std::shared_ptr<model_catalog> catalog);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts the threads. Throws std::runtime_error naming the endpoint when
  /// it cannot bind (inproc:// is refused: no client could share this server's context).
  void start();
  /// Stops accepting, stops the threads (waiting requests get no reply) and closes.
  void stop();

  /// The bound endpoint (resolves wildcards such as "tcp://127.0.0.1:*").
  std::string endpoint() const;
  server_stats stats() const;
  /// Why a server thread stopped unexpectedly, if one did.
  std::optional<std::string> failure() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace conveyor::serving
