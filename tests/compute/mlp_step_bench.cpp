// Times training steps (forward, backward, SGD-momentum update) of the Fashion-MNIST MLP
// 784-256-128-10 (relu) on random data, for batch 128 and 512, on one thread, with 2
// OpenBLAS threads per product, and with 2 training threads (the rows split, each part's
// products single-threaded), and prints samples/s. Each step is what a lone trainer
// does: model::compute_gradients_and_apply on the minibatch's rows of a shuffled order
// of the dataset. Not a test: timings depend on the machine. Usage:
//   mlp_step_bench [seconds per configuration, default 2] [BLAS threads, training threads, batch]
// (the last three: that configuration alone, e.g. under perf stat)
#include "compute/model.hpp"
#include "compute/optimizer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>
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
  std::vector<std::uint32_t> order(dataset_rows);
  for (int i = 0; i < dataset_rows; ++i) order[i] = static_cast<std::uint32_t>(i);
  std::shuffle(order.begin(), order.end(), gen);

  std::printf("%-8s %-6s %-6s %12s %10s %10s\n", "batch", "blas", "step", "samples/s", "ms/step",
              "loss");
  std::vector<std::array<int, 3>> configs; // BLAS threads, training threads, batch
  if (argc > 4)
    configs.push_back({std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4])});
  else
    for (const auto& [blas, step_threads] : {std::pair{1, 1}, {2, 1}, {1, 2}})
      for (int batch : {128, 512})
        configs.push_back({blas, step_threads, batch});
  for (const auto& [blas, step_threads, batch] : configs) {
      set_blas_threads(blas);
      model_spec s;
      s.kind = "mlp";
      s.layers = {784, 256, 128, 10};
      s.hidden = activation::relu;
      s.seed = 1;
      model m(s);
      m.reserve(batch);
      m.set_training_threads(step_threads);
      optimizer_spec os;
      os.learning_rate = 0.01f;
      os.momentum = 0.9f;
      optimizer opt(os, m.parameter_count());
      const int batches = dataset_rows / batch;
      float loss = 0;
      for (int i = 0; i < 10; ++i) // warm-up
        m.compute_gradients_and_apply(x.data(), y.data(),
                                      order.data() + static_cast<std::size_t>(i % batches) * batch,
                                      batch, opt);
      long steps = 0;
      const auto start = std::chrono::steady_clock::now();
      double elapsed = 0;
      while (elapsed < seconds) {
        const int b = static_cast<int>(steps % batches);
        m.compute_gradients_and_apply(x.data(), y.data(),
                                      order.data() + static_cast<std::size_t>(b) * batch, batch,
                                      opt);
        ++steps;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
      loss = m.loss_to_host();
      std::printf("%-8d %-6d %-6d %12.0f %10.3f %10.4f\n", batch, blas, step_threads,
                  steps * batch / elapsed,
                  1000.0 * elapsed / steps, loss);
    }
  return 0;
}
