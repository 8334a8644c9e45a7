// float32 vectors as little-endian bytes, the on-disk form of weights and optimizer
// moments, independent of the host's byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::compute {

inline std::string floats_to_le_bytes(const float* data, std::size_t n) {
  std::string out(n * 4, '\0');
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n) std::memcpy(out.data(), data, n * 4);
#else
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, data + i, 4);
    for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
#endif
  return out;
}

/// `bytes.size()` must be a multiple of 4 (checked by callers).
inline std::vector<float> le_bytes_to_floats(std::string_view bytes) {
  std::vector<float> out(bytes.size() / 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * 4);
#else
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t u = 0;
    for (int b = 0; b < 4; ++b)
      u |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i * 4 + b])) << (8 * b);
    std::memcpy(&out[i], &u, 4);
  }
#endif
  return out;
}

} // namespace conveyor::compute
