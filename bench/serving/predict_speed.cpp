// predict_speed: how long a served model takes to compute a batch, by batch size: the
// preprocessing pass (feature_builder::build) and the forward pass (model::predict),
// timed separately on random pixels (0 to 255) and reported as the
// median of many calls, which a busy machine disturbs least. The compute a server
// does per batch, without sockets or threads.
#include "serving/model_catalog.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
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
  std::cout << "rows  build us  predict us  us/row   (medians of the calls)\n";
  for (auto rows : sizes) {
    std::vector<float> raw(std::size_t{rows} * m.input_width()), features,
      out(std::size_t{rows} * m.output_width());
    for (auto& v : raw)
      v = pixel(gen);
    conveyor::compute::predict_workspace ws;
    using clock = std::chrono::steady_clock;
    std::vector<double> build, predict; // microseconds per call
    const auto until = clock::now() + std::chrono::duration<double>(seconds);
    while (clock::now() < until) {
      const auto t0 = clock::now();
      m.features.build(raw.data(), rows, features);
      const auto t1 = clock::now();
      m.net.predict(features.data(), static_cast<int>(rows), out.data(), ws);
      const auto t2 = clock::now();
      build.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      predict.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    const auto median = [](std::vector<double>& v) {
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
      return v[v.size() / 2];
    };
    const double b = median(build), p = median(predict);
    std::printf("%4u %9.2f %11.2f %7.2f\n", rows, b, p, (b + p) / rows);
  }
}
