// compute/replayed_step: when a step runs eagerly, is recorded, is replayed, and what
// happens when the backend cannot record or a recording fails. The CUDA backend's own
// recordings (CUDA graphs) are checked against eager steps in cuda_backend_test.cpp.
#include "compute/cpu/cpu_backend.hpp"
#include "compute/model.hpp"
#include "compute/model_spec.hpp"
#include "compute/optimizer.hpp"
#include "compute/replayed_step.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

using namespace conveyor::compute;

namespace {

/// The CPU backend with recordings: record() keeps the body without running it (as a
/// device records without executing) and replay() runs it; `fail_next` makes the next
/// record() throw, as a CUDA capture abandoned by an allocation does.
class recording_cpu final : public backend {
public:
  int recorded = 0, replayed = 0;
  bool fail_next = false;

  std::unique_ptr<recording> record(const std::function<void()>& body) override {
    if (fail_next) {
      fail_next = false;
      throw std::runtime_error("scratch memory grew while recording");
    }
    ++recorded;
    struct kept final : recording {
      recording_cpu* owner;
      std::function<void()> body;
      void replay() override {
        ++owner->replayed;
        body();
      }
    };
    auto r = std::make_unique<kept>();
    r->owner = this;
    r->body = body;
    return r;
  }

  const char* name() const noexcept override { return "recording-cpu"; }
  std::string describe() const override { return cpu.describe(); }
  bool host_memory() const noexcept override { return true; }
  void set_threads(int n) override { cpu.set_threads(n); }
  int threads() const override { return cpu.threads(); }
  buffer allocate(std::size_t n) override { return buffer(this, cpu.allocate(n).detach(), n); }
  void copy_from_host(float* d, const float* s, std::size_t n) override { cpu.copy_from_host(d, s, n); }
  void copy_to_host(float* d, const float* s, std::size_t n) override { cpu.copy_to_host(d, s, n); }
  void copy(float* d, const float* s, std::size_t n) override { cpu.copy(d, s, n); }
  void fill(float* d, float v, std::size_t n) override { cpu.fill(d, v, n); }
  void gather_rows(int r, int c, const float* t, const float* i, float* o) override {
    cpu.gather_rows(r, c, t, i, o);
  }
  void gemm(bool ta, bool tb, int m, int n, int k, float al, const float* a, int lda,
            const float* b, int ldb, float be, float* c, int ldc) override {
    cpu.gemm(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
  }
  void bias_activation(activation a, int r, int c, const float* b, float* z) override {
    cpu.bias_activation(a, r, c, b, z);
  }
  void activation_backward(activation a, std::size_t n, const float* y, float* g) override {
    cpu.activation_backward(a, n, y, g);
  }
  void column_sums(int r, int c, const float* a, float b, float* o) override {
    cpu.column_sums(r, c, a, b, o);
  }
  void softmax_rows(int r, int c, float* z) override { cpu.softmax_rows(r, c, z); }
  void sigmoid(std::size_t n, float* z) override { cpu.sigmoid(n, z); }
  void softmax_cross_entropy(int r, int c, const float* l, const float* y, float s, float* g,
                             float* loss) override {
    cpu.softmax_cross_entropy(r, c, l, y, s, g, loss);
  }
  void sigmoid_binary_cross_entropy(int r, const float* l, const float* y, float s, float* g,
                                    float* loss) override {
    cpu.sigmoid_binary_cross_entropy(r, l, y, s, g, loss);
  }
  void squared_error(std::size_t n, const float* p, const float* t, float s, float* g,
                     float* loss) override {
    cpu.squared_error(n, p, t, s, g, loss);
  }
  void axpy(std::size_t n, float a, const float* x, float* y) override { cpu.axpy(n, a, x, y); }
  void scale(std::size_t n, float a, float* x) override { cpu.scale(n, a, x); }
  void add_dot(std::size_t n, float a, const float* x, const float* y, float* o) override {
    cpu.add_dot(n, a, x, y, o);
  }
  void sgd_momentum_update(std::size_t n, float lr, float m, float* w, const float* g,
                           float* v) override {
    cpu.sgd_momentum_update(n, lr, m, w, g, v);
  }
  void adam_update(std::size_t n, float lr, float b1, float b2, float eps, long long step,
                   float* w, const float* g, float* m, float* v) override {
    cpu.adam_update(n, lr, b1, b2, eps, step, w, g, m, v);
  }
  void release(float* data, std::size_t n) noexcept override {
    buffer(&cpu, data, n); // the CPU backend's memory, returned through it
  }

private:
  cpu_backend cpu;
};

replayed_step::key key_of(int n) { return {static_cast<std::uintptr_t>(n), 0, 0, 0, 0, 0}; }

} // namespace

BOOST_AUTO_TEST_SUITE(replayed_step_runs)

BOOST_AUTO_TEST_CASE(a_backend_that_cannot_record_runs_every_step_eagerly) {
  cpu_backend cpu;
  replayed_step step;
  int runs = 0;
  for (int i = 0; i < 5; ++i) step.run(cpu, key_of(1), [&] { ++runs; });
  BOOST_TEST(runs == 5);
  BOOST_TEST(step.recordings() == 0u);
  BOOST_TEST(step.replays() == 0u);
}

BOOST_AUTO_TEST_CASE(the_first_step_of_a_key_is_eager_the_second_recorded_and_later_replayed) {
  recording_cpu be;
  replayed_step step;
  int runs = 0;
  const auto body = [&runs] { ++runs; };
  step.run(be, key_of(1), body);
  BOOST_TEST(runs == 1);
  BOOST_TEST(be.recorded == 0);
  step.run(be, key_of(1), body); // recorded (not run), then replayed: runs once
  BOOST_TEST(runs == 2);
  BOOST_TEST(be.recorded == 1);
  BOOST_TEST(be.replayed == 1);
  for (int i = 0; i < 3; ++i) step.run(be, key_of(1), body);
  BOOST_TEST(runs == 5);
  BOOST_TEST(be.recorded == 1);
  BOOST_TEST(be.replayed == 4);
  BOOST_TEST(step.replays() == 4u);
  // another key: eager first, then its own recording; the first key's is kept
  step.run(be, key_of(2), body);
  step.run(be, key_of(2), body);
  step.run(be, key_of(1), body);
  BOOST_TEST(runs == 8);
  BOOST_TEST(be.recorded == 2);
  BOOST_TEST(be.replayed == 6);
}

BOOST_AUTO_TEST_CASE(more_keys_than_its_capacity_drop_the_oldest_recording) {
  recording_cpu be;
  replayed_step step;
  int runs = 0;
  const auto body = [&runs] { ++runs; };
  const int keys = static_cast<int>(replayed_step::capacity) + 1;
  for (int k = 0; k < keys; ++k) step.run(be, key_of(k), body);
  // key 0 was dropped: eager again (no replay); the newest is still known: recorded
  const int replayed_before = be.replayed;
  step.run(be, key_of(0), body);
  BOOST_TEST(be.replayed == replayed_before);
  step.run(be, key_of(keys - 1), body);
  BOOST_TEST(be.replayed == replayed_before + 1);
  BOOST_TEST(runs == keys + 2);
}

BOOST_AUTO_TEST_CASE(a_failed_recording_leaves_its_key_eager_with_the_reason) {
  recording_cpu be;
  replayed_step step;
  int runs = 0;
  const auto body = [&runs] { ++runs; };
  step.run(be, key_of(1), body);
  be.fail_next = true;
  step.run(be, key_of(1), body); // the recording fails: the step still runs, eagerly
  BOOST_TEST(runs == 2);
  BOOST_TEST(step.failures() == 1u);
  BOOST_TEST(step.last_failure() == "scratch memory grew while recording");
  for (int i = 0; i < 3; ++i) step.run(be, key_of(1), body);
  BOOST_TEST(runs == 5);
  BOOST_TEST(be.recorded == 0); // never tried again for this key
  BOOST_TEST(be.replayed == 0);
}

BOOST_AUTO_TEST_CASE(training_through_replays_gives_the_eager_models_parameters) {
  model_spec spec;
  spec.kind = "mlp";
  spec.layers = {12, 16, 3};
  spec.seed = 5;
  spec = validate(spec);
  // the same backend class for both, so both take the same (generic backend) path
  recording_cpu be, eager_be;
  model replayed(spec, be), eager(spec, eager_be);
  optimizer_spec os;
  os.learning_rate = 0.1f;
  optimizer opt_r(os, replayed.parameter_count(), be), opt_e(os, eager.parameter_count(), eager_be);
  const int rows = 8;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(rows * 12), y(rows);
  replayed_step step;
  for (int s = 0; s < 10; ++s) {
    // new contents in the same buffers: what a recording may see change
    for (auto& v : x) v = u(rng);
    for (int r = 0; r < rows; ++r) y[static_cast<std::size_t>(r)] = static_cast<float>((r + s) % 3);
    step.run(be, key_of(rows),
             [&] { replayed.compute_gradients_in_backend(x.data(), y.data(), rows); });
    replayed.apply(opt_r);
    eager.compute_gradients_in_backend(x.data(), y.data(), rows);
    eager.apply(opt_e);
  }
  BOOST_TEST(step.replays() == 9u);
  BOOST_TEST(replayed.parameters_to_host() == eager.parameters_to_host(),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
