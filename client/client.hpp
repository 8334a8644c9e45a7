// A client of an inference server (protocol v1) over one ZeroMQ DEALER socket.
//
// Contract:
// - One client is one socket: not thread-safe; use one client per thread (they share one
//   ZeroMQ context inside the library).
// - Server errors and client-side failures come back as a `reply` with ok == false
//   (wire/reply.hpp); nothing here throws after construction, except std::bad_alloc.
// - Synchronous calls (predict, models, health) send one request and wait up to
//   options.timeout for its reply; replies to earlier asynchronous requests that arrive
//   meanwhile are kept for receive().
// - Asynchronous calls (send_*) return the request's id at once; receive() hands back
//   replies in arrival order, matched to in-flight ids. A request unanswered for
//   options.timeout is handed back by receive() as a client-side `timeout` failure, and
//   its reply, should it come later, is dropped (counted by stray_replies()).
#pragma once

#include "base/decoded.hpp"
#include "wire/client_codec.hpp"
#include "wire/curve_keys.hpp"
#include "wire/reply.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::client {

// The protocol's types that this client's calls take and return, named here so that
// users of the client need only this header and namespace.
using wire::client_failure;
using wire::error_info;
using wire::input_encoding;
using wire::model_info;
using wire::predict_request;
using wire::reply;
using wire::reply_limits;
namespace client_error = wire::client_error;

/// CurveZMQ (docs/serving.md, "Transport security"): the server's public key and this
/// client's key pair. A server that does not list this client's public key never answers:
/// its requests time out.
struct curve_keys {
  wire::curve_key server_public{};
  wire::curve_key public_key{};
  wire::curve_key secret_key{};
};

/// Reads the server's public key file and this client's secret key file (as `conveyor
/// keys` writes them; the public key is derived from the secret one). Errors name the
/// file and line.
decoded<curve_keys> load_curve_keys(const std::string& server_public_key_file,
                                    const std::string& secret_key_file);

struct options {
  /// How long a request may wait for its reply (sync calls, and async requests).
  std::chrono::milliseconds timeout{5000};
  /// How predict sends its rows; `tensor` is the fast path.
  input_encoding encoding = input_encoding::tensor;
  /// Caps on what a reply may hold (wire/client_codec.hpp).
  reply_limits limits;
  /// ZeroMQ send/receive high-water marks (messages queued per direction); 0: no limit.
  int high_water_mark = 10000;
  /// None: plain TCP.
  std::optional<curve_keys> curve;
};

class client {
public:
  /// Connects a DEALER socket to `endpoint` (tcp://host:port, ipc://path). The connection
  /// is made in the background: requests sent before the server is up wait for it.
  /// Throws std::invalid_argument for an endpoint ZeroMQ cannot parse (a usage error).
  explicit client(const std::string& endpoint, options opts = {});
  ~client();
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // -- synchronous ---------------------------------------------------------------------
  /// Predicts `rows` (each the same length; ragged rows fail with `bad_argument` and send
  /// nothing). `version` 0: the latest; `deadline_ms`: the server's queueing deadline;
  /// `key`: which model of a fleet answers (empty: none, for a model that is no fleet).
  reply predict(std::string_view model, const std::vector<std::vector<float>>& rows,
                std::uint64_t version = 0, std::optional<std::uint64_t> deadline_ms = {},
                std::string_view key = {});
  /// Predicts `rows` x `columns` values, row-major (`values` must hold that many). More
  /// than 4 GiB of values fails with `bad_argument` without sending.
  reply predict(std::string_view model, const float* values, std::uint32_t rows,
                std::uint32_t columns, std::uint64_t version = 0,
                std::optional<std::uint64_t> deadline_ms = {}, std::string_view key = {});
  reply models();
  reply health();

  // -- asynchronous --------------------------------------------------------------------
  /// Sends a predict request and returns its id. A request the socket refuses is answered
  /// by receive() with a client-side `send_failed`.
  std::uint64_t send_predict(std::string_view model, const float* values, std::uint32_t rows,
                             std::uint32_t columns, std::uint64_t version = 0,
                             std::optional<std::uint64_t> deadline_ms = {},
                             std::string_view key = {});
  std::uint64_t send_models();
  std::uint64_t send_health();
  /// The next reply to an asynchronous request (or its timeout), waiting up to `wait`;
  /// nothing if none came in that time.
  std::optional<reply> receive(std::chrono::milliseconds wait);

  /// Asynchronous requests neither answered nor timed out yet.
  std::size_t in_flight() const;
  /// Replies that matched no request in flight (late, or id 0), dropped so far.
  std::uint64_t stray_replies() const;
  const std::string& endpoint() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace conveyor::client
