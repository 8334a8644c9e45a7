// libFuzzer target for the data plane's frame decoder (runtime/data_plane_codec.hpp):
// bytes from another node must decode or give an error, never crash, hang or allocate
// beyond the frame's size; a decoded batch re-encodes to the same bytes.
#include "runtime/data_plane_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  frame f;
  std::string error;
  if (!decode_frame(bytes, f, error))
    return 0;
  if (f.header.kind == frame_kind::batch && f.data.transform == nullptr &&
      encode_batch_frame(f.header, f.data) != bytes)
    __builtin_trap();
  return 0;
}
