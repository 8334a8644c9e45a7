// libFuzzer target for the data plane's frame decoder (runtime/data_plane_codec.hpp):
// bytes from another node must decode or give an error, never crash, hang or allocate
// beyond the frame's size; a decoded batch re-encodes to the same parts.
// An input is a two-part frame laid out as: the header's size (u32, little-endian), the
// header, then the payload (the rest); an input shorter than 4 bytes is a header alone.
// Each input is also decoded as a one-part message (payload, header, header size).
#include "runtime/data_plane_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view header = in;
  std::string_view payload;
  if (size >= 4) {
    const std::size_t n = data[0] | (data[1] << 8) | (data[2] << 16) |
                          (static_cast<std::size_t>(data[3]) << 24);
    header = in.substr(4, n);
    payload = in.substr(4 + header.size());
  }
  frame f;
  std::string error;
  std::string_view one_header, one_payload;
  if (split_message(in, one_header, one_payload, error)) {
    if (one_header.size() + one_payload.size() + 4 != size)
      __builtin_trap();
    decode_frame(one_header, one_payload, f, error);
  }
  f = frame{};
  if (!decode_frame(header, payload, f, error))
    return 0;
  if (f.header.kind == frame_kind::batch && f.data.transform == nullptr) {
    auto again = encode_batch_frame(f.header, f.data);
    if (again.header != header || again.payload != payload)
      __builtin_trap();
  }
  return 0;
}
