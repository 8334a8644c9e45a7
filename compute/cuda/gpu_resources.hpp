// RAII owners of CUDA resources: streams, events, graphs, pinned host memory and cuBLAS
// handles. Each is move-only and releases its resource in its destructor (errors there
// are ignored: a destructor cannot report them, and the context is going away).
#pragma once

#include "compute/cuda/gpu_error.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

namespace conveyor::compute::gpu {

/// Unique ownership of a handle `T` released by `Release`; empty when null.
template <class T, void (*Release)(T)>
class handle {
public:
  handle() = default;
  explicit handle(T h) : h_(h) {}
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  handle(handle&& o) noexcept : h_(std::exchange(o.h_, T{})) {}
  handle& operator=(handle&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~handle() {
    if (h_) Release(h_);
  }
  T get() const noexcept { return h_; }

private:
  T h_{};
};

inline void release_stream(cudaStream_t s) { cudaStreamDestroy(s); }
inline void release_event(cudaEvent_t e) { cudaEventDestroy(e); }
inline void release_pinned(void* p) { cudaFreeHost(p); }
inline void release_cublas(cublasHandle_t h) { cublasDestroy(h); }
inline void release_graph(cudaGraph_t g) { cudaGraphDestroy(g); }
inline void release_graph_exec(cudaGraphExec_t g) { cudaGraphExecDestroy(g); }

using stream = handle<cudaStream_t, release_stream>;
using event = handle<cudaEvent_t, release_event>;
using cublas = handle<cublasHandle_t, release_cublas>;
using graph = handle<cudaGraph_t, release_graph>;
using graph_exec = handle<cudaGraphExec_t, release_graph_exec>;

/// A stream that does not synchronise with the legacy default stream.
inline stream make_stream() {
  cudaStream_t s = nullptr;
  CONVEYOR_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return stream(s);
}

/// An event for ordering only (no timing, so recording it is cheap).
inline event make_event() {
  cudaEvent_t e = nullptr;
  CONVEYOR_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return event(e);
}

inline cublas make_cublas() {
  cublasHandle_t h = nullptr;
  CONVEYOR_CUBLAS(cublasCreate(&h));
  return cublas(h);
}

/// Page-locked host memory: the source of asynchronous uploads.
class pinned_buffer {
public:
  pinned_buffer() = default;
  explicit pinned_buffer(std::size_t bytes) : bytes_(bytes) {
    void* p = nullptr;
    if (bytes) CONVEYOR_CUDA(cudaMallocHost(&p, bytes));
    p_ = handle<void*, release_pinned>(p);
  }
  void* data() const noexcept { return p_.get(); }
  std::size_t bytes() const noexcept { return bytes_; }

private:
  handle<void*, release_pinned> p_;
  std::size_t bytes_ = 0;
};

} // namespace conveyor::compute::gpu
