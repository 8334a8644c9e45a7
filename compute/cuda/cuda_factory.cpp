// The plugin's table (compute/cuda/cuda_plugin.hpp): GPUs present, a backend per GPU,
// NVML readings and the NCCL collective.
#include "compute/cuda/cuda_plugin.hpp"

#include "compute/cuda/cuda_backend.hpp"
#include "compute/cuda/nccl_collective.hpp"
#include "compute/cuda/nvml.hpp"

#include <mutex>

#include <dlfcn.h>

namespace conveyor::compute {

namespace {

int device_count(std::string* why_none) {
  static std::once_flag once;
  static int count = 0;
  static std::string why;
  std::call_once(once, [] {
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      count = 0;
      cudaGetLastError();
      // Without the driver library CUDA says "driver version is insufficient": name the
      // actual cause.
      void* driver = ::dlopen("libcuda.so.1", RTLD_LAZY);
      if (!driver) {
        why = "no NVIDIA driver: libcuda.so.1 is not installed";
        return;
      }
      ::dlclose(driver);
      why = std::string("CUDA reports ") + cudaGetErrorString(e);
    } else if (count == 0) {
      why = "CUDA reports no device";
    }
  });
  if (why_none) *why_none = why;
  return count;
}

std::unique_ptr<backend> make_backend(int device, precision p) {
  return std::make_unique<cuda_backend>(device, p);
}

double energy_joules(int device) { return gpu::energy_joules(device).value_or(-1.0); }

int utilisation_percent(int device) { return gpu::utilisation_percent(device).value_or(-1); }

std::string make_nccl_id() {
  ncclUniqueId id;
  CONVEYOR_NCCL(ncclGetUniqueId(&id));
  return std::string(id.internal, sizeof id.internal);
}

std::unique_ptr<collective> make_nccl_collective(collective& host, const std::string& id,
                                                 int rank, int size, backend& device,
                                                 std::chrono::milliseconds timeout) {
  auto* gpu = dynamic_cast<cuda_backend*>(&device);
  if (!gpu)
    throw gpu_error(gpu_errc::nccl, std::string("an NCCL group needs CUDA backends, got \"") +
                                        device.name() + "\"");
  return std::make_unique<nccl_collective>(host, id, rank, size, *gpu, timeout);
}

const cuda_plugin table{cuda_plugin_abi, device_count,        make_backend,
                        energy_joules,   utilisation_percent, make_nccl_id,
                        make_nccl_collective};

} // namespace

} // namespace conveyor::compute

extern "C" __attribute__((visibility("default"))) const conveyor::compute::cuda_plugin*
conveyor_cuda_plugin() {
  return &conveyor::compute::table;
}
