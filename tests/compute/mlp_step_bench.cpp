// Times training steps (forward, backward, SGD-momentum update) of the Fashion-MNIST MLP
// 784-256-128-10 (relu) on random data, for batch 128 and 512 with 1 and 2 BLAS threads,
// and prints samples/s. Not a test: timings depend on the machine. Usage:
//   mlp_step_bench [seconds per configuration, default 2]
#include "compute/model.hpp"
#include "compute/optimizer.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace conveyor::compute;

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const int dataset_rows = 8192;
  std::mt19937_64 gen(1);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> x(static_cast<std::size_t>(dataset_rows) * 784), y(dataset_rows);
  for (auto& v : x) v = u(gen);
  for (auto& v : y) v = static_cast<float>(gen() % 10);

  std::printf("%-8s %-8s %12s %10s %10s\n", "batch", "threads", "samples/s", "ms/step", "loss");
  for (int threads : {1, 2})
    for (int batch : {128, 512}) {
      set_blas_threads(threads);
      model_spec s;
      s.kind = "mlp";
      s.layers = {784, 256, 128, 10};
      s.hidden = activation::relu;
      s.seed = 1;
      model m(s);
      m.reserve(batch);
      optimizer_spec os;
      os.learning_rate = 0.01f;
      os.momentum = 0.9f;
      optimizer opt(os, m.parameter_count());
      const int batches = dataset_rows / batch;
      float loss = 0;
      for (int i = 0; i < 10; ++i) { // warm-up
        m.compute_gradients(x.data() + static_cast<std::size_t>(i % batches) * batch * 784,
                            y.data() + static_cast<std::size_t>(i % batches) * batch, batch);
        opt.step(m.parameters(), m.gradients());
      }
      long steps = 0;
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      while (elapsed < seconds) {
        const int b = static_cast<int>(steps % batches);
        m.compute_gradients(x.data() + static_cast<std::size_t>(b) * batch * 784,
                            y.data() + static_cast<std::size_t>(b) * batch, batch);
        opt.step(m.parameters(), m.gradients());
        ++steps;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      loss = m.loss_to_host();
      std::printf("%-8d %-8d %12.0f %10.3f %10.4f\n", batch, threads, steps * batch / elapsed,
                  1000.0 * elapsed / steps, loss);
    }
  return 0;
}
