#include "compute/cuda/nvml.hpp"

#include <cuda_runtime_api.h>

#include <mutex>

#include <dlfcn.h>

namespace conveyor::compute::gpu {

namespace {

// The entry points used, as NVML declares them (nvml.h is not needed to build): every
// one returns 0 on success; handles are opaque pointers; nvmlUtilization_t is
// {unsigned gpu; unsigned memory;}.
struct nvml_api {
  int (*init)() = nullptr;
  int (*by_pci_bus_id)(const char*, void**) = nullptr;
  int (*energy)(void*, unsigned long long*) = nullptr;
  int (*utilisation)(void*, unsigned*) = nullptr;
};

const nvml_api* api() {
  static std::once_flag once;
  static nvml_api loaded;
  static bool ok = false;
  std::call_once(once, [] {
    void* lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return; // kept open for the life of the process once loaded
    loaded.init = reinterpret_cast<int (*)()>(::dlsym(lib, "nvmlInit_v2"));
    loaded.by_pci_bus_id = reinterpret_cast<int (*)(const char*, void**)>(
        ::dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2"));
    loaded.energy = reinterpret_cast<int (*)(void*, unsigned long long*)>(
        ::dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption"));
    loaded.utilisation = reinterpret_cast<int (*)(void*, unsigned*)>(
        ::dlsym(lib, "nvmlDeviceGetUtilizationRates"));
    ok = loaded.init && loaded.by_pci_bus_id && loaded.energy && loaded.utilisation &&
         loaded.init() == 0;
  });
  return ok ? &loaded : nullptr;
}

void* handle_of(const nvml_api& nvml, int device) {
  char bus_id[32] = {};
  if (cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, device) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  void* handle = nullptr;
  return nvml.by_pci_bus_id(bus_id, &handle) == 0 ? handle : nullptr;
}

} // namespace

std::optional<double> energy_joules(int device) {
  const auto* nvml = api();
  if (!nvml) return std::nullopt;
  void* h = handle_of(*nvml, device);
  unsigned long long millijoules = 0;
  if (!h || nvml->energy(h, &millijoules) != 0) return std::nullopt;
  return static_cast<double>(millijoules) / 1000.0;
}

std::optional<int> utilisation_percent(int device) {
  const auto* nvml = api();
  if (!nvml) return std::nullopt;
  void* h = handle_of(*nvml, device);
  unsigned rates[2] = {0, 0};
  if (!h || nvml->utilisation(h, rates) != 0) return std::nullopt;
  return static_cast<int>(rates[0]);
}

} // namespace conveyor::compute::gpu
