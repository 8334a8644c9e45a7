// A GPU's energy counter and utilisation through NVML, which comes with the driver
// (libnvidia-ml.so.1) and is loaded at run time: where it is missing, readings are
// absent instead of the program failing to start. GPUs are named by CUDA ordinal and
// matched to NVML's by PCI bus id, so CUDA_VISIBLE_DEVICES does not mix them up.
#pragma once

#include <optional>

namespace conveyor::compute::gpu {

/// Joules the GPU has used since the driver loaded, or nothing without NVML (or on GPUs
/// that lack the counter, which Volta and newer have).
std::optional<double> energy_joules(int device);

/// Percent of the last sample period in which a kernel ran on the GPU, or nothing.
std::optional<int> utilisation_percent(int device);

} // namespace conveyor::compute::gpu
