// Helper of plugin_loading_test: a fresh process that either trains and predicts a small
// model on the CPU (`plugin_probe cpu`) or asks for GPUs (`plugin_probe gpu`), then
// prints whether the CUDA plugin is loaded and which GPU libraries its address space
// maps. Output: "loaded 0|1", "gpus N", "why TEXT", "mapped NAME..." (one line).
#include "compute/backend_factory.hpp"
#include "compute/model.hpp"
#include "compute/optimizer.hpp"

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace conveyor::compute;

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "cpu";
  if (mode == "cpu") {
    auto be = make_backend("cpu");
    model_spec spec;
    spec.kind = "mlp";
    spec.layers = {4, 8, 3};
    model m(validate(spec), *be);
    optimizer opt(optimizer_spec{}, m.parameter_count(), *be);
    std::vector<float> x(16 * 4, 0.5f), y(16, 1.0f), out(16 * 3);
    m.compute_gradients(x.data(), y.data(), 16);
    opt.step(m.parameters(), m.gradients());
    m.predict(x.data(), 16, out.data());
  } else {
    std::string why;
    const int gpus = gpu_count(&why);
    std::printf("gpus %d\nwhy %s\n", gpus, why.c_str());
  }
  std::printf("loaded %d\n", cuda_plugin_loaded() ? 1 : 0);
  std::set<std::string> mapped;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  for (const char* lib : {"libconveyor_cuda", "libcublas", "libnccl", "libcudart", "libcuda.so"})
    mapped.insert(std::string("-") + lib);
  std::vector<std::string> seen;
  while (std::getline(maps, line))
    for (const char* lib : {"libconveyor_cuda", "libcublas", "libnccl", "libcudart", "libcuda.so"})
      if (line.find(lib) != std::string::npos && mapped.erase(std::string("-") + lib))
        seen.push_back(lib);
  std::printf("mapped");
  for (const auto& s : seen) std::printf(" %s", s.c_str());
  std::printf("\n");
  return 0;
}
