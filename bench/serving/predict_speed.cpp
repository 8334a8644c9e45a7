// predict_speed: how long a served model takes to compute a batch, by batch size: the
// preprocessing pass (feature_builder::build) and the forward pass (model::predict),
// timed separately on the rows of a dataset-shaped random input. The compute a server
// does per batch, without sockets or threads.
#include "serving/model_catalog.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <random>

int main(int argc, char** argv) {
  std::string path;
  std::vector<std::uint32_t> sizes{1, 2, 3, 4, 8, 16, 32, 64};
  double seconds = 0.3;
  CLI::App app{"predict_speed: time a model file's preprocessing and forward pass per batch size"};
  app.add_option("model", path, "a model file")->required();
  app.add_option("--rows", sizes, "batch sizes")->capture_default_str();
  app.add_option("--seconds", seconds, "time per batch size")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto a = conveyor::compute::model_file::load(path);
  if (!a) {
    std::cerr << "predict_speed: " << a.error << '\n';
    return 2;
  }
  conveyor::compute::set_blas_threads(1);
  conveyor::serving::served_model m("m", 1, *a.value);
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> pixel(0, 255);
  std::cout << "rows  build us  predict us  us/row\n";
  for (auto rows : sizes) {
    std::vector<float> raw(std::size_t{rows} * m.input_width()), features,
      out(std::size_t{rows} * m.output_width());
    for (auto& v : raw)
      v = pixel(gen);
    conveyor::compute::predict_workspace ws;
    using clock = std::chrono::steady_clock;
    std::chrono::nanoseconds build{0}, predict{0};
    std::uint64_t n = 0;
    const auto until = clock::now() + std::chrono::duration<double>(seconds);
    while (clock::now() < until) {
      const auto t0 = clock::now();
      m.features.build(raw.data(), rows, features);
      const auto t1 = clock::now();
      m.net.predict(features.data(), static_cast<int>(rows), out.data(), ws);
      const auto t2 = clock::now();
      build += t1 - t0;
      predict += t2 - t1;
      ++n;
    }
    const double b = build.count() / 1e3 / n, p = predict.count() / 1e3 / n;
    std::printf("%4u %9.2f %11.2f %7.2f\n", rows, b, p, (b + p) / rows);
  }
}
