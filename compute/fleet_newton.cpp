#include "compute/fleet_newton.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

// The loops over rows are dot products and AXPYs over contiguous floats: `omp simd`
// reductions (-fopenmp-simd, no OpenMP runtime) vectorise them without fast-math, and
// each such function is compiled once per instruction set and picked at load time
// (target_clones), so the library runs on any x86-64 and uses FMA and AVX-512 where
// present.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CONVEYOR_NEWTON_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CONVEYOR_NEWTON_CLONES
#endif

namespace conveyor::compute {

namespace {

/// z[r] = x_r . w + b for every row, four features per pass over z.
CONVEYOR_NEWTON_CLONES
void logits(const newton_rows& d, const float* params, float* z) {
  const float bias = params[d.features];
  std::fill(z, z + d.rows, bias);
  const auto column = [&](int a) { return d.x + static_cast<std::size_t>(a) * d.stride; };
  int a = 0;
  for (; a + 4 <= d.features; a += 4) {
    const float *c0 = column(a), *c1 = column(a + 1), *c2 = column(a + 2), *c3 = column(a + 3);
    const float w0 = params[a], w1 = params[a + 1], w2 = params[a + 2], w3 = params[a + 3];
#pragma omp simd
    for (int r = 0; r < d.rows; ++r)
      z[r] += w0 * c0[r] + w1 * c1[r] + w2 * c2[r] + w3 * c3[r];
  }
  for (; a < d.features; ++a) {
    const float w = params[a];
    const float* c0 = column(a);
#pragma omp simd
    for (int r = 0; r < d.rows; ++r)
      z[r] += w * c0[r];
  }
}

// The helpers below are always inlined: GCC inlines a plain function into a target clone
// only when forced, and the loops that call them vectorise only with them inlined.
[[gnu::always_inline]] inline float bits_to_float(std::int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

[[gnu::always_inline]] inline std::int32_t float_to_bits(float f) {
  std::int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

/// exp(x) for x <= 0 (Cephes' expf polynomial, within 2 ulp of std::exp), branch-free so
/// that loops over rows vectorise; std::exp is a library call per row, which cost more
/// than all of an iteration's multiply-adds.
[[gnu::always_inline]] inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  // n = x / ln 2 rounded to the nearest integer: adding and subtracting 1.5 * 2^23 rounds
  // (no call to floor, which keeps the loop from vectorising)
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * bits_to_float((static_cast<std::int32_t>(n) + 127) << 23);
}

/// log(1 + e) for 0 <= e <= 1 (Cephes' logf polynomial on 1 + e, within 2 ulp of
/// std::log1p where 1 + e is not rounded to 1), branch-free like exp_nonpositive.
[[gnu::always_inline]] inline float log1p_unit(float e) {
  const std::int32_t bits = float_to_bits(1.0f + e);
  float exponent = static_cast<float>(((bits >> 23) & 0xff) - 126);
  float m = bits_to_float((bits & 0x807fffff) | 0x3f000000); // in [0.5, 1)
  const bool low = m < 0.707106781186547524f;
  exponent = low ? exponent - 1.0f : exponent;
  m = low ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z - 2.12194440e-4f * exponent - 0.5f * z;
  return m + y + 0.693359375f * exponent;
}

/// e[r] = exp(-|z[r]|) and l[r] = log(1 + e[r]) for every row: the logistic loss's
/// transcendental parts, each in a loop of its own (with both in one loop, or inside the
/// loops below, g++ 12 gives up vectorising it).
CONVEYOR_NEWTON_CLONES
void exp_terms(const float* z, int rows, float* e) {
#pragma omp simd
  for (int r = 0; r < rows; ++r)
    e[r] = exp_nonpositive(-std::fabs(z[r]));
}

CONVEYOR_NEWTON_CLONES
void log1p_terms(const float* e, int rows, float* l) {
#pragma omp simd
  for (int r = 0; r < rows; ++r)
    l[r] = log1p_unit(e[r]);
}

/// Scratch for the transcendental parts of the logistic loss, per thread.
struct logistic_scratch {
  std::vector<float> e, l;
  void fill(const float* z, int rows) {
    e.resize(static_cast<std::size_t>(rows));
    l.resize(static_cast<std::size_t>(rows));
    exp_terms(z, rows, e.data());
    log1p_terms(e.data(), rows, l.data());
  }
};

/// The sum of the rows' losses at logits z.
CONVEYOR_NEWTON_CLONES
double losses(newton_loss kind, const newton_rows& d, const float* z) {
  double sum = 0;
  if (kind == newton_loss::logistic) {
    thread_local logistic_scratch t;
    t.fill(z, d.rows);
    const float* l = t.l.data();
#pragma omp simd reduction(+ : sum)
    for (int r = 0; r < d.rows; ++r) {
      const float v = z[r];
      sum += (v > 0.0f ? v : 0.0f) - v * d.y[r] + l[r];
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (int r = 0; r < d.rows; ++r) {
      const float diff = z[r] - d.y[r];
      sum += static_cast<double>(diff) * diff;
    }
  }
  return sum;
}

/// losses(), and turns z into the loss's first derivatives and fills h with its second
/// ones, both scaled by 1 / rows.
CONVEYOR_NEWTON_CLONES
double losses_and_derivatives(newton_loss kind, const newton_rows& d, float* z, float* h) {
  const float scale = 1.0f / static_cast<float>(d.rows);
  double sum = 0;
  if (kind == newton_loss::logistic) {
    thread_local logistic_scratch t;
    t.fill(z, d.rows);
    const float *e = t.e.data(), *l = t.l.data();
#pragma omp simd reduction(+ : sum)
    for (int r = 0; r < d.rows; ++r) {
      const float v = z[r], er = e[r];
      sum += (v > 0.0f ? v : 0.0f) - v * d.y[r] + l[r];
      // both candidates computed, then selected: with a division inside the condition
      // g++ (IEEE traps on) keeps a branch and the loop does not vectorise
      const float q = 1.0f / (1.0f + er), qe = er * q;
      const float p = v >= 0.0f ? q : qe;
      z[r] = (p - d.y[r]) * scale;
      h[r] = p * (1.0f - p) * scale;
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (int r = 0; r < d.rows; ++r) {
      const float diff = z[r] - d.y[r];
      sum += static_cast<double>(diff) * diff;
      z[r] = 2.0f * diff * scale;
      h[r] = 2.0f * scale;
    }
  }
  return sum;
}

/// The gradient of the mean loss (g, features + 1 entries, bias last) from the rows'
/// first derivatives.
CONVEYOR_NEWTON_CLONES
void gradient(const newton_rows& d, const float* first, double* g) {
  const int f = d.features, rows = d.rows;
  for (int a = 0; a < f; ++a) {
    const float* column = d.x + static_cast<std::size_t>(a) * d.stride;
    float ga = 0;
#pragma omp simd reduction(+ : ga)
    for (int r = 0; r < rows; ++r)
      ga += first[r] * column[r];
    g[a] = ga;
  }
  float gb = 0;
#pragma omp simd reduction(+ : gb)
  for (int r = 0; r < rows; ++r)
    gb += first[r];
  g[f] = gb;
}

/// The upper triangle of the mean loss's Hessian (row-major n x n, n = features + 1, bias
/// last) from the rows' second derivatives; `scaled` is scratch of features x rows floats.
CONVEYOR_NEWTON_CLONES
void hessian(const newton_rows& d, const float* second, float* scaled, double* out) {
  const int f = d.features, n = f + 1, rows = d.rows;
  const auto un = static_cast<std::size_t>(n);
  const auto column = [&](int b) { return d.x + static_cast<std::size_t>(b) * d.stride; };
  for (int a = 0; a < f; ++a) {
    const float* c = column(a);
    float* s = scaled + static_cast<std::size_t>(a) * rows;
    float ha = 0;
#pragma omp simd reduction(+ : ha)
    for (int r = 0; r < rows; ++r) {
      s[r] = second[r] * c[r];
      ha += s[r];
    }
    out[static_cast<std::size_t>(a) * un + f] = ha;
  }
  float hb = 0;
#pragma omp simd reduction(+ : hb)
  for (int r = 0; r < rows; ++r)
    hb += second[r];
  out[static_cast<std::size_t>(f) * un + f] = hb;
  // H[a][b] = scaled_a . x_b for b >= a, four b at a time: four independent sums keep
  // the multiply-add unit busy, where one sum waits on its own latency every row.
  for (int a = 0; a < f; ++a) {
    const float* s = scaled + static_cast<std::size_t>(a) * rows;
    double* row = out + static_cast<std::size_t>(a) * un;
    int b = a;
    for (; b + 4 <= f; b += 4) {
      const float *c0 = column(b), *c1 = column(b + 1), *c2 = column(b + 2), *c3 = column(b + 3);
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int r = 0; r < rows; ++r) {
        s0 += s[r] * c0[r];
        s1 += s[r] * c1[r];
        s2 += s[r] * c2[r];
        s3 += s[r] * c3[r];
      }
      row[b] = s0;
      row[b + 1] = s1;
      row[b + 2] = s2;
      row[b + 3] = s3;
    }
    for (; b < f; ++b) {
      const float* c0 = column(b);
      float s0 = 0;
#pragma omp simd reduction(+ : s0)
      for (int r = 0; r < rows; ++r)
        s0 += s[r] * c0[r];
      row[b] = s0;
    }
  }
}

/// Solves A s = g for symmetric positive definite A (n x n, row-major, upper triangle
/// read) by Cholesky, in place of g. A is overwritten with its factor.
void cholesky_solve(double* a, int n, double* g) {
  const auto at = [n](int r, int c) { return static_cast<std::size_t>(r) * n + c; };
  for (int j = 0; j < n; ++j) {
    double d = a[at(j, j)];
    for (int k = 0; k < j; ++k)
      d -= a[at(k, j)] * a[at(k, j)];
    d = std::sqrt(std::max(d, 1e-300));
    a[at(j, j)] = d;
    for (int i = j + 1; i < n; ++i) {
      double t = a[at(j, i)];
      for (int k = 0; k < j; ++k)
        t -= a[at(k, j)] * a[at(k, i)];
      a[at(j, i)] = t / d; // U[j][i], A = U^T U
    }
  }
  for (int i = 0; i < n; ++i) { // U^T t = g
    double t = g[i];
    for (int k = 0; k < i; ++k)
      t -= a[at(k, i)] * g[k];
    g[i] = t / a[at(i, i)];
  }
  for (int i = n - 1; i >= 0; --i) { // U s = t
    double t = g[i];
    for (int k = i + 1; k < n; ++k)
      t -= a[at(i, k)] * g[k];
    g[i] = t / a[at(i, i)];
  }
}

double penalty(const float* params, int features, float l2) {
  double sum = 0;
  for (int a = 0; a < features; ++a)
    sum += static_cast<double>(params[a]) * params[a];
  return 0.5 * l2 * sum;
}

} // namespace

double newton_mean_loss(newton_loss kind, const newton_rows& data, const float* params) {
  thread_local std::vector<float> z;
  z.resize(static_cast<std::size_t>(data.rows));
  logits(data, params, z.data());
  return losses(kind, data, z.data()) / data.rows;
}

double newton_iteration(newton_loss kind, const newton_rows& data, float l2, double tolerance,
                        float* params, newton_state& state) {
  const int f = data.features, n = f + 1;
  const auto un = static_cast<std::size_t>(n);
  thread_local std::vector<float> z, h, scaled;
  z.resize(static_cast<std::size_t>(data.rows));
  h.resize(static_cast<std::size_t>(data.rows));
  logits(data, params, z.data());
  const double j =
    losses_and_derivatives(kind, data, z.data(), h.data()) / data.rows + penalty(params, f, l2);
  if (state.stepped && j > state.objective + 1e-7 * std::max(1.0, std::fabs(state.objective))) {
    // The step overshot: go back half of it, or stop at the previous point.
    if (++state.halvings > newton_max_halvings) {
      std::copy(state.previous.begin(), state.previous.end(), params);
      state.converged = true;
      return j;
    }
    for (std::size_t a = 0; a < un; ++a)
      params[a] = 0.5f * (params[a] + state.previous[a]);
    return j;
  }
  state.objective = j;

  std::array<double, newton_max_features + 1> g{};
  gradient(data, z.data(), g.data());
  double gmax = 0;
  for (int k = 0; k < n; ++k) {
    if (k < f)
      g[static_cast<std::size_t>(k)] += static_cast<double>(l2) * params[k];
    gmax = std::max(gmax, std::fabs(g[static_cast<std::size_t>(k)]));
  }
  state.gradient_max = gmax;
  if (gmax < tolerance) {
    state.converged = true;
    return j;
  }
  // (H + l2 I_w + a tiny ridge) s = g; the ridge keeps a direction no row spans (a
  // feature that is zero in all of the slot's rows) solvable.
  scaled.resize(static_cast<std::size_t>(f) * data.rows);
  thread_local std::vector<double> a;
  a.assign(un * un, 0.0);
  hessian(data, h.data(), scaled.data(), a.data());
  double largest = 0;
  for (std::size_t k = 0; k < un * un; ++k)
    largest = std::max(largest, std::fabs(a[k]));
  for (int k = 0; k < n; ++k)
    a[static_cast<std::size_t>(k) * un + k] += (k < f ? l2 : 0.0) + 1e-9 * (1.0 + largest);
  cholesky_solve(a.data(), n, g.data());
  state.previous.assign(params, params + n);
  for (int k = 0; k < n; ++k)
    params[k] -= static_cast<float>(g[static_cast<std::size_t>(k)]);
  state.stepped = true;
  state.halvings = 0;
  return j;
}

} // namespace conveyor::compute
