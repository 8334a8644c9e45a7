// sgemm_peak: the sgemm rate of this machine through conveyor's CPU backend (the same
// OpenBLAS and kernel the trainer uses), the ceiling against which bench/train_mlp puts
// training throughput. Multiplies square n x n matrices for about `seconds` per size and
// prints one JSON line: the kernel, how it was chosen, threads, and the best GFLOP/s.
//   sgemm_peak [--threads T] [--seconds S]
#include "compute/cpu/cpu_backend.hpp"
#include "compute/cpu/openblas.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace conveyor::compute;

int main(int argc, char** argv) {
  int threads = 1;
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: sgemm_peak [--threads T] [--seconds S]\n");
      return 2;
    }
  }
  const auto& k = openblas::kernel();
  if (!k.error.empty()) {
    std::fprintf(stderr, "%s\n", k.error.c_str());
    return 1;
  }
  auto& be = default_cpu_backend();
  be.set_threads(threads);
  double best = 0;
  int best_n = 0;
  for (int n : {512, 1024, 2048}) {
    const auto count = static_cast<std::size_t>(n) * n;
    std::vector<float> a(count, 0.5f), b(count, 0.25f), c(count);
    be.gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); // warm-up
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds / 3) {
      const auto t0 = std::chrono::steady_clock::now();
      be.gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
      const auto t1 = std::chrono::steady_clock::now();
      const double t = std::chrono::duration<double>(t1 - t0).count();
      const double gflops = 2.0 * n * n * static_cast<double>(n) / t / 1e9;
      if (gflops > best) {
        best = gflops;
        best_n = n;
      }
      elapsed = std::chrono::duration<double>(t1 - start).count();
    }
  }
  std::printf("{\"kernel\": \"%s\", \"reason\": \"%s\", \"threads\": %d, \"gflops\": %.2f, \"n\": %d}\n",
              k.corename.c_str(), k.reason.c_str(), threads, best, best_n);
  return 0;
}
