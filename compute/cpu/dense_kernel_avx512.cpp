// compute/cpu/dense_tiles.hpp for AVX-512 (this file is compiled with -mavx512f -mfma):
// 6 rows x 4 vectors of 16 floats, 24 of the 32 registers.
#if defined(__x86_64__)
#include "compute/cpu/dense_tiles.hpp"

#include <immintrin.h>

namespace {

struct avx512 {
  using vec = __m512;
  using mask = __mmask16;
  static constexpr int width = 16, tile_rows = 6, tile_vectors = 4;
  static vec zero() { return _mm512_setzero_ps(); }
  static mask lanes(int n) { return static_cast<mask>((1u << n) - 1); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static vec load(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  static void keep_in_register(vec& v) { asm("" : "+v"(v)); } // see dense_tiles.hpp
  static vec broadcast(float x) { return _mm512_set1_ps(x); }
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  // (_mm512_max_ps would be the same instruction, but g++ 12 warns inside it)
  static vec relu(vec a) { return _mm512_maskz_max_ps(0xffff, a, _mm512_setzero_ps()); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, vec v, mask m) { _mm512_mask_storeu_ps(p, m, v); }
};

} // namespace

namespace conveyor::compute::dense_kernel {

void forward_avx512(int m, int n, int k, const float* a, int lda, const float* w,
                    const float* bias, bool relu, float* c) {
  dense_forward<avx512>(m, n, k, a, lda, w, bias, relu, c);
}

void transposed_avx512(int m, int n, int k, const float* a, int lda, const float* d, float* c) {
  dense_forward<avx512, true>(m, n, k, a, lda, d, nullptr, false, c);
}

} // namespace conveyor::compute::dense_kernel
#endif
