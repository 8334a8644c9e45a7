// Inference protocol v1 (docs/inference-protocol.md), the server's half: decoding
// requests and encoding replies. Requests are hostile input: the decoder is a single
// pass of msgpack's SAX-style parser that writes feature values straight into the
// request's buffer, never allocates more than the message's own size, caps nesting and
// every count, and never throws. Clients (client/) encode requests and decode replies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::wire {

/// The protocol's error codes, in its own spelling (to_string).
enum class error_code {
  bad_request,
  unknown_model,
  unknown_version,
  shape_mismatch,
  too_large,
  overloaded,
  deadline_exceeded,
  internal,
  unknown_key, ///< a fleet built to refuse keys it does not know was asked for one
};
constexpr int error_code_count = 9;
std::string_view to_string(error_code c);

enum class request_op { predict, models, health };

/// What a server accepts; a request beyond a limit is answered `too_large`.
struct request_limits {
  std::uint32_t max_rows = 4096;       ///< rows in one request
  std::uint32_t max_columns = 1 << 16; ///< values in one row
  std::size_t max_bytes = std::size_t{64} << 20; ///< encoded request size
};

/// A decoded request. Reused across decodes (the value buffer keeps its capacity, and its
/// size for a tensor of the same shape: no zero-filling before the copy).
struct request {
  request_op op = request_op::health;
  std::uint64_t id = 0;
  std::string model;
  std::uint64_t version = 0;          ///< 0: the latest
  std::uint32_t rows = 0;
  std::uint32_t columns = 0;
  std::vector<float> values;          ///< rows x columns, row-major (predict only)
  std::optional<std::uint64_t> deadline_ms;
  /// predict on a fleet: the key whose model answers (at most max_key_bytes).
  std::optional<std::string> key;
};

/// The longest `key` a request may carry.
constexpr std::size_t max_key_bytes = 1024;

/// Why a request cannot be served; `id` is the request's id where it could be read.
struct request_error {
  std::uint64_t id = 0;
  error_code code = error_code::bad_request;
  std::string message;
};

/// Decodes one request. Returns nothing on success (`out` filled), or the error to
/// answer with. Never throws; `out` is unspecified after an error.
std::optional<request_error> decode_request(std::string_view bytes, const request_limits& limits,
                                            request& out);

/// One model a server offers, for the `models` reply.
struct model_summary {
  std::string name;
  std::uint64_t version = 0;
  std::uint32_t inputs = 0;
  std::uint32_t outputs = 0;
};

/// Reply encoders. Each replaces `out` with one MessagePack map (reusing its capacity).
void encode_error_reply(std::uint64_t id, error_code code, std::string_view message, std::string& out);
void encode_health_reply(std::uint64_t id, std::string& out);
void encode_models_reply(std::uint64_t id, const std::vector<model_summary>& models, std::string& out);
/// `outputs`: rows x width, row-major. `labels` is written when non-null (classifiers):
/// one per row.
void encode_prediction_reply(std::uint64_t id, std::string_view model, std::uint64_t version,
                       const float* outputs, std::uint32_t rows, std::uint32_t width,
                       const std::int32_t* labels, std::string& out);

} // namespace conveyor::wire
