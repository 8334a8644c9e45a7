// libFuzzer target for the model file decoder: any bytes go through decode(), which must
// never crash, throw or allocate without bound; whatever decodes must encode and decode
// again to an artifact that encodes to the same bytes.
#include "compute/model_file.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor::compute;
  auto result = model_file::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!result)
    return 0;
  auto bytes = model_file::encode(*result.value);
  auto again = model_file::decode(bytes);
  if (!again || model_file::encode(*again.value) != bytes)
    std::abort();
  return 0;
}
