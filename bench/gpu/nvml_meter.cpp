#include "bench/gpu/nvml_meter.hpp"

#include "compute/backend_factory.hpp"

#include <chrono>

nvml_meter::~nvml_meter() {
  if (sampler_.joinable()) utilisation_percent();
}

double nvml_meter::energy_joules() const {
  return gpu_ < 0 ? -1.0 : conveyor::compute::gpu_energy_joules(gpu_);
}

void nvml_meter::start_utilisation() {
  if (gpu_ < 0 || sampler_.joinable()) return;
  sum_ = 0;
  count_ = 0;
  sampling_ = true;
  sampler_ = std::thread([this] {
    while (sampling_) {
      const int percent = conveyor::compute::gpu_utilisation_percent(gpu_);
      if (percent >= 0) {
        sum_ += percent;
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
