// The one place where CUDA, cuBLAS and NCCL failures become the project's errors. Every
// call into those libraries goes through CONVEYOR_CUDA / CONVEYOR_CUBLAS / CONVEYOR_NCCL,
// which throw gpu_error naming the call, the source file and line, and the library's
// own description of the failure. Plain C++ (no CUDA headers), so code that only
// catches the error need not see CUDA.
#pragma once

#include <stdexcept>
#include <string>

namespace conveyor::compute {

/// What failed on a GPU. `no_device`: the device asked for is not there (or no driver);
/// `out_of_memory`: an allocation on the device or of pinned host memory failed.
enum class gpu_errc { no_device, out_of_memory, cuda, cublas, nccl };

const char* to_string(gpu_errc code) noexcept;

class gpu_error : public std::runtime_error {
public:
  gpu_error(gpu_errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  gpu_errc code() const noexcept { return code_; }

private:
  gpu_errc code_;
};

namespace gpu_detail {
// One per library: throw gpu_error when `status` is not success. `call` is the source
// text of the call.
void check_cuda(int status, const char* call, const char* file, int line);
void check_cublas(int status, const char* call, const char* file, int line);
void check_nccl(int status, const char* call, const char* file, int line);
} // namespace gpu_detail

} // namespace conveyor::compute

#define CONVEYOR_CUDA(call)                                                                  \
  ::conveyor::compute::gpu_detail::check_cuda(static_cast<int>(call), #call, __FILE__, __LINE__)
#define CONVEYOR_CUBLAS(call)                                                                \
  ::conveyor::compute::gpu_detail::check_cublas(static_cast<int>(call), #call, __FILE__,      \
                                                __LINE__)
#define CONVEYOR_NCCL(call)                                                                  \
  ::conveyor::compute::gpu_detail::check_nccl(static_cast<int>(call), #call, __FILE__, __LINE__)
