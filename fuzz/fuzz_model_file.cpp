// libFuzzer target for the model file decoder: any bytes go through decode(), which must
// never crash, throw or allocate without bound; whatever decodes must encode and decode
// again to an artifact that encodes to the same bytes. load() of the same bytes (its
// structure checks run before the whole read) must agree with decode().
#include "compute/model_file.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

/// model_file::load on the same bytes, through an in-memory file: its checks before the
/// whole read must never crash, and never refuse what decode accepts (nor accept more).
bool loads(const std::uint8_t* data, std::size_t size) {
  const int fd = ::memfd_create("model", MFD_CLOEXEC);
  if (fd < 0)
    std::abort();
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0)
      std::abort();
    done += static_cast<std::size_t>(n);
  }
  const bool ok = static_cast<bool>(conveyor::compute::model_file::load("/proc/self/fd/" + std::to_string(fd)));
  ::close(fd);
  return ok;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor::compute;
  auto result = model_file::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (loads(data, size) != static_cast<bool>(result))
    std::abort();
  if (!result)
    return 0;
  auto bytes = model_file::encode(*result.value);
  auto again = model_file::decode(bytes);
  if (!again || model_file::encode(*again.value) != bytes)
    std::abort();
  return 0;
}
