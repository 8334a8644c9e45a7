#include "compute/cuda/gpu_error.hpp"

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>

namespace conveyor::compute {

const char* to_string(gpu_errc code) noexcept {
  switch (code) {
  case gpu_errc::no_device: return "no_device";
  case gpu_errc::out_of_memory: return "out_of_memory";
  case gpu_errc::cuda: return "cuda";
  case gpu_errc::cublas: return "cublas";
  case gpu_errc::nccl: return "nccl";
  }
  return "unknown";
}

namespace gpu_detail {

namespace {

/// "file.cpp:12" relative to the source tree: __FILE__ is absolute in CMake builds.
std::string where(const char* file, int line) {
  const char* rel = std::strstr(file, "compute/cuda/");
  return std::string(rel ? rel : file) + ":" + std::to_string(line);
}

[[noreturn]] void fail(gpu_errc code, const char* call, const char* file, int line,
                       const std::string& why) {
  throw gpu_error(code, std::string(call) + " failed at " + where(file, line) + ": " + why);
}

} // namespace

void check_cuda(int status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  const auto e = static_cast<cudaError_t>(status);
  cudaGetLastError(); // clears a non-sticky error, so the next call does not report it again
  const gpu_errc code = e == cudaErrorMemoryAllocation ? gpu_errc::out_of_memory
                        : e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                                  e == cudaErrorInvalidDevice
                            ? gpu_errc::no_device
                            : gpu_errc::cuda;
  fail(code, call, file, line, std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")");
}

void check_cublas(int status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const auto s = static_cast<cublasStatus_t>(status);
  fail(s == CUBLAS_STATUS_ALLOC_FAILED ? gpu_errc::out_of_memory : gpu_errc::cublas, call, file,
       line, std::string(cublasGetStatusString(s)) + " (" + cublasGetStatusName(s) + ")");
}

void check_nccl(int status, const char* call, const char* file, int line) {
  if (status == ncclSuccess || status == ncclInProgress) return;
  const auto r = static_cast<ncclResult_t>(status);
  fail(gpu_errc::nccl, call, file, line, ncclGetErrorString(r));
}

} // namespace gpu_detail

} // namespace conveyor::compute
