// What the rest of conveyor_compute sees of the CUDA build: GPUs present, a backend per
// GPU, and the NCCL collective. No CUDA headers, so the backend factory (compute/
// backend_factory.cpp) compiles the same in every build.
#pragma once

#include "compute/backend.hpp"
#include "compute/collective.hpp"
#include "compute/precision.hpp"

#include <memory>
#include <string>

namespace conveyor::compute {

/// GPUs this process can use; 0 with `why_none` set when there are none (no driver, no
/// device, CUDA_VISIBLE_DEVICES empty). Asked once per process.
int cuda_device_count(std::string* why_none = nullptr);

std::unique_ptr<backend> make_cuda_backend(int device, precision p);

/// NVML readings of GPU `device` (compute/cuda/nvml.hpp); negative when absent.
double cuda_energy_joules(int device);
int cuda_utilisation_percent(int device);

/// A fresh NCCL unique id (its bytes): rank 0 makes it and sends it to the other ranks.
std::string make_nccl_id();

/// Rank `rank` of `size` in the NCCL group `id`, on `device`'s GPU and stream (a
/// cuda_backend). All-reduces run on the GPUs; broadcasts, which carry host bytes, go
/// through `host` (a collective between the same ranks over host messages), which must
/// outlive the result.
std::unique_ptr<collective> make_nccl_collective(collective& host, const std::string& id,
                                                 int rank, int size, backend& device);

} // namespace conveyor::compute
