// float32 values as little-endian bytes, independent of the host's byte order: the
// on-disk form of weights and optimizer moments, and the wire form of protocol v1's
// `tensor`. Header-only and dependency-free, so that the client library (client/) uses
// the same code as the model file and the server.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

/// Appends `n` floats to `out` as little-endian float32 bytes.
inline void append_le_floats(const float* data, std::size_t n, std::string& out) {
  const auto at = out.size();
  out.resize(at + n * 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n) std::memcpy(&out[at], data, n * 4);
#else
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, data + i, 4);
    for (int b = 0; b < 4; ++b) out[at + i * 4 + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
#endif
}

/// Writes `n` floats as little-endian float32 bytes at `dst` (room for 4n bytes).
inline void write_le_floats(const float* data, std::size_t n, char* dst) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n) std::memcpy(dst, data, n * 4);
#else
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, data + i, 4);
    for (int b = 0; b < 4; ++b) dst[i * 4 + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
#endif
}

/// The float32 at `bytes` (4 bytes, little-endian).
inline float load_le_float(const char* bytes) {
  std::uint32_t u;
  std::memcpy(&u, bytes, 4);
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
  u = (u >> 24) | ((u >> 8) & 0xff00) | ((u << 8) & 0xff0000) | (u << 24);
#endif
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// Reads `bytes.size() / 4` little-endian float32 values into `dst` (`bytes.size()` a
/// multiple of 4, checked by callers).
inline void read_le_floats(std::string_view bytes, float* dst) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size() / 4 * 4);
#else
  for (std::size_t i = 0; i < bytes.size() / 4; ++i) {
    std::uint32_t u = 0;
    for (int b = 0; b < 4; ++b)
      u |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i * 4 + b])) << (8 * b);
    std::memcpy(dst + i, &u, 4);
  }
#endif
}

inline std::string floats_to_le_bytes(const float* data, std::size_t n) {
  std::string out;
  append_le_floats(data, n, out);
  return out;
}

inline std::vector<float> le_bytes_to_floats(std::string_view bytes) {
  std::vector<float> out(bytes.size() / 4);
  read_le_floats(bytes, out.data());
  return out;
}

} // namespace conveyor
