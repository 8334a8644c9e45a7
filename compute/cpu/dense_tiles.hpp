// The body of compute/cpu/dense_kernel, written once over an instruction set's vector
// type (`isa`: width floats per vector, tile_rows x tile_vectors registers of output) and
// compiled once per instruction set, each in its own translation unit built for it
// (dense_kernel_avx512.cpp, dense_kernel_avx2.cpp). Everything here has internal
// linkage and uses no library templates, so no function compiled for one instruction
// set can stand in for another's at link time.
//
// g++ keeps the accumulators in registers only when every loop over them is unrolled:
// hence the pragmas. `isa` also provides prefetch (a hint, never a fault) and
// keep_in_register (an empty asm that makes the compiler load a value once).
#pragma once

namespace {

/// Weight rows requested ahead of use. A tile reads 256 bytes of each row (a row is n
/// floats), which the hardware prefetchers do not follow: without this a tile waits on
/// the L2 cache (measured: about 15% slower on 784 x 256).
constexpr int prefetch_rows = 8;

/// Element (r, p) of the left operand: a[r lda + p], or a[p lda + r] when it is stored
/// transposed (TA: the weight gradient's A^T, A held row-major).
template <bool TA>
inline float element(const float* a, int lda, int r, int p) {
  return TA ? a[static_cast<long>(p) * lda + r] : a[static_cast<long>(r) * lda + p];
}

/// Adds row p of the weights times column p of `a` to a tile's accumulators.
template <class isa, int R, int V, bool TA>
inline void accumulate(typename isa::vec (&acc)[R][V], const float* a, int lda, const float* w,
                       int n, int p, typename isa::mask last) {
  using vec = typename isa::vec;
  const float* row = w + static_cast<long>(p) * n;
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v)
    isa::prefetch(row + prefetch_rows * static_cast<long>(n) + v * isa::width); // never faults
  vec b[V];
#pragma GCC unroll 4
  for (int v = 0; v + 1 < V; ++v)
    b[v] = isa::load(row + v * isa::width);
  b[V - 1] = isa::load(row + (V - 1) * isa::width, last);
  // Loaded once, used R times: g++ would rather fold the load into each use.
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v)
    isa::keep_in_register(b[v]);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const vec x = isa::broadcast(element<TA>(a, lda, r, p));
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      acc[r][v] = isa::fma(x, b[v], acc[r][v]);
  }
}

/// One tile: rows R x vectors V of c, over the whole depth k; the last vector's lanes
/// are `last` (a partial column block). A tile of fewer than 8 accumulators would wait
/// on the latency of its additions: it keeps two sets (even and odd p) and adds them at
/// the end. No bias (nullptr): the sums alone.
template <class isa, int R, int V, bool TA>
inline void tile(int k, const float* a, int lda, const float* w, int n, const float* bias,
                 bool relu, float* c, typename isa::mask last) {
  using vec = typename isa::vec;
  vec acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      acc[r][v] = isa::zero();
  int p = 0;
  if constexpr (R * V < 8) {
    vec odd[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        odd[r][v] = isa::zero();
    for (; p + 1 < k; p += 2) {
      accumulate<isa, R, V, TA>(acc, a, lda, w, n, p, last);
      accumulate<isa, R, V, TA>(odd, a, lda, w, n, p + 1, last);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        acc[r][v] = isa::add(acc[r][v], odd[r][v]);
  }
  for (; p < k; ++p)
    accumulate<isa, R, V, TA>(acc, a, lda, w, n, p, last);
  vec bias_v[V];
#pragma GCC unroll 4
  for (int v = 0; v + 1 < V; ++v)
    bias_v[v] = bias ? isa::load(bias + v * isa::width) : isa::zero();
  bias_v[V - 1] = bias ? isa::load(bias + (V - 1) * isa::width, last) : isa::zero();
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* out = c + static_cast<long>(r) * n;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      vec t = isa::add(acc[r][v], bias_v[v]);
      if (relu)
        t = isa::relu(t);
      if (v + 1 < V)
        isa::store(out + v * isa::width, t);
      else
        isa::store(out + v * isa::width, t, last);
    }
  }
}

/// A tile of R rows and `vectors` vectors (at most isa::tile_vectors).
template <class isa, int R, bool TA>
inline void tile_of_width(int vectors, int k, const float* a, int lda, const float* w, int n,
                          const float* bias, bool relu, float* c, typename isa::mask last) {
  static_assert(isa::tile_vectors >= 1 && isa::tile_vectors <= 4, "tile widths handled below");
  switch (vectors) {
    case 1: return tile<isa, R, 1, TA>(k, a, lda, w, n, bias, relu, c, last);
    case 2: if constexpr (isa::tile_vectors >= 2) return tile<isa, R, 2, TA>(k, a, lda, w, n, bias, relu, c, last); break;
    case 3: if constexpr (isa::tile_vectors >= 3) return tile<isa, R, 3, TA>(k, a, lda, w, n, bias, relu, c, last); break;
    case 4: if constexpr (isa::tile_vectors >= 4) return tile<isa, R, 4, TA>(k, a, lda, w, n, bias, relu, c, last); break;
    default: break;
  }
}

/// A tile of `rows` rows (1 to isa::tile_rows).
template <class isa, bool TA, int R = isa::tile_rows>
inline void tile_of(int rows, int vectors, int k, const float* a, int lda, const float* w, int n,
                    const float* bias, bool relu, float* c, typename isa::mask last) {
  if constexpr (R > 0) {
    if (rows == R)
      return tile_of_width<isa, R, TA>(vectors, k, a, lda, w, n, bias, relu, c, last);
    tile_of<isa, TA, R - 1>(rows, vectors, k, a, lda, w, n, bias, relu, c, last);
  }
}

/// The whole product, column block by column block (the block's weights stay in cache
/// while every row tile passes over them). The rows are shared out evenly between the
/// fewest tiles that hold them (7 rows: 4 + 3, not 6 + 1: each pass over the weights
/// costs about the same whatever its rows, up to a full tile). TA: `a` holds A^T (k x m,
/// rows lda apart), as in a weight gradient A_prev^T dZ.
template <class isa, bool TA = false>
void dense_forward(int m, int n, int k, const float* a, int lda, const float* w,
                   const float* bias, bool relu, float* c) {
  constexpr int block = isa::tile_vectors * isa::width;
  const int tiles = (m + isa::tile_rows - 1) / isa::tile_rows;
  if (tiles == 0)
    return;
  const int base = m / tiles, larger = m % tiles; // `larger` tiles of base + 1 rows
  for (int j = 0; j < n; j += block) {
    const int cols = n - j < block ? n - j : block;
    const int vectors = (cols + isa::width - 1) / isa::width;
    const auto last = isa::lanes(cols - (vectors - 1) * isa::width);
    for (int t = 0, i = 0; t < tiles; ++t) {
      const int rows = base + (t < larger ? 1 : 0);
      tile_of<isa, TA>(rows, vectors, k, a + (TA ? i : static_cast<long>(i) * lda), lda, w + j,
                       n, bias ? bias + j : nullptr, relu, c + static_cast<long>(i) * n + j, last);
      i += rows;
    }
  }
}

} // namespace
