// libFuzzer target for the cluster file reader: any text goes through
// parse_cluster_file, which must never crash or throw, and must name the file in every
// error it returns.
#include "cluster/cluster_file.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto result = conveyor::cluster::parse_cluster_file(
    std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  if (!result && result.error.rfind("fuzz.toml", 0) != 0)
    std::abort();
  if (result && result.value->nodes.empty())
    std::abort();
  return 0;
}
