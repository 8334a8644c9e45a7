// The data plane's frames: what one ZeroMQ message between two nodes holds (a batch,
// a model or an end-of-stream on one edge). Plain C++ (no CAF, no ZeroMQ), so the
// decoder of bytes from the network is tested and fuzzed on its own.
//
// Layout (integers little-endian): "CVDP", version 1, kind (1 batch, 2 eos, 3 model),
// the consumer's actor id (u64) and the edge token (u64) the consumer handed its
// producer when it advertised its endpoint, then the payload of that kind. Strings are
// a u32 length and the bytes; floats are little-endian float32.
#pragma once

#include "data/batch.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conveyor {

enum class frame_kind : std::uint8_t { batch = 1, eos = 2, model = 3 };

struct frame_header {
  frame_kind kind = frame_kind::batch;
  /// The consuming step actor (an id within the receiving process).
  std::uint64_t consumer = 0;
  /// The edge and the producer's incarnation, as the consumer named it.
  std::uint64_t token = 0;
};

/// A decoded frame: the header and, by kind, the batch or the model.
struct frame {
  frame_header header;
  batch data;
  model_message model;
};

std::string encode_batch_frame(const frame_header& h, const batch& b);
std::string encode_eos_frame(const frame_header& h);
std::string encode_model_frame(const frame_header& h, const model_message& m);

/// Decodes a frame; on bytes that are not one, returns false and says what and at
/// which byte offset in `error`.
bool decode_frame(std::string_view bytes, frame& out, std::string& error);

} // namespace conveyor
