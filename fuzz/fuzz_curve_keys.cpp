// libFuzzer target for the CurveZMQ key file parser (wire::parse_curve_key_file): it may
// not crash or throw on any bytes. What parses must survive a round trip: the keys
// written back one per line (Z85) parse to the same keys, and each key's Z85 decodes to
// itself.
#include "wire/curve_keys.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto keys = wire::parse_curve_key_file(text, "fuzz.txt");
  if (!keys) {
    if (keys.error.rfind("fuzz.txt:", 0) != 0) // every error names the file and line
      std::abort();
    return 0;
  }
  std::string written;
  for (const auto& k : *keys.value) {
    const auto z85 = wire::z85_encode_key(k);
    auto back = wire::z85_decode_key(z85);
    if (!back || *back != k)
      std::abort();
    written += z85 + "\n";
  }
  auto again = wire::parse_curve_key_file(written, "again.txt");
  if (!again || *again.value != *keys.value)
    std::abort();
  return 0;
}
