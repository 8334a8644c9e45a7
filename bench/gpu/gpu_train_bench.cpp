// gpu_train_bench: training throughput of the MLP 784-256-128-10 (relu, softmax +
// cross-entropy, SGD momentum 0.9) on one backend, as the trainer runs it: on a device
// backend the dataset is uploaded once and each epoch's shuffled order once per epoch,
// and every step gathers its rows on the device; on the CPU the rows are gathered on
// the host. Then forward + backward and the optimizer update; the loss is read every 16
// steps (the trainer's device_read_every) and at the end. Synthetic data (uniform
// pixels, labels r mod 10): throughput does not depend on the values.
// With NVML present (compute::gpu_energy_joules) it adds the GPU's energy over
// the timed steps and its utilisation. Prints one JSON line per run.
// On a device, `--graphs on` (the default, as in the trainer) replays the forward and
// backward pass from a CUDA graph (compute/replayed_step.hpp), `off` launches every
// kernel; `--data host` keeps the dataset in host memory and uploads each step's rows
// into two alternating buffers, overlapping the previous step (the trainer's path when
// the dataset does not fit on the device). The runner is named after the variant.
//
// Usage: gpu_train_bench [--device cuda:0|cpu] [--batch N]... [--precision P]...
//                        [--seconds S] [--rows N] [--graphs on|off] [--data device|host]
#include "bench/gpu/nvml_meter.hpp"
#include "compute/backend_factory.hpp"
#include "compute/model.hpp"
#include "compute/optimizer.hpp"
#include "compute/replayed_step.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace conveyor::compute;

