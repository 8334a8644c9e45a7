// OpenBLAS, loaded at its first use with the best kernel the CPU supports.
//
// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernel once, when it is loaded, from a
// table of CPU models; a CPU newer than the table gets the generic Prescott (SSE3)
// kernels, 3-5x slower for sgemm on an AVX-512 machine. The kernel can only be chosen
// by OPENBLAS_CORETYPE before the library loads, so conveyor does not link OpenBLAS:
// this file decides the kernel from the CPU's instruction sets, sets the variable (an
// explicit OPENBLAS_CORETYPE is honoured as it is) during static initialisation (one
// thread, before main), and dlopen()s the library when a product is first asked for: a
// process that computes nothing (a coordinator, a node that only moves batches) never
// starts OpenBLAS's threads.
#pragma once

#include <string>

namespace conveyor::compute::openblas {

/// The instruction sets that decide the kernel (usable ones: the OS saves their state).
struct cpu_features {
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512 = false; ///< F, CD, BW, DQ and VL: what OpenBLAS's SkylakeX kernels use
};

cpu_features host_features();

/// The OPENBLAS_CORETYPE whose sgemm kernels are the fastest the features run:
/// "SkylakeX" (AVX-512), "Haswell" (AVX2 + FMA), "Sandybridge" (AVX), or "" (leave the
/// choice to OpenBLAS).
std::string best_coretype(const cpu_features& f);

/// What is loaded and why.
struct kernel_info {
  std::string corename; ///< openblas_get_corename(): the kernel in use ("SkylakeX")
  std::string config;   ///< openblas_get_config(): version and build options
  /// How it was chosen: "OPENBLAS_CORETYPE=X from the environment", "chosen from the
  /// CPU: AVX-512", or "OpenBLAS's own choice".
  std::string reason;
  std::string error; ///< why OpenBLAS could not be loaded; empty when it was
};

/// Loads OpenBLAS on first use (static initialisation does it first) and says which
/// kernel it runs. Never throws.
const kernel_info& kernel();

/// Row-major cblas_sgemm and cblas_sgemv; these and the thread knob throw
/// std::runtime_error (kernel().error) when OpenBLAS could not be loaded.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);
void sgemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x,
           int incx, float beta, float* y, int incy);
void set_threads(int n);
int threads();

} // namespace conveyor::compute::openblas
