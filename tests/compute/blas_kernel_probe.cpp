// Helper of openblas_kernel_test: prints the OpenBLAS kernel this process loaded and the
// worst error of the CPU backend's gemm against a plain triple loop, so that a test can
// start it with another OPENBLAS_CORETYPE (the variable only counts before the library
// loads). Output: "kernel NAME", "reason TEXT", "max_error X".
#include "compute/cpu/cpu_backend.hpp"
#include "compute/cpu/openblas.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace conveyor::compute;

int main() {
  const auto& k = openblas::kernel();
  if (!k.error.empty()) {
    std::printf("error %s\n", k.error.c_str());
    return 1;
  }
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> u(-1, 1);
  double worst = 0;
  for (int m : {1, 5, 64, 129})
    for (int n : {3, 48, 130})
      for (int kk : {7, 256}) {
        std::vector<float> a(static_cast<std::size_t>(m) * kk), b(static_cast<std::size_t>(kk) * n),
            c(static_cast<std::size_t>(m) * n);
        for (auto& v : a) v = u(gen);
        for (auto& v : b) v = u(gen);
        default_cpu_backend().gemm(false, false, m, n, kk, 1.0f, a.data(), kk, b.data(), n, 0.0f,
                                   c.data(), n);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double ref = 0;
            for (int p = 0; p < kk; ++p)
              ref += static_cast<double>(a[static_cast<std::size_t>(i) * kk + p]) *
                     b[static_cast<std::size_t>(p) * n + j];
            worst = std::max(worst, std::fabs(ref - c[static_cast<std::size_t>(i) * n + j]));
          }
      }
  std::printf("kernel %s\nreason %s\nmax_error %g\n", k.corename.c_str(), k.reason.c_str(), worst);
  return 0;
}
