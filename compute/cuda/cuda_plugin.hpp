// The CUDA plugin's interface: what libconveyor_cuda.so (compute/cuda/, a shared
// library) offers the backend factory, which loads it with dlopen only when a graph asks
// for a GPU (compute/backend_factory.cpp). No CUDA headers, so the factory compiles the
// same in every build, and a process that never asks for a GPU maps neither the plugin
// nor cuBLAS and NCCL.
//
// The table is plain C++ (std::string, std::unique_ptr, exceptions cross it): the plugin
// and the program are built together, by the same compiler, against the same C++
// runtime. `abi` must equal cuda_plugin_abi, or the factory refuses the plugin (one from
// another build). Errors are thrown as std::runtime_error (gpu_error) naming the call.
#pragma once

#include "compute/backend.hpp"
#include "compute/collective.hpp"
#include "compute/precision.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace conveyor::compute {

/// The plugin's file name: next to the executable, in ../lib from it, or on the loader's
/// path (CONVEYOR_CUDA_PLUGIN names another).
constexpr const char* cuda_plugin_file = "libconveyor_cuda.so";

/// Bumped whenever the table below or the backend interface (compute/backend.hpp, whose
/// virtual functions the plugin's backends implement) changes.
constexpr int cuda_plugin_abi = 2;

struct cuda_plugin {
  int abi = cuda_plugin_abi;
  /// GPUs this process can use; 0 with `why_none` set when there are none (no driver, no
  /// device, CUDA_VISIBLE_DEVICES empty). Asked once per process.
  int (*device_count)(std::string* why_none);
  /// A backend on GPU `device` computing its products in `p`.
  std::unique_ptr<backend> (*make_backend)(int device, precision p);
  /// NVML readings of GPU `device` (compute/cuda/nvml.hpp); negative when absent.
  double (*energy_joules)(int device);
  int (*utilisation_percent)(int device);
  /// A fresh NCCL unique id (its bytes): rank 0 makes it and sends it to the other ranks.
  std::string (*make_nccl_id)();
  /// Rank `rank` of `size` in the NCCL group `id`, on `device`'s GPU and stream (a CUDA
  /// backend). All-reduces run on the GPUs; broadcasts, which carry host bytes, go through
  /// `host` (a collective between the same ranks over host messages), which must outlive
  /// the result. An all-reduce that has not finished on the GPU `timeout` after it was
  /// queued aborts the communicator (compute/cuda/nccl_collective.hpp).
  std::unique_ptr<collective> (*make_nccl_collective)(collective& host, const std::string& id,
                                                      int rank, int size, backend& device,
                                                      std::chrono::milliseconds timeout);
};

} // namespace conveyor::compute

/// The plugin's one exported symbol.
extern "C" const conveyor::compute::cuda_plugin* conveyor_cuda_plugin();
