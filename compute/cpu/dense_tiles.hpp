// The body of compute/cpu/dense_kernel, written once over an instruction set's vector
// type (`isa`: width floats per vector, tile_rows x tile_vectors registers of output) and
// compiled once per instruction set, each in its own translation unit built for it
// (dense_kernel_avx512.cpp, dense_kernel_avx2.cpp). Everything here has internal
// linkage and uses no library templates, so no function compiled for one instruction
// set can stand in for another's at link time.
#pragma once

namespace {

/// One tile: rows R x vectors V of c, over the whole depth k; the last vector's lanes
/// are `last` (a partial column block).
template <class isa, int R, int V>
inline void tile(int k, const float* a, int lda, const float* w, int n, const float* bias,
                 bool relu, float* c, typename isa::mask last) {
  using vec = typename isa::vec;
  vec acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      acc[r][v] = isa::zero();
  for (int p = 0; p < k; ++p) {
    const float* row = w + static_cast<long>(p) * n;
    vec b[V];
#pragma GCC unroll 4
    for (int v = 0; v + 1 < V; ++v)
      b[v] = isa::load(row + v * isa::width);
    b[V - 1] = isa::load(row + (V - 1) * isa::width, last);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const vec x = isa::broadcast(a[static_cast<long>(r) * lda + p]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        acc[r][v] = isa::fma(x, b[v], acc[r][v]);
    }
  }
  vec bias_v[V];
#pragma GCC unroll 4
  for (int v = 0; v + 1 < V; ++v)
    bias_v[v] = isa::load(bias + v * isa::width);
  bias_v[V - 1] = isa::load(bias + (V - 1) * isa::width, last);
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

/// Rows R of one column block of V vectors.
template <class isa, int R>
inline void rows_of_block(int vectors, int k, const float* a, int lda, const float* w, int n,
                          const float* bias, bool relu, float* c, typename isa::mask last) {
  static_assert(isa::tile_vectors == 4 || isa::tile_vectors == 2, "tile widths handled below");
  switch (vectors) {
    case 1: return tile<isa, R, 1>(k, a, lda, w, n, bias, relu, c, last);
    case 2: return tile<isa, R, 2>(k, a, lda, w, n, bias, relu, c, last);
    case 3: if constexpr (isa::tile_vectors >= 3) return tile<isa, R, 3>(k, a, lda, w, n, bias, relu, c, last); break;
    case 4: if constexpr (isa::tile_vectors >= 4) return tile<isa, R, 4>(k, a, lda, w, n, bias, relu, c, last); break;
    default: break;
  }
}

/// The rows left after the full tiles: fewer than tile_rows.
template <class isa, int R = isa::tile_rows - 1>
inline void remaining_rows(int rows, int vectors, int k, const float* a, int lda, const float* w,
                           int n, const float* bias, bool relu, float* c,
                           typename isa::mask last) {
  if constexpr (R > 0) {
    if (rows == R)
      return rows_of_block<isa, R>(vectors, k, a, lda, w, n, bias, relu, c, last);
    remaining_rows<isa, R - 1>(rows, vectors, k, a, lda, w, n, bias, relu, c, last);
  }
}

/// The whole product, column block by column block (the block's weights stay in cache
/// while every row tile passes over them).
template <class isa>
void dense_forward(int m, int n, int k, const float* a, int lda, const float* w,
                   const float* bias, bool relu, float* c) {
  constexpr int block = isa::tile_vectors * isa::width;
  for (int j = 0; j < n; j += block) {
    const int cols = n - j < block ? n - j : block;
    const int vectors = (cols + isa::width - 1) / isa::width;
    const auto last = isa::lanes(cols - (vectors - 1) * isa::width);
    int i = 0;
    for (; i + isa::tile_rows <= m; i += isa::tile_rows)
      rows_of_block<isa, isa::tile_rows>(vectors, k, a + static_cast<long>(i) * lda, lda, w + j,
                                         n, bias + j, relu, c + static_cast<long>(i) * n + j,
                                         last);
    if (i < m)
      remaining_rows<isa>(m - i, vectors, k, a + static_cast<long>(i) * lda, lda, w + j, n,
                          bias + j, relu, c + static_cast<long>(i) * n + j, last);
  }
}

} // namespace
