// What a node offers to placement: cores, memory, GPUs and its operator's labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace conveyor::cluster {

struct resources {
  int cores = 0;
  std::uint64_t memory_bytes = 0;
  int gpus = 0;
};

/// This machine's online cores and physical memory, and the number of GPUs the CUDA
/// driver sees (libcuda, loaded at run time, so that it honours CUDA_VISIBLE_DEVICES),
/// else NVML's count (libnvidia-ml), else 0. Neither library is needed to build or run.
resources detect_resources();

/// The number of GPUs, and where it came from ("cuda", "nvml" or "none").
struct gpu_count {
  int count = 0;
  std::string source = "none";
};
gpu_count detect_gpus();

} // namespace conveyor::cluster
