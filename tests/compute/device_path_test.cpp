// The models' and optimizers' path for backends whose memory is not host memory (the
// CUDA backend's), run on the CPU through `checked_device` (checked_device.hpp), which
// refuses any operation given a pointer that is not backend memory. Training, loss
// reads, predictions and optimizer state through it match the plain CPU backend to
// rounding: the device path computes its products with gemm, the CPU's training and
// predictions with its own kernel (compute/cpu/dense_kernel), summing in another order.
#include "checked_device.hpp"
#include "compute/model.hpp"
#include "compute/optimizer.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace conveyor::compute;
using conveyor::compute::testing::checked_device;

namespace {

/// a and b (of equal sizes) agree to float rounding: |a - b| <= 1e-6 + 1e-5 |b|.
void check_close(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    BOOST_TEST_REQUIRE(std::fabs(a[i] - b[i]) <= 1e-6f + 1e-5f * std::fabs(b[i]),
                       what << " " << i << ": " << a[i] << " vs " << b[i]);
}

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(device_memory_path)

BOOST_AUTO_TEST_CASE(models_and_optimizers_train_through_backend_memory_only) {
  struct example { std::string kind; std::vector<int> layers; int classes; optimizer_kind opt; };
  const int rows = 40;
  for (const auto& e : {example{"mlp", {12, 16, 4}, 4, optimizer_kind::sgd},
                        example{"mlp", {12, 6, 1}, 2, optimizer_kind::adam},
                        example{"linear", {12, 2}, 0, optimizer_kind::sgd}}) {
    BOOST_TEST_CONTEXT(e.kind << " " << e.layers.back()) {
      model_spec spec;
      spec.kind = e.kind;
      spec.layers = e.layers;
      spec.seed = 3;
      spec.weight_decay = 1e-3f;
      spec = validate(spec);
      checked_device dev;
      model on_dev(spec, dev), on_cpu(spec);
      optimizer_spec os;
      os.kind = e.opt;
      os.learning_rate = 0.05f;
      os.momentum = 0.9f;
      optimizer opt_dev(os, on_dev.parameter_count(), dev), opt_cpu(os, on_cpu.parameter_count());
      const auto x = random_floats(static_cast<std::size_t>(rows) * e.layers.front(), 1);
      std::vector<float> y;
      if (e.classes > 0)
        for (int r = 0; r < rows; ++r) y.push_back(static_cast<float>(r % e.classes));
      else
        y = random_floats(static_cast<std::size_t>(rows) * e.layers.back(), 2);
      for (int step = 0; step < 3; ++step) {
        on_dev.compute_gradients(x.data(), y.data(), rows, 0.5f);
        on_cpu.compute_gradients(x.data(), y.data(), rows, 0.5f);
        check_close({on_dev.loss_to_host()}, {on_cpu.loss_to_host()}, "loss");
        opt_dev.step(on_dev.parameters(), on_dev.gradients());
        opt_cpu.step(on_cpu.parameters(), on_cpu.gradients());
      }
      check_close(on_dev.parameters_to_host(), on_cpu.parameters_to_host(), "parameter");
      const auto state_dev = opt_dev.state(), state_cpu = opt_cpu.state();
      BOOST_TEST(state_dev.step == state_cpu.step);
      check_close(state_dev.first, state_cpu.first, "first moment");
      check_close(state_dev.second, state_cpu.second, "second moment");
      check_close({on_dev.loss(x.data(), y.data(), rows)}, {on_cpu.loss(x.data(), y.data(), rows)},
                  "loss");
      std::vector<float> pd(static_cast<std::size_t>(rows) * on_dev.output_width()), pc(pd.size());
      on_dev.predict(x.data(), rows, pd.data());
      on_cpu.predict(x.data(), rows, pc.data());
      check_close(pd, pc, "output");
      auto restored = on_dev.parameters_to_host();
      on_dev.set_parameters(restored.data(), restored.size());
      BOOST_TEST(on_dev.parameters_to_host() == restored, boost::test_tools::per_element());
    }
  }
}

// A GPU trainer's step: the dataset in backend memory, the batch's rows gathered there by
// an order of row numbers (floats), then compute_gradients_in_backend; the same gradients
// as compute_gradients on the rows gathered on the host.
BOOST_AUTO_TEST_CASE(gradients_from_rows_gathered_in_backend_memory_match_host_rows) {
  model_spec spec;
  spec.kind = "mlp";
  spec.layers = {5, 7, 3};
  spec.seed = 9;
  spec = validate(spec);
  const int rows = 30, batch = 8;
  const auto x = random_floats(static_cast<std::size_t>(rows) * 5, 3);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[static_cast<std::size_t>(r)] = static_cast<float>(r % 3);
  const std::vector<float> order = {17, 3, 29, 0, 11, 11, 25, 8}; // any rows, repeats too
  std::vector<float> xb, yb;
  for (float r : order) {
    const auto i = static_cast<std::size_t>(r);
    xb.insert(xb.end(), x.begin() + static_cast<long>(i * 5), x.begin() + static_cast<long>(i * 5 + 5));
    yb.push_back(y[i]);
  }
  checked_device dev;
  model on_dev(spec, dev), on_cpu(spec);
  auto dx = dev.allocate(x.size()), dy = dev.allocate(y.size()), dorder = dev.allocate(order.size());
  auto bx = dev.allocate(xb.size()), by = dev.allocate(yb.size());
  dev.copy_from_host(dx.data(), x.data(), x.size());
  dev.copy_from_host(dy.data(), y.data(), y.size());
  dev.copy_from_host(dorder.data(), order.data(), order.size());
  dev.gather_rows(batch, 5, dx.data(), dorder.data(), bx.data());
  dev.gather_rows(batch, 1, dy.data(), dorder.data(), by.data());
  on_dev.compute_gradients_in_backend(bx.data(), by.data(), batch, 0.5f);
  on_cpu.compute_gradients(xb.data(), yb.data(), batch, 0.5f);
  std::vector<float> g(on_dev.reduction_size());
  dev.copy_to_host(g.data(), on_dev.gradients(), g.size());
  const std::vector<float> c(on_cpu.gradients(), on_cpu.gradients() + g.size());
  check_close(g, c, "gradient");
}

BOOST_AUTO_TEST_SUITE_END()
