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
//   (one wake-up per chunk of a batch: a batch of up to 64 rows is one chunk), so no
//   socket is shared between threads.
// - Every request gets exactly one reply, except when the server stops first, the client
//   has disconnected or left 10,000 replies unread (the reply is dropped and counted), or
//   the client is not reading its replies (below): malformed input, unknown models, a
//   full queue (`overloaded`), expired deadlines and failures while serving (`internal`)
//   are answered, and never affect other requests.
// - A request resolves its model version when it is accepted and keeps it: a version
//   published meanwhile serves only requests accepted after it.
// - Fair queuing: each connection (client) has its own queue, and workers take requests
//   round robin across connections. When a request would take the waiting requests past
//   `max_queue` or `max_queue_bytes`, it is refused (`overloaded`) if its client would
//   then hold more than its fair share (the bound divided by the clients with requests
//   waiting); otherwise it is admitted and the newest waiting request of the client
//   holding the most is shed (answered `overloaded`). So a client within its share is
//   never shed, however many connections the others open.
// - Memory is bounded in bytes: waiting requests by `max_queue_bytes` (their values and
//   the replies they will get, so a reply larger than its request counts too); replies by what
//   ZeroMQ holds unsent per connection, measured exactly (each reply's buffer is handed
//   to ZeroMQ with a free callback that gives its bytes back once written to the socket).
//   A client holding more than `max_unread_bytes`, or more than its share of
//   `max_total_unread_bytes` while all clients together hold more than that, is not
//   reading: its requests are discarded unanswered (counted) until it reads.
// - Requests of a few rows that find nothing queued and no batch forming form the front
//   end's own batch: gathered while it reads the socket, computed by it once nothing more
//   is waiting there (nothing else could have joined them), replies sent chunk by chunk
//   (64 rows: at the default max_batch, the whole batch at once).
//   The rest is queued for the workers.
// - A worker forms a batch from waiting requests of the same model version, up to
//   `max_batch` rows, waiting at most `max_delay` after the first one's arrival, and
//   closing it early once no request has come for a quarter of `max_delay` (the burst
//   is over; waiting longer only adds latency).
// - `start`, `stop` and `stats` may be called from any thread; `stop` joins everything.
#pragma once

#include "serving/model_catalog.hpp"
#include "serving/server_metrics.hpp"
#include "wire/curve_keys.hpp"
#include "wire/server_codec.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::serving {

/// Transport security (CurveZMQ): the server's secret key and the public keys of the
/// clients it admits. Any other client's handshake is refused (serving/zap_handler.hpp):
/// it gets no answer at all. The protocol's messages are the same either way.
struct curve_server_keys {
  wire::curve_key secret_key{};
  std::vector<wire::curve_key> allowed_clients;
};

struct server_options {
  std::string endpoint = "tcp://*:5555";
  int workers = 1;
  std::uint32_t max_batch = 64;              ///< rows per batch; 1 disables batching
  std::chrono::microseconds max_delay{500};  ///< 0: batch only what is already waiting
  std::size_t max_queue = 2048;              ///< waiting requests, server-wide
  std::size_t max_queue_bytes = std::size_t{256} << 20; ///< their values and replies-to-be
  std::size_t max_unread_bytes = std::size_t{8} << 20;  ///< replies held for one client
  std::size_t max_total_unread_bytes = std::size_t{64} << 20; ///< ... for all clients
  wire::request_limits limits;
  std::optional<curve_server_keys> curve; ///< none: plain TCP, every client served
  /// Where to record requests, latencies and drops (none: only stats()).
  std::shared_ptr<server_metrics> metrics;
  /// Makes the backend each computing thread (the front end, every worker) computes
  /// with, made once per thread at start (a GPU: a stream of its own on the device
  /// holding the catalog's models); none: each model's own backend.
  std::function<std::unique_ptr<compute::backend>()> compute_backend;
};

struct server_stats {
  std::uint64_t requests = 0;   ///< messages received
  std::uint64_t ok = 0;         ///< successful replies (predict, models, health)
  std::array<std::uint64_t, wire::error_code_count> errors{}; ///< by wire::error_code
  std::uint64_t rows = 0;       ///< rows computed
  std::uint64_t batches = 0;    ///< batches computed
  std::uint64_t dropped = 0;    ///< replies ZeroMQ refused (client gone, or 10,000 unread)
  std::uint64_t unread_refused = 0; ///< requests discarded: their client was not reading
  std::uint64_t shed = 0;       ///< waiting requests answered `overloaded` to admit another
  std::uint64_t refused_handshakes = 0; ///< CURVE handshakes of unlisted clients
  std::size_t queued = 0;       ///< waiting now
  std::size_t queued_bytes = 0; ///< what they cost (values, replies-to-be, 256 B each)
  std::size_t computing = 0;    ///< taken by a worker (into a batch forming or computing), not yet answered
  std::size_t unread_bytes = 0; ///< replies ZeroMQ holds, not yet written to sockets
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
  /// CURVE client keys (Z85) refused for the first time since the last call, each once
  /// (see zap_handler): for logs that do not grow with a client's retries.
  std::vector<std::string> take_newly_refused();
  /// Why a server thread stopped unexpectedly, if one did.
  std::optional<std::string> failure() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace conveyor::serving
