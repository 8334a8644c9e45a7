#include "compute/backend_factory.hpp"

#include "compute/cpu/cpu_backend.hpp"

#include <stdexcept>

namespace conveyor::compute {

bool backend_built(std::string_view kind) { return kind == "cpu"; }

std::unique_ptr<backend> make_backend(std::string_view device) {
  if (device == "cpu") return std::make_unique<cpu_backend>();
  const auto colon = device.find(':');
  const auto kind = device.substr(0, colon);
  if (kind == "cuda" || kind == "gpu")
    throw std::invalid_argument("device \"" + std::string(device) +
                                "\": this build has no CUDA backend");
  throw std::invalid_argument("unknown device \"" + std::string(device) +
                              "\" (expected \"cpu\" or \"cuda:N\")");
}

} // namespace conveyor::compute
