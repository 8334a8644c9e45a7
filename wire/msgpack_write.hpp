// MessagePack writing shared by both halves of inference protocol v1: the client's
// request encoder (wire/client_codec.cpp) and the server's reply encoders
// (wire/server_codec.cpp). Header-only; depends on msgpack-cxx alone. (The
// `tensor` bytes are base/float_bytes.hpp's.)
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace conveyor::wire {

/// msgpack's packer writes through `write`; this one appends to a std::string.
struct string_sink {
  std::string& s;
  void write(const char* p, std::size_t n) { s.append(p, n); }
};

using packer = msgpack::packer<string_sink>;

inline void pack_str(packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

/// Appends `v` as a MessagePack float32 (0xca, big-endian bits). msgpack-cxx's
/// pack_float writes integral values (0, 1, -0) as integers, which the protocol's
/// float32 promise does not allow and which loses the sign of -0.
inline void append_float32(float v, std::string& out) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  const char bytes[5] = {static_cast<char>(0xca), static_cast<char>(u >> 24),
                         static_cast<char>(u >> 16), static_cast<char>(u >> 8),
                         static_cast<char>(u)};
  out.append(bytes, 5);
}

} // namespace conveyor::wire
