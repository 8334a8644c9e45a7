#include "compute/backend_factory.hpp"

#include "compute/cpu/cpu_backend.hpp"
#if CONVEYOR_HAVE_CUDA
#include "compute/cuda/cuda_plugin.hpp"
#endif

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <dlfcn.h>
#include <unistd.h>

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

#if CONVEYOR_HAVE_CUDA
/// The folder of this process's executable ("" when /proc does not say).
std::string executable_folder() {
  std::vector<char> path(4096);
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0)
    return {};
  std::string p(path.data(), static_cast<std::size_t>(n));
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

/// The CUDA plugin, loaded at the first call that needs it (never for CPU-only work);
/// null with `why` set when it cannot be had.
const cuda_plugin* cuda(std::string* why_not) {
  static std::once_flag once;
  static const cuda_plugin* plugin = nullptr;
  static std::string why;
  std::call_once(once, [] {
    std::vector<std::string> tried;
    if (const char* explicit_path = std::getenv("CONVEYOR_CUDA_PLUGIN"); explicit_path && *explicit_path) {
      tried.push_back(explicit_path);
    } else {
      const auto here = executable_folder();
      if (!here.empty()) {
        tried.push_back(here + "/" + cuda_plugin_file);
        tried.push_back(here + "/../lib/" + cuda_plugin_file);
      }
      tried.push_back(cuda_plugin_file); // the loader's path: LD_LIBRARY_PATH, or linked in
    }
    std::string errors;
    for (const auto& path : tried) {
      void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!lib) {
        const char* e = ::dlerror();
        errors += std::string(errors.empty() ? "" : "; ") + (e ? e : path.c_str());
        continue;
      }
      using entry = const cuda_plugin* (*)();
      auto get = reinterpret_cast<entry>(::dlsym(lib, "conveyor_cuda_plugin"));
      const cuda_plugin* table = get ? get() : nullptr;
      if (!table || table->abi != cuda_plugin_abi) {
        errors += std::string(errors.empty() ? "" : "; ") + path +
                  ": not a CUDA plugin of this build (rebuild it with conveyor)";
        ::dlclose(lib);
        continue;
      }
      plugin = table; // kept loaded for the life of the process
      return;
    }
    why = std::string("the CUDA plugin ") + cuda_plugin_file + " cannot be loaded (" + errors +
          "; set CONVEYOR_CUDA_PLUGIN to its path)";
  });
  if (why_not)
    *why_not = why;
  return plugin;
}
#endif

} // namespace

bool backend_built(std::string_view kind) {
#if CONVEYOR_HAVE_CUDA
  if (kind == "cuda") return true;
#endif
  return kind == "cpu";
}

bool cuda_plugin_loaded() {
#if CONVEYOR_HAVE_CUDA
  // Asks without loading it (a handle it gives is one more reference: given back).
  void* lib = ::dlopen(cuda_plugin_file, RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
  if (!lib)
    return false;
  ::dlclose(lib);
  return true;
#else
  return false;
#endif
}

int gpu_count(std::string* why_none) {
#if CONVEYOR_HAVE_CUDA
  const auto* p = cuda(why_none);
  return p ? p->device_count(why_none) : 0;
#else
  if (why_none) *why_none = "this build has no CUDA backend";
  return 0;
#endif
}

double gpu_energy_joules(int gpu) {
#if CONVEYOR_HAVE_CUDA
  if (gpu >= 0 && gpu < gpu_count()) return cuda(nullptr)->energy_joules(gpu);
#else
  (void)gpu;
#endif
  return -1;
}

int gpu_utilisation_percent(int gpu) {
#if CONVEYOR_HAVE_CUDA
  if (gpu >= 0 && gpu < gpu_count()) return cuda(nullptr)->utilisation_percent(gpu);
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
      return cuda(nullptr)->make_backend(ordinal, p);
    } catch (const std::runtime_error& e) { // gpu_error
      throw std::invalid_argument("device \"" + std::string(device) + "\": " + e.what());
    }
#endif
  }
  throw std::invalid_argument("unknown device \"" + std::string(device) +
                              "\" (expected \"cpu\" or \"cuda:N\")");
}

std::string make_device_group_id(std::string_view kind, int ranks) {
#if CONVEYOR_HAVE_CUDA
  if (kind == "cuda" && ranks > 1) {
    std::string why;
    const auto* p = cuda(&why);
    if (!p)
      throw std::invalid_argument(why);
    return p->make_nccl_id();
  }
#else
  (void)kind;
  (void)ranks;
#endif
  return {};
}

std::unique_ptr<collective> make_device_collective(collective& host, const std::string& id,
                                                   int rank, int size, backend& device,
                                                   std::chrono::milliseconds timeout) {
#if CONVEYOR_HAVE_CUDA
  if (!id.empty()) {
    std::string why;
    const auto* p = cuda(&why);
    if (!p)
      throw std::invalid_argument(why);
    return p->make_nccl_collective(host, id, rank, size, device, timeout);
  }
#else
  (void)host;
  (void)rank;
  (void)size;
  (void)device;
  (void)timeout;
  if (!id.empty())
    throw std::invalid_argument("a device group id reached a build without device transports");
#endif
  return nullptr;
}

} // namespace conveyor::compute
