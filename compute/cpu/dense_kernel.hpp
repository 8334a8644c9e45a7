// The dense layer of a forward pass for a few rows at a time (a server's batches), in
// one pass over the weights as they are stored (row-major k x n, no repacking), bias and
// activation fused.
//
// OpenBLAS's sgemm packs the whole weight matrix before every product: for the few
// rows a server computes at once, packing costs more than the arithmetic (on the
// 784-256-128-10 MLP, 5 to 16 rows took 85 to 125 us through sgemm, 20 to 60 here). This
// kernel keeps a tile of the output in registers (6 rows x 64 columns with AVX-512, 6 x
// 16 with AVX2 + FMA) and streams the weights through it.
//
// Training uses the same tiles for its forward products and, with the left operand read
// transposed, for its weight gradients (A_prev^T dZ: the gradient of a few hundred rows
// of weights over a minibatch of 64 to 512 rows), where sgemm packed both operands.
//
// Results agree with sgemm to rounding (the sums are taken in another order).
#pragma once

#include "compute/backend.hpp"

namespace conveyor::compute::dense_kernel {

/// The instruction sets the kernel is built for, fastest first.
enum class isa { avx512, avx2_fma };

/// Whether this CPU runs the kernel built for `set`.
bool supports(isa set) noexcept;
/// Whether this CPU runs any of them; `forward` may only be called then.
bool available() noexcept;

/// Rows up to which `forward` is faster than sgemm for a lone product (measured on the
/// MLP above: even with 128 rows; from 256 on, sgemm's packing pays for itself).
constexpr int max_rows = 128;

/// c (m x n, row-major) = act(a (m x k, row-major, rows lda apart) w (k x n, row-major)
/// + bias (n)), for act identity or relu, with the fastest instruction set this CPU runs.
void forward(int m, int n, int k, const float* a, int lda, const float* w, const float* bias,
             activation act, float* c) noexcept;
/// The same with the instruction set `set`, which the CPU must support (for tests).
void forward(isa set, int m, int n, int k, const float* a, int lda, const float* w,
             const float* bias, activation act, float* c) noexcept;

/// c (m x n, row-major) = a^T d: `a` is k x m (rows lda apart), d k x n (row-major). A
/// weight gradient A_prev^T dZ over k rows, or a band of m of its rows (a starting at
/// the band's first column). Any m, n, k >= 0.
void transposed_product(int m, int n, int k, const float* a, int lda, const float* d,
                        float* c) noexcept;
/// The same with the instruction set `set`, which the CPU must support (for tests).
void transposed_product(isa set, int m, int n, int k, const float* a, int lda, const float* d,
                        float* c) noexcept;

} // namespace conveyor::compute::dense_kernel
