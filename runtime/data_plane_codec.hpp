// The data plane's frames: what one ZeroMQ message between two nodes holds (a batch,
// a model or an end-of-stream on one edge, credit back to the producer of an edge; a
// message between two replicas of a group). Plain C++ (no CAF, no ZeroMQ), so the
// decoder of bytes from the network is tested and fuzzed on its own.
//
// A frame is a header and a payload (a batch's float block, a model's artifact), so that
// the bulk of a frame goes out from the object that holds it, without a copy into an
// encoding buffer. On the wire it is one ZeroMQ message of either
// - one part: the payload, the header, the header's size (u32): used where the header
//   fits in memory the sender may write right after the payload (a float block's room,
//   data/float_block.hpp) or the frame is small (copied): one part costs the receiving
//   node less than two;
// - two parts: the header, then the payload, for the rest.
// Header (integers little-endian): "CVDP", version 4, kind (1 batch, 2 eos, 3 model,
// 4 peer, 5 credit),
// the consumer's actor id (u64) and the edge token (u64) the consumer handed its
// producer when it advertised its endpoint, then by kind:
//   batch: source, sequence (u64), position (3 x u64), first row (u64), rows (u32),
//          columns (u32 count, then name and kind (u8) each), float count (u64),
//          categorical columns (u32 count, then a dictionary (u32 count of strings) and
//          codes (u32 count of u32) each), transform flag (u8) and, when 1, the
//          transform (data/preprocessing_codec.hpp) as a string;
//   eos:   nothing;
//   model: name, version (u64);
//   peer:  the sending replica (u32), the tag (u64);
//   credit: the number of batches the consumer may now receive more (u32, at least 1);
//          here `consumer` is the producing actor and `token` what it advertised.
// Payload: batch: the float block, float count x little-endian float32; eos: empty;
// model: the artifact; peer: the message's bytes; credit: empty. Strings are a u32
// length and the bytes.
// Other versions are refused, with their version named (1: one part, the float block
// inline; 2: no credit frames, credit went over the control plane; 3: always two parts).
#pragma once

#include "data/batch.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace conveyor {

enum class frame_kind : std::uint8_t { batch = 1, eos = 2, model = 3, peer = 4, credit = 5 };

/// The frame version this build writes and the only one it reads.
constexpr std::uint8_t frame_version = 4;

struct frame_header {
  frame_kind kind = frame_kind::batch;
  /// The receiving step actor (an id within the receiving process): the consumer of
  /// the edge, or for credit its producer.
  std::uint64_t consumer = 0;
  /// The edge and the producer's incarnation, as the consumer named it.
  std::uint64_t token = 0;
};

/// A decoded frame: the header and, by kind, the batch, the model or the peer message.
struct frame {
  frame_header header;
  batch data;
  model_message model;
  peer_message peer;
  /// Credit frames: batches granted (>= 1).
  std::uint32_t credit = 0;
};

/// An encoded frame: the header part, exactly its size, and the payload part, which
/// points into memory that `owner` keeps alive (the batch's float block or the model's
/// artifact; null for an empty payload). A sender hands `owner` to its transport until
/// the bytes are gone.
struct encoded_frame {
  std::string header;
  std::shared_ptr<const void> owner;
  std::string_view payload;
  /// Bytes right after the payload, in the same memory, that the sender may write (0:
  /// none): where `write_trailer` puts the one-part layout's header.
  std::size_t room = 0;
};

/// Frames up to this size (payload and trailer) go as one part, copied.
constexpr std::size_t copied_frame_bytes = 16 * 1024;
/// The one-part layout's bytes after the payload: the header and its size.
std::size_t trailer_size(const encoded_frame& f);
/// Writes them at `at` (trailer_size bytes).
void write_trailer(const encoded_frame& f, char* at);
/// Splits a one-part message into its header and payload; on bytes that are not one,
/// returns false and says what in `error`.
bool split_message(std::string_view message, std::string_view& header,
                   std::string_view& payload, std::string& error);

/// Copies the batch's float block (the batch stays as it is).
encoded_frame encode_batch_frame(const frame_header& h, const batch& b);
/// Takes the batch's float block without copying it (on a little-endian host); `b` is
/// left without floats.
encoded_frame encode_batch_frame(const frame_header& h, batch&& b);
encoded_frame encode_eos_frame(const frame_header& h);
encoded_frame encode_model_frame(const frame_header& h, const model_message& m);
/// `h.consumer`: the receiving replica's actor; `h.token`: what it advertised to the sender.
encoded_frame encode_peer_frame(const frame_header& h, const peer_message& m);
/// `h.consumer`: the producer's actor; `h.token`: what it advertised to the consumer.
encoded_frame encode_credit_frame(const frame_header& h, std::uint32_t n);

/// Decodes a frame from its header and payload; on bytes that are not one, returns false
/// and says what, in which part and at which byte offset, in `error`. A batch's floats
/// stay in the payload's memory when `payload_owner` keeps it alive and the batch may
/// write to it (a received message the caller hands over; on a little-endian host, the
/// payload aligned for float), with `payload_room` bytes after them that it may write
/// too (the one-part layout's trailer, read by then); otherwise they are copied once,
/// into a block that is not zero-filled first.
bool decode_frame(std::string_view header, std::string_view payload, frame& out,
                  std::string& error, std::shared_ptr<void> payload_owner = nullptr,
                  std::size_t payload_room = 0);

} // namespace conveyor
