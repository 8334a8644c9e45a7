// What a call to an inference server returns (protocol v1 replies, decoded), and the
// client's own error codes. Server errors and client-side failures (timeouts, replies
// that cannot be decoded) both arrive as a reply with ok == false: callers branch on
// `ok` and `error.code`, never on exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::wire {

/// Error codes the client produces itself (error_info::client_side is true). The server's
/// codes (bad_request, unknown_model, ...) arrive verbatim as strings, so a code added by
/// a newer server still reaches the caller.
namespace client_error {
inline constexpr std::string_view timeout = "timeout";           ///< no reply in time
inline constexpr std::string_view bad_reply = "bad_reply";       ///< the reply is not protocol v1
inline constexpr std::string_view send_failed = "send_failed";   ///< the socket refused the request
inline constexpr std::string_view bad_argument = "bad_argument"; ///< e.g. ragged rows; nothing sent
} // namespace client_error

struct error_info {
  std::string code;    ///< empty when the reply is ok
  std::string message;
  bool client_side = false; ///< true: produced by this client, not by the server
};

/// One entry of a `models` reply.
struct model_info {
  std::string name;
  std::uint64_t version = 0;
  std::uint32_t inputs = 0;
  std::uint32_t outputs = 0;
};

/// A decoded reply. Which fields are filled depends on the call:
/// predict: model, version, outputs (rows x width, row-major), labels (classifiers);
/// models: models; health: status; any failure: error.
struct reply {
  std::uint64_t id = 0; ///< the request's id (0: the server could not read one)
  bool ok = false;
  std::string model;
  std::uint64_t version = 0;
  std::vector<float> outputs;
  std::uint32_t rows = 0;
  std::uint32_t width = 0;
  std::vector<std::int32_t> labels; ///< empty, or one per row
  std::vector<model_info> models;
  std::string status;
  error_info error;
  /// Send to receipt, measured by the client (zero for replies decoded by hand).
  std::chrono::nanoseconds latency{0};

  /// Row `r` of the outputs (`width` values); r < rows.
  const float* row(std::uint32_t r) const { return outputs.data() + std::size_t{r} * width; }
};

/// A failed reply produced on this side of the socket.
inline reply client_failure(std::uint64_t id, std::string_view code, std::string message) {
  reply r;
  r.id = id;
  r.ok = false;
  r.error.code = std::string(code);
  r.error.message = std::move(message);
  r.error.client_side = true;
  return r;
}

} // namespace conveyor::wire
