// Energy and mean utilisation of one GPU over a timed run, from the NVML readings of
// compute/backend_factory.hpp (absent where the driver has no NVML, or without a GPU).
#pragma once

#include <atomic>
#include <thread>

class nvml_meter {
public:
  /// `gpu`: a CUDA ordinal; negative: no GPU, every reading is then -1.
  explicit nvml_meter(int gpu) : gpu_(gpu) {}
  ~nvml_meter();
  nvml_meter(const nvml_meter&) = delete;
  nvml_meter& operator=(const nvml_meter&) = delete;

  /// The GPU's energy counter in joules; -1 without a reading.
  double energy_joules() const;
  /// Samples the GPU's utilisation every 50 ms until utilisation_percent().
  void start_utilisation();
  /// The mean of the samples since start_utilisation(); -1 without any.
  int utilisation_percent();

private:
  int gpu_;
  std::thread sampler_;
  std::atomic<bool> sampling_{false};
  std::atomic<long long> sum_{0}, count_{0};
};
