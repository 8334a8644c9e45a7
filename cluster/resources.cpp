// The GPU libraries are opened with dlopen and closed again: a node without a GPU
// driver runs the same binary.
#include "cluster/resources.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <thread>

namespace conveyor::cluster {

namespace {

/// The count from the CUDA driver API, or -1 if the driver is absent or fails.
int cuda_driver_count() {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr)
    return -1;
  using init_fn = int (*)(unsigned);
  using count_fn = int (*)(int*);
  auto init = reinterpret_cast<init_fn>(dlsym(lib, "cuInit"));
  auto count = reinterpret_cast<count_fn>(dlsym(lib, "cuDeviceGetCount"));
  int n = -1;
  if (init != nullptr && count != nullptr && init(0) == 0 && count(&n) != 0)
    n = -1;
  // The driver stays loaded: unloading it after cuInit is not supported.
  return n;
}

/// The count from NVML, or -1 if it is absent or fails.
int nvml_count() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr)
    return -1;
  using init_fn = int (*)();
  using count_fn = int (*)(unsigned*);
  auto init = reinterpret_cast<init_fn>(dlsym(lib, "nvmlInit_v2"));
  auto count = reinterpret_cast<count_fn>(dlsym(lib, "nvmlDeviceGetCount_v2"));
  auto shutdown = reinterpret_cast<init_fn>(dlsym(lib, "nvmlShutdown"));
  int n = -1;
  if (init != nullptr && count != nullptr && init() == 0) {
    unsigned c = 0;
    if (count(&c) == 0)
      n = static_cast<int>(c);
    if (shutdown != nullptr)
      shutdown();
  }
  dlclose(lib);
  return n;
}

} // namespace

gpu_count detect_gpus() {
  if (int n = cuda_driver_count(); n >= 0)
    return {n, "cuda"};
  if (int n = nvml_count(); n >= 0)
    return {n, "nvml"};
  return {};
}

resources detect_resources() {
  resources r;
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  r.cores = online > 0 ? static_cast<int>(online)
                       : static_cast<int>(std::thread::hardware_concurrency());
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0)
    r.memory_bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
  r.gpus = detect_gpus().count;
  return r;
}

} // namespace conveyor::cluster
