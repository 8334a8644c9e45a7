// The CPU's batched GEMM (cpu_backend::gemm_strided_batched): many products of one shape,
// spread over a process-wide pool of threads, each item computed by one thread. Small
// items (a fleet's per-segment linear models: rows x 20 times 20 x 1) go through an own
// loop, which costs a fraction of an sgemm call's set-up (as do products with one output
// column, which sgemm computes slowly, however many rows); larger ones through sgemm on
// that thread (OpenBLAS runs a product this size single-threaded anyway).
#pragma once

#include <cstddef>
#include <functional>

namespace conveyor::compute::cpu {

/// Items at most this many multiply-adds, or with one output column, use the own loop.
constexpr long long small_gemm_flops = 1 << 16;

/// Batches of at least this many multiply-adds in all are spread over threads.
constexpr long long parallel_gemm_flops = 1 << 18;

/// C = alpha op(A) op(B) + beta C for one item, row-major, by plain loops.
void small_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                int lda, const float* b, int ldb, float beta, float* c, int ldc);

/// Calls fn(i) for every i < count on up to `threads` threads (the caller's included).
/// A pool busy with another caller's items makes this caller run its own inline, and so
/// does a call from inside an item (nested).
void parallel_for(int count, int threads, const std::function<void(int)>& fn);

} // namespace conveyor::compute::cpu
