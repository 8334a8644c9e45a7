// MessagePack writing shared by both halves of inference protocol v1: the client's
// request encoder (client/codec.cpp) and the server's reply encoders
// (actors/serving/protocol.cpp). Header-only; depends on msgpack-cxx alone.
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

inline bool little_endian() {
  const std::uint32_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

/// Appends `n` floats as little-endian float32 bytes (the `tensor` layout).
inline void append_le_floats(const float* values, std::size_t n, std::string& out) {
  const auto at = out.size();
  out.resize(at + n * 4);
  if (little_endian()) {
    if (n != 0)
      std::memcpy(&out[at], values, n * 4);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, values + i, 4);
    for (int b = 0; b < 4; ++b)
      out[at + i * 4 + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
}

/// Reads little-endian float32 bytes (`bytes.size()` a multiple of 4) into `dst`.
inline void read_le_floats(std::string_view bytes, float* dst) {
  if (little_endian()) {
    if (!bytes.empty())
      std::memcpy(dst, bytes.data(), bytes.size());
    return;
  }
  for (std::size_t i = 0; i < bytes.size() / 4; ++i) {
    std::uint32_t u = 0;
    for (int b = 0; b < 4; ++b)
      u |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i * 4 + b])) << (8 * b);
    std::memcpy(dst + i, &u, 4);
  }
}

} // namespace conveyor::wire
