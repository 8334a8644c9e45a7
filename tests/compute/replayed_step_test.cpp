// compute/replayed_step: when a step runs eagerly, is recorded, is replayed, and what
// happens when the backend cannot record or a recording fails. The CUDA backend's own
// recordings (CUDA graphs) are checked against eager steps in cuda_backend_test.cpp.
#include "checked_device.hpp"
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

/// A device on the CPU with recordings: record() keeps the body without running it (as a
/// device records without executing) and replay() runs it; `fail_next` makes the next
/// record() throw, as a CUDA capture abandoned by an allocation does.
class recording_device final : public testing::checked_device {
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
      recording_device* owner;
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
  recording_device be;
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
  recording_device be;
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
  recording_device be;
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
  // the same backend class for both, so both take the same (device) path
  recording_device be, eager_be;
  model replayed(spec, be), eager(spec, eager_be);
  optimizer_spec os;
  os.learning_rate = 0.1f;
  optimizer opt_r(os, replayed.parameter_count(), be), opt_e(os, eager.parameter_count(), eager_be);
  const int rows = 8;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(rows * 12), y(rows);
  auto rx = be.allocate(x.size()), ry = be.allocate(y.size());
  auto ex = eager_be.allocate(x.size()), ey = eager_be.allocate(y.size());
  replayed_step step;
  for (int s = 0; s < 10; ++s) {
    // new contents in the same buffers: what a recording may see change
    for (auto& v : x) v = u(rng);
    for (int r = 0; r < rows; ++r) y[static_cast<std::size_t>(r)] = static_cast<float>((r + s) % 3);
    be.copy_from_host(rx.data(), x.data(), x.size());
    be.copy_from_host(ry.data(), y.data(), y.size());
    step.run(be, key_of(rows),
             [&] { replayed.compute_gradients_in_backend(rx.data(), ry.data(), rows); });
    replayed.apply(opt_r);
    eager_be.copy_from_host(ex.data(), x.data(), x.size());
    eager_be.copy_from_host(ey.data(), y.data(), y.size());
    eager.compute_gradients_in_backend(ex.data(), ey.data(), rows);
    eager.apply(opt_e);
  }
  BOOST_TEST(step.replays() == 9u);
  BOOST_TEST(replayed.parameters_to_host() == eager.parameters_to_host(),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
