#include "compute/backend_factory.hpp"

#include "compute/cpu/cpu_backend.hpp"
#if CONVEYOR_HAVE_CUDA
#include "compute/cuda/cuda_factory.hpp"
#include "compute/cuda/gpu_error.hpp"
#endif

#include <algorithm>
#include <stdexcept>

namespace conveyor::compute {

namespace {

/// N of "cuda:N", or -1.
int gpu_ordinal(std::string_view device) {
  const auto colon = device.find(':');
  const auto n = device.substr(colon + 1);
  if (n.empty() || n.size() > 3 ||
      !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoi(std::string(n));
}

} // namespace

bool backend_built(std::string_view kind) {
#if CONVEYOR_HAVE_CUDA
  if (kind == "cuda") return true;
#endif
  return kind == "cpu";
}

int gpu_count(std::string* why_none) {
#if CONVEYOR_HAVE_CUDA
  return cuda_device_count(why_none);
#else
  if (why_none) *why_none = "this build has no CUDA backend";
  return 0;
#endif
}

double gpu_energy_joules(int gpu) {
#if CONVEYOR_HAVE_CUDA
  if (gpu >= 0 && gpu < gpu_count()) return cuda_energy_joules(gpu);
#else
  (void)gpu;
#endif
  return -1;
}

int gpu_utilisation_percent(int gpu) {
#if CONVEYOR_HAVE_CUDA
  if (gpu >= 0 && gpu < gpu_count()) return cuda_utilisation_percent(gpu);
#else
  (void)gpu;
#endif
  return -1;
}

std::unique_ptr<backend> make_backend(std::string_view device, precision p) {
  if (device == "cpu") {
    if (p != precision::fp32)
      throw std::invalid_argument(std::string("device \"cpu\": precision \"") + to_string(p) +
                                  "\" needs a GPU (the CPU backend computes fp32)");
    return std::make_unique<cpu_backend>();
  }
  const auto colon = device.find(':');
  const auto kind = device.substr(0, colon);
  if (kind == "cuda" || kind == "gpu") {
    const int ordinal = colon == std::string_view::npos ? -1 : gpu_ordinal(device);
    if (ordinal < 0)
      throw std::invalid_argument("device \"" + std::string(device) +
                                  "\": expected \"cuda:N\" with N a GPU number");
    std::string why;
    const int gpus = gpu_count(&why);
    if (ordinal >= gpus)
      throw std::invalid_argument(
          "device \"" + std::string(device) + "\": " +
          (gpus == 0 ? "no GPU is usable here (" + why + ")"
                     : "this machine has " + std::to_string(gpus) + " GPU(s)"));
#if CONVEYOR_HAVE_CUDA
    try {
      return make_cuda_backend(ordinal, p);
    } catch (const gpu_error& e) {
      throw std::invalid_argument("device \"" + std::string(device) + "\": " + e.what());
    }
#endif
  }
  throw std::invalid_argument("unknown device \"" + std::string(device) +
                              "\" (expected \"cpu\" or \"cuda:N\")");
}

std::string make_device_group_id(std::string_view kind, int ranks) {
#if CONVEYOR_HAVE_CUDA
  if (kind == "cuda" && ranks > 1) return make_nccl_id();
#else
  (void)kind;
  (void)ranks;
#endif
  return {};
}

std::unique_ptr<collective> make_device_collective(collective& host, const std::string& id,
                                                   int rank, int size, backend& device) {
#if CONVEYOR_HAVE_CUDA
  if (!id.empty()) return make_nccl_collective(host, id, rank, size, device);
#else
  (void)host;
  (void)rank;
  (void)size;
  (void)device;
  if (!id.empty())
    throw std::invalid_argument("a device group id reached a build without device transports");
#endif
  return nullptr;
}

} // namespace conveyor::compute