namespace {

struct options {
  std::string device = "cuda:0";
  std::vector<int> batches;
  std::vector<precision> precisions;
  double seconds = 5;
  int rows = 60000;
  bool graphs = true;
  bool host_data = false;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--device") o.device = value();
    else if (a == "--batch") o.batches.push_back(std::stoi(value()));
    else if (a == "--precision") {
      const auto v = value();
      const auto p = parse_precision(v);
      if (!p) throw std::invalid_argument("--precision " + v + ": fp32, tf32 or bf16");
      o.precisions.push_back(*p);
    } else if (a == "--seconds") o.seconds = std::stod(value());
    else if (a == "--rows") o.rows = std::stoi(value());
    else if (a == "--graphs") {
      const auto v = value();
      if (v != "on" && v != "off") throw std::invalid_argument("--graphs " + v + ": on or off");
      o.graphs = v == "on";
    } else if (a == "--data") {
      const auto v = value();
      if (v != "device" && v != "host")
        throw std::invalid_argument("--data " + v + ": device or host");
      o.host_data = v == "host";
    }
    else throw std::invalid_argument("unknown argument " + a);
  }
  if (o.batches.empty()) o.batches = {256, 4096};
  if (o.precisions.empty()) o.precisions = {precision::fp32};
  return o;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void run(const options& o, int batch, precision p, const std::vector<float>& x,
         const std::vector<float>& y, nvml_meter& meter) {
  auto be = make_backend(o.device, p);
  model_spec spec;
  spec.kind = "mlp";
  spec.layers = {784, 256, 128, 10};
  spec.seed = 42;
  spec = validate(spec);
  model m(spec, *be);
  optimizer_spec os;
  os.learning_rate = 0.05f;
  os.momentum = 0.9f;
  optimizer opt(os, m.parameter_count(), *be);
  m.reserve(batch);
  const int steps_per_epoch = o.rows / batch;
  const auto rows = static_cast<std::size_t>(o.rows);
  std::vector<float> order(rows), xb, yb;
  std::mt19937 shuffle(7);
  const bool device = !be->host_memory();
  const bool resident = device && !o.host_data;
  buffer dx, dy, dorder, bx, by;
  struct upload_pair {
    buffer x, y;
    backend::work_mark read_by = 0;
  };
  upload_pair pairs[2];
  replayed_step graph;
  const auto gradients = [&](const float* gx, const float* gy) {
    const auto body = [&] { m.compute_gradients_in_backend(gx, gy, batch); };
    if (!o.graphs) return body();
    graph.run(*be, {reinterpret_cast<std::uintptr_t>(gx), reinterpret_cast<std::uintptr_t>(gy),
                    static_cast<std::uintptr_t>(batch), 0, 0, 0},
              body);
  };
  if (device && !resident)
    for (auto& pr : pairs) {
      pr.x = be->allocate(static_cast<std::size_t>(batch) * 784);
      pr.y = be->allocate(static_cast<std::size_t>(batch));
    }
  if (resident) {
    dx = be->allocate(x.size());
    dy = be->allocate(y.size());
    dorder = be->allocate(rows);
    bx = be->allocate(static_cast<std::size_t>(batch) * 784);
    by = be->allocate(static_cast<std::size_t>(batch));
    be->copy_from_host(dx.data(), x.data(), x.size());
    be->copy_from_host(dy.data(), y.data(), y.size());
  }
  int at = 0;
  const auto step = [&] {
    const int s = at % steps_per_epoch;
    if (s == 0) { // a new epoch: a new order of the rows
      for (std::size_t i = 0; i < rows; ++i) order[i] = static_cast<float>(i);
      std::shuffle(order.begin(), order.end(), shuffle);
      if (resident) be->copy_from_host(dorder.data(), order.data(), rows);
    }
    const auto off = static_cast<std::size_t>(s) * batch;
    if (resident) {
      be->gather_rows(batch, 784, dx.data(), dorder.data() + off, bx.data());
      be->gather_rows(batch, 1, dy.data(), dorder.data() + off, by.data());
      gradients(bx.data(), by.data());
    } else {
      xb.resize(static_cast<std::size_t>(batch) * 784);
      yb.resize(static_cast<std::size_t>(batch));
      for (int r = 0; r < batch; ++r) {
        const auto src = static_cast<std::size_t>(order[off + static_cast<std::size_t>(r)]);
        std::copy_n(x.data() + src * 784, 784, xb.data() + static_cast<std::size_t>(r) * 784);
        yb[static_cast<std::size_t>(r)] = y[src];
      }
      if (device) { // the trainer's two alternating upload buffers
        auto& pr = pairs[at % 2];
        be->copy_from_host_after(pr.read_by, pr.x.data(), xb.data(), xb.size());
        be->copy_from_host_after(pr.read_by, pr.y.data(), yb.data(), yb.size());
        gradients(pr.x.data(), pr.y.data());
        pr.read_by = be->mark();
      } else {
        m.compute_gradients(xb.data(), yb.data(), batch);
      }
    }
    opt.step(m.parameters(), m.gradients());
    ++at;
    if (at % 16 == 0) m.loss_to_host();
  };
  for (int i = 0; i < 20; ++i) step(); // warm-up: pools, cuBLAS heuristics
  float loss = m.loss_to_host();
  const auto energy_before = meter.energy_joules();
  meter.start_utilisation();
  const double start = now();
  std::size_t samples = 0;
  while (now() - start < o.seconds) {
    for (int i = 0; i < 16; ++i) step();
    samples += 16 * static_cast<std::size_t>(batch);
  }
  loss = m.loss_to_host();
  const double seconds = now() - start;
  const auto energy_after = meter.energy_joules();
  const int util = meter.utilisation_percent();
  const double sps = static_cast<double>(samples) / seconds;
  const char* runner = !device ? "conveyor"
                       : o.host_data ? (o.graphs ? "conveyor-hostdata" : "conveyor-hostdata-eager")
                       : o.graphs ? "conveyor" : "conveyor-eager";
  std::printf("{\"runner\": \"%s\", \"device\": \"%s\", \"describe\": \"%s\", "
              "\"batch\": %d, \"precision\": \"%s\", \"samples_per_second\": %.1f, "
              "\"seconds\": %.3f, \"last_loss\": %.5f, \"graph_replays\": %llu",
              runner, o.device.c_str(), be->describe().c_str(), batch, to_string(p), sps, seconds,
              static_cast<double>(loss), static_cast<unsigned long long>(graph.replays()));
  if (energy_before >= 0 && energy_after >= 0) {
    const double joules = energy_after - energy_before;
    std::printf(", \"joules\": %.1f, \"joules_per_epoch\": %.2f, \"samples_per_joule\": %.1f",
                joules, joules / static_cast<double>(samples) * o.rows,
                static_cast<double>(samples) / joules);
  }
  if (util >= 0) std::printf(", \"gpu_utilisation_percent\": %d", util);
  std::printf("}\n");
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  try {
    const auto o = parse(argc, argv);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> pixel(0, 1);
    std::vector<float> x(static_cast<std::size_t>(o.rows) * 784), y(static_cast<std::size_t>(o.rows));
    for (auto& v : x) v = pixel(rng);
    for (int r = 0; r < o.rows; ++r) y[static_cast<std::size_t>(r)] = static_cast<float>(r % 10);
    nvml_meter meter(o.device.rfind("cuda:", 0) == 0 ? std::atoi(o.device.c_str() + 5) : -1);
    for (const auto p : o.precisions)
      for (const int batch : o.batches) run(o, batch, p, x, y, meter);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_train_bench: %s\n", e.what());
    return 1;
  }
}
