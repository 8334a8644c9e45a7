// compute/cpu/dense_tiles.hpp for AVX2 + FMA (this file is compiled with -mavx2 -mfma):
// 6 rows x 2 vectors of 8 floats, 12 of the 16 registers.
#if defined(__x86_64__)
#include "compute/cpu/dense_tiles.hpp"

#include <immintrin.h>

namespace {

struct avx2 {
  using vec = __m256;
  using mask = __m256i;
  static constexpr int width = 8, tile_rows = 6, tile_vectors = 2;
  static vec zero() { return _mm256_setzero_ps(); }
  /// The first n lanes set (n in 1..8).
  static mask lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec load(const float* p, mask m) { return _mm256_maskload_ps(p, m); }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  static void keep_in_register(vec& v) { asm("" : "+v"(v)); } // see dense_tiles.hpp
  static vec broadcast(float x) { return _mm256_set1_ps(x); }
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec relu(vec a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, vec v, mask m) { _mm256_maskstore_ps(p, m, v); }
};

} // namespace

namespace conveyor::compute::dense_kernel {

void forward_avx2(int m, int n, int k, const float* a, int lda, const float* w,
                  const float* bias, bool relu, float* c) {
  dense_forward<avx2>(m, n, k, a, lda, w, bias, relu, c);
}

void transposed_avx2(int m, int n, int k, const float* a, int lda, const float* d, float* c) {
  dense_forward<avx2, true>(m, n, k, a, lda, d, nullptr, false, c);
}

} // namespace conveyor::compute::dense_kernel
#endif
