#include "compute/cpu/openblas.hpp"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>

namespace conveyor::compute::openblas {

namespace {

// The types of the real entry points (decltype only: nothing here links OpenBLAS).
using sgemm_fn = decltype(&cblas_sgemm);
using sgemv_fn = decltype(&cblas_sgemv);

struct library {
  kernel_info info;
  sgemm_fn sgemm = nullptr;
  sgemv_fn sgemv = nullptr;
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
};

template <class F>
F symbol(void* handle, const char* name, std::string& error) {
  void* p = ::dlsym(handle, name);
  if (!p && error.empty()) error = std::string("OpenBLAS has no ") + name;
  return reinterpret_cast<F>(p);
}

/// Sets OPENBLAS_CORETYPE (unless the environment has it) and says why the kernel is
/// what it will be.
std::string choose_kernel() {
  const char* explicit_core = std::getenv("OPENBLAS_CORETYPE");
  if (explicit_core && *explicit_core)
    return std::string("OPENBLAS_CORETYPE=") + explicit_core + " from the environment";
  const auto f = host_features();
  const auto core = best_coretype(f);
  if (core.empty())
    return "OpenBLAS's own choice";
  // Also seen by child processes (a PyTorch peer in a benchmark gets the same kernel).
  ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  return std::string("chosen from the CPU: ") +
         (f.avx512 ? "AVX-512" : f.avx2 ? "AVX2 + FMA" : "AVX");
}

// Before main: one thread, so setenv races with no getenv. Loading waits for the first
// use: OpenBLAS starts its threads when it loads, and they spin (sched_yield) for about
// 0.1 s of CPU before they sleep, which a coordinator or a node that never computes
// would spend for nothing while the run it starts moves its first batches.
const std::string kernel_reason = choose_kernel();

library load() {
  library lib;
  lib.info.reason = kernel_reason;
  void* handle = ::dlopen(CONVEYOR_OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    lib.info.error = std::string("cannot load OpenBLAS (" CONVEYOR_OPENBLAS_SONAME "): ") +
                     (why ? why : "unknown reason");
    return lib;
  }
  std::string& error = lib.info.error;
  lib.sgemm = symbol<sgemm_fn>(handle, "cblas_sgemm", error);
  lib.sgemv = symbol<sgemv_fn>(handle, "cblas_sgemv", error);
  lib.set_num_threads = symbol<void (*)(int)>(handle, "openblas_set_num_threads", error);
  lib.get_num_threads = symbol<int (*)()>(handle, "openblas_get_num_threads", error);
  auto corename = symbol<char* (*)()>(handle, "openblas_get_corename", error);
  auto config = symbol<char* (*)()>(handle, "openblas_get_config", error);
  if (!error.empty()) {
    lib.sgemm = nullptr;
    lib.sgemv = nullptr;
    return lib;
  }
  lib.info.corename = corename();
  lib.info.config = config();
  return lib;
}

/// Loaded at the first use (thread-safe: a function's static), after the variable was set.
const library& loaded() {
  static const library lib = load();
  return lib;
}

[[noreturn]] void unavailable() { throw std::runtime_error(loaded().info.error); }

} // namespace

cpu_features host_features() {
  cpu_features f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // libgcc reports a feature only when the OS also saves its registers (XCR0).
  f.avx = __builtin_cpu_supports("avx");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

std::string best_coretype(const cpu_features& f) {
  if (f.avx512) return "SkylakeX";
  if (f.avx2 && f.fma) return "Haswell";
  if (f.avx) return "Sandybridge";
  return {};
}

const kernel_info& kernel() { return loaded().info; }

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  const auto f = loaded().sgemm;
  if (!f) unavailable();
  f(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m,
    n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sgemv(bool trans, int m, int n, float alpha, const float* a, int lda, const float* x,
           int incx, float beta, float* y, int incy) {
  const auto f = loaded().sgemv;
  if (!f) unavailable();
  f(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

void set_threads(int n) {
  if (!loaded().set_num_threads) unavailable();
  loaded().set_num_threads(n);
}

int threads() {
  if (!loaded().get_num_threads) unavailable();
  return loaded().get_num_threads();
}

} // namespace conveyor::compute::openblas
