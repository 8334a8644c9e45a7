#include "bench/gpu/nvml_meter.hpp"

#include <chrono>

#include <dlfcn.h>

namespace {
// The entry points used, as NVML declares them (nvml.h is not needed to build).
using init_fn = int (*)();
using handle_fn = int (*)(unsigned, void**);
} // namespace

nvml_meter::nvml_meter(int gpu) {
  if (gpu < 0) return;
  lib_ = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib_) return;
  auto init = reinterpret_cast<init_fn>(::dlsym(lib_, "nvmlInit_v2"));
  auto handle = reinterpret_cast<handle_fn>(::dlsym(lib_, "nvmlDeviceGetHandleByIndex_v2"));
  energy_ = reinterpret_cast<int (*)(void*, unsigned long long*)>(
      ::dlsym(lib_, "nvmlDeviceGetTotalEnergyConsumption"));
  // nvmlUtilization_t is {unsigned gpu; unsigned memory;}: the first field is read.
  utilisation_ = reinterpret_cast<int (*)(void*, unsigned*)>(
      ::dlsym(lib_, "nvmlDeviceGetUtilizationRates"));
  if (!init || !handle || init() != 0 || handle(static_cast<unsigned>(gpu), &device_) != 0)
    device_ = nullptr;
}

nvml_meter::~nvml_meter() {
  if (sampler_.joinable()) utilisation_percent();
  if (lib_) ::dlclose(lib_);
}

double nvml_meter::energy_joules() const {
  unsigned long long millijoules = 0;
  if (!device_ || !energy_ || energy_(device_, &millijoules) != 0) return -1;
  return static_cast<double>(millijoules) / 1000.0;
}

void nvml_meter::start_utilisation() {
  if (!device_ || !utilisation_ || sampler_.joinable()) return;
  sum_ = 0;
  count_ = 0;
  sampling_ = true;
  sampler_ = std::thread([this] {
    while (sampling_) {
      unsigned rates[2] = {0, 0};
      if (utilisation_(device_, rates) == 0) {
        sum_ += rates[0];
        ++count_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

int nvml_meter::utilisation_percent() {
  if (!sampler_.joinable()) return -1;
  sampling_ = false;
  sampler_.join();
  return count_ > 0 ? static_cast<int>(sum_ / count_) : -1;
}
