// The client half of inference protocol v1 on the wire: encoding requests and decoding
// replies (the server half is wire/server_codec.hpp). Replies are treated as
// untrusted: the decoder is one pass of msgpack's SAX parser that never throws, caps every
// count and string, and never reserves more than the message's own size.
#pragma once

#include "wire/reply.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace conveyor::wire {

/// How a predict request carries its rows: `tensor` (bin float32 + shape, the fast path)
/// or `inputs` (an array of arrays of float32, for servers or tools that want plain data).
enum class input_encoding { tensor, inputs };

struct predict_request {
  std::uint64_t id = 0;
  std::string_view model;
  std::uint64_t version = 0;         ///< 0: the latest (then not sent)
  const float* values = nullptr;     ///< rows x columns, row-major
  std::uint32_t rows = 0;
  std::uint32_t columns = 0;
  std::optional<std::uint64_t> deadline_ms;
  input_encoding encoding = input_encoding::tensor;
  std::string_view key;              ///< a fleet's key; empty: none (then not sent)
};

/// Request encoders. Each replaces `out` with one MessagePack map (reusing its capacity).
void encode_predict_request(const predict_request& r, std::string& out);
void encode_models_request(std::uint64_t id, std::string& out);
void encode_health_request(std::uint64_t id, std::string& out);

/// What the decoder accepts; a reply beyond a limit decodes as `bad_reply`.
struct reply_limits {
  std::size_t max_bytes = std::size_t{256} << 20;
  std::uint32_t max_rows = 1 << 20;   ///< rows of `outputs`, entries of `labels`
  std::uint32_t max_width = 1 << 16;  ///< values in one output row
  std::uint32_t max_models = 1 << 16; ///< entries of `models`
  std::uint32_t max_string = 1 << 16; ///< bytes in any string
};

/// Decodes one reply into `out` (its buffers are reused). Never throws. A reply that is
/// not a well-formed protocol v1 reply yields ok == false with the client-side code
/// `bad_reply`, and the id when it could be read (so the caller can still match it).
/// Unknown keys are ignored, so newer servers can add fields.
void decode_reply(std::string_view bytes, const reply_limits& limits, reply& out);
reply decode_reply(std::string_view bytes, const reply_limits& limits = {});

} // namespace conveyor::wire
