// Energy and utilisation of one GPU through NVML, loaded at run time (libnvidia-ml.so.1
// comes with the driver), so the benchmark runs where it is missing and reports no
// energy there. `gpu` is the NVML index, which matches the CUDA ordinal unless
// CUDA_VISIBLE_DEVICES or CUDA_DEVICE_ORDER reorders the GPUs.
#pragma once

#include <atomic>
#include <thread>

class nvml_meter {
public:
  /// gpu < 0: no GPU; every reading is then -1.
  explicit nvml_meter(int gpu);
  ~nvml_meter();
  nvml_meter(const nvml_meter&) = delete;
  nvml_meter& operator=(const nvml_meter&) = delete;

  /// The GPU's energy counter (joules since the driver loaded); -1 without NVML.
  double energy_joules() const;
  /// Samples the GPU's utilisation every 50 ms until utilisation_percent().
  void start_utilisation();
  /// The mean of the samples since start_utilisation(); -1 without NVML.
  int utilisation_percent();

private:
  void* lib_ = nullptr;
  void* device_ = nullptr;
  int (*energy_)(void*, unsigned long long*) = nullptr;
  int (*utilisation_)(void*, unsigned*) = nullptr;
  std::thread sampler_;
  std::atomic<bool> sampling_{false};
  std::atomic<long long> sum_{0}, count_{0};
};
