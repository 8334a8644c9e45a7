#include "compute/cpu/dense_kernel.hpp"

#include "compute/cpu/openblas.hpp"

namespace conveyor::compute::dense_kernel {

using kernel_fn = void (*)(int, int, int, const float*, int, const float*, const float*, bool,
                           float*);
using transposed_fn = void (*)(int, int, int, const float*, int, const float*, float*);

#if defined(__x86_64__)
// Each built for its instruction set (dense_kernel_avx512.cpp, dense_kernel_avx2.cpp).
void forward_avx512(int m, int n, int k, const float* a, int lda, const float* w,
                    const float* bias, bool relu, float* c);
void forward_avx2(int m, int n, int k, const float* a, int lda, const float* w,
                  const float* bias, bool relu, float* c);
void transposed_avx512(int m, int n, int k, const float* a, int lda, const float* d, float* c);
void transposed_avx2(int m, int n, int k, const float* a, int lda, const float* d, float* c);
#endif

namespace {

kernel_fn kernel_for(isa set) {
#if defined(__x86_64__)
  static const auto f = openblas::host_features();
  switch (set) {
    case isa::avx512: return f.avx512 ? forward_avx512 : nullptr;
    case isa::avx2_fma: return f.avx2 && f.fma ? forward_avx2 : nullptr;
  }
#endif
  return nullptr;
}

transposed_fn transposed_for(isa set) {
  if (!kernel_for(set)) return nullptr;
#if defined(__x86_64__)
  return set == isa::avx512 ? transposed_avx512 : transposed_avx2;
#else
  return nullptr;
#endif
}

kernel_fn fastest() {
  static const kernel_fn fn = kernel_for(isa::avx512) ? kernel_for(isa::avx512)
                                                       : kernel_for(isa::avx2_fma);
  return fn;
}

} // namespace

bool supports(isa set) noexcept { return kernel_for(set) != nullptr; }
bool available() noexcept { return fastest() != nullptr; }

void forward(int m, int n, int k, const float* a, int lda, const float* w, const float* bias,
             activation act, float* c) noexcept {
  fastest()(m, n, k, a, lda, w, bias, act == activation::relu, c);
}

void forward(isa set, int m, int n, int k, const float* a, int lda, const float* w,
             const float* bias, activation act, float* c) noexcept {
  kernel_for(set)(m, n, k, a, lda, w, bias, act == activation::relu, c);
}

void transposed_product(int m, int n, int k, const float* a, int lda, const float* d,
                        float* c) noexcept {
  static const transposed_fn fn = transposed_for(isa::avx512) ? transposed_for(isa::avx512)
                                                              : transposed_for(isa::avx2_fma);
  fn(m, n, k, a, lda, d, c);
}

void transposed_product(isa set, int m, int n, int k, const float* a, int lda, const float* d,
                        float* c) noexcept {
  transposed_for(set)(m, n, k, a, lda, d, c);
}

} // namespace conveyor::compute::dense_kernel
