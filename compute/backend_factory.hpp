// Backends by device name: "cpu", and "cuda:N" (GPU N) in builds with the CUDA backend.
// A trainer's `devices` says how many replicas run on which devices; replica r of a
// GPU group trains on the r-th GPU of the list, every replica of a "cpu:K" group on
// "cpu".
#pragma once

#include "compute/backend.hpp"
#include "compute/collective.hpp"
#include "compute/precision.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace conveyor::compute {

/// True when this build has backends of `kind` ("cpu", "cuda").
bool backend_built(std::string_view kind);

/// GPU code lives in a plugin, libconveyor_cuda.so (compute/cuda/cuda_plugin.hpp),
/// which the calls below load the first time they need a GPU: gpu_count, a "cuda:N"
/// backend, a GPU group's transport. CPU-only work never loads it (nor cuBLAS, NCCL or
/// the CUDA runtime). It is looked for at $CONVEYOR_CUDA_PLUGIN, else next to the
/// executable, in ../lib from it, then on the loader's path; when it cannot be loaded
/// there is no usable GPU and gpu_count's reason says why. True once it is loaded.
bool cuda_plugin_loaded();

/// GPUs this process can use (0 in builds without the CUDA backend); when there are
/// none, `why_none` says why (no CUDA backend in this build, no driver, no device).
int gpu_count(std::string* why_none = nullptr);

/// GPU `gpu`'s energy counter in joules (NVML, from the driver) and its utilisation in
/// percent; negative where there is no reading (no NVML, no such GPU, a build without
/// CUDA). The difference of two energy readings is what the GPU used in between.
double gpu_energy_joules(int gpu);
int gpu_utilisation_percent(int gpu);

/// A backend for `device` computing its products in `p` (the CPU backend accepts fp32
/// only). Throws std::invalid_argument naming the device when it is malformed, its kind
/// is not built in, or the GPU is not there.
std::unique_ptr<backend> make_backend(std::string_view device,
                                      precision p = precision::fp32);

/// A data-parallel group's device transport: what rank 0 makes and sends to the other
/// ranks (an NCCL id for backends of kind "cuda"; empty for "cpu", which has none), and
/// the collective over it. With no transport (`id` empty) the group keeps `host`, the
/// collective over host messages, and make_device_collective returns null. An
/// all-reduce still unfinished on the device `timeout` after it was queued aborts the
/// transport (a watchdog: compute/collective.hpp, abort).
std::string make_device_group_id(std::string_view kind, int ranks);
std::unique_ptr<collective> make_device_collective(collective& host, const std::string& id,
                                                   int rank, int size, backend& device,
                                                   std::chrono::milliseconds timeout);

} // namespace conveyor::compute
