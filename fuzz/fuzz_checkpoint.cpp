// libFuzzer target for the checkpoint decoder: any bytes go through decode(), which must
// never crash, throw or allocate without bound; whatever decodes must encode to bytes
// that decode to the same checkpoint.
#include "compute/checkpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor::compute;
  auto result =
      checkpoint_file::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!result)
    return 0;
  auto bytes = checkpoint_file::encode(*result.value);
  auto again = checkpoint_file::decode(bytes);
  if (!again || !(*again.value == *result.value))
    std::abort();
  return 0;
}
