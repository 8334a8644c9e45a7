// The trainer on GPUs: one GPU reaches the weights of one CPU replica, every precision
// learns, a group of GPUs (NCCL, one replica per GPU) matches one GPU, and the GPUs'
// energy is reported where NVML reads it. Tolerance against the CPU: 1e-4 absolute on
// the weights (fp32 products differ in their last bits, over 36 steps). Skipped without
// a usable GPU; the group case also without a second GPU.
#include "actors/trainer.hpp"
#include "compute/backend_factory.hpp"
#include "compute/model_file.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <random>

using namespace conveyor;
namespace utf = boost::unit_test;

namespace {

boost::test_tools::assertion_result gpus(int wanted) {
  std::string why;
  const int n = compute::gpu_count(&why);
  if (n >= wanted) return true;
  boost::test_tools::assertion_result r(false);
  r.message() << "needs " << wanted << " usable GPU(s), has " << n << (why.empty() ? "" : ": ")
              << why;
  return r;
}
boost::test_tools::assertion_result one_gpu(utf::test_unit_id) { return gpus(1); }
boost::test_tools::assertion_result two_gpus(utf::test_unit_id) { return gpus(2); }

struct group_context : test::fake_context {
  int index = 0;
  int count = 1;
  std::vector<std::deque<peer_message>>* inboxes = nullptr;

  int replica() const override { return index; }
  int replicas() const override { return count; }
  void send_to_peers(std::uint64_t tag, std::shared_ptr<const std::string> data) override {
    for (int r = 0; r < count; ++r)
      if (r != index)
        (*inboxes)[static_cast<std::size_t>(r)].push_back(peer_message{index, tag, data});
  }
};

/// Rows (x0, x1) with label 1 when x0 + x1 > 0, in batches of 40.
std::vector<batch> separable(std::size_t rows) {
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<batch> out;
  for (std::size_t start = 0; start < rows; start += 40) {
    std::vector<float> x0, x1, y;
    for (std::size_t i = start; i < std::min(rows, start + 40); ++i) {
      const float a = n(rng), b = n(rng);
      x0.push_back(a);
      x1.push_back(b);
      y.push_back(a + b > 0 ? 1.0f : 0.0f);
    }
    auto b = test::make_batch({{"x0", x0}, {"x1", x1}, {"y", y}}, {}, "y");
    b.source = "src";
    b.sequence = out.size() + 1;
    b.first_row = start;
    out.push_back(std::move(b));
  }
  return out;
}

std::map<std::string, dsl::value> mlp(const std::string& devices, const std::string& precision) {
  return {{"model", std::string("mlp")},
          {"layers", dsl::value{dsl::list_value{dsl::value{std::int64_t{2}},
                                                dsl::value{std::int64_t{16}},
                                                dsl::value{std::int64_t{2}}}}},
          {"lr", 0.1}, {"momentum", 0.9}, {"batch", 25}, {"epochs", 3},
          {"devices", devices}, {"precision", precision}};
}

/// Trains the group of `devices` to the end (all replicas on this thread, peer messages
/// through inboxes, as the runtime would pass them); replica 0's model and metrics.
std::pair<compute::model_artifact, std::map<std::string, double>>
train(const std::string& devices, const std::string& precision = "fp32") {
  const auto params = mlp(devices, precision);
  const int replicas = parse_devices(devices).count;
  const auto data = separable(300);
  std::vector<std::deque<peer_message>> inboxes(static_cast<std::size_t>(replicas));
  std::vector<group_context> ctx(static_cast<std::size_t>(replicas));
  std::vector<std::unique_ptr<step>> steps;
  std::vector<test::collector> outs(static_cast<std::size_t>(replicas));
  for (int r = 0; r < replicas; ++r) {
    auto& c = ctx[static_cast<std::size_t>(r)];
    c.index = r;
    c.count = replicas;
    c.inboxes = &inboxes;
    step_config config;
    config.name = r == 0 ? "fit" : "fit#" + std::to_string(r);
    config.graph = "gpu_test";
    config.params = test::params_for(trainer_kind(), params);
    config.replica = r;
    config.replicas = replicas;
    steps.push_back(trainer_kind().factory(config));
    steps.back()->open(c);
    for (const auto& b : data)
      steps.back()->consume(0, b, outs[static_cast<std::size_t>(r)]);
    steps.back()->finish(outs[static_cast<std::size_t>(r)]);
  }
  std::vector<bool> running(static_cast<std::size_t>(replicas), true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::find(running.begin(), running.end(), true) != running.end()) {
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < deadline), "the group did not finish");
    for (std::size_t r = 0; r < steps.size(); ++r) {
      while (!inboxes[r].empty()) {
        steps[r]->consume_peer(inboxes[r].front());
        inboxes[r].pop_front();
      }
      if (running[r] && !steps[r]->blocked())
        running[r] = steps[r]->produce(outs[r]);
    }
  }
  BOOST_TEST_REQUIRE(outs[0].models.size() == 1u);
  auto d = compute::model_file::decode(*outs[0].models[0].artifact);
  BOOST_TEST_REQUIRE(bool(d), d.error);
  return {*d.value, ctx[0].metrics};
}

double worst_difference(const std::vector<float>& a, const std::vector<float>& b) {
  BOOST_TEST_REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

} // namespace

BOOST_AUTO_TEST_SUITE(trainer_on_gpus, *utf::precondition(one_gpu))

BOOST_AUTO_TEST_CASE(one_gpu_reaches_the_weights_of_one_cpu_replica) {
  const auto cpu = train("cpu:1");
  const auto gpu = train("gpu:0");
  BOOST_TEST(worst_difference(gpu.first.weights, cpu.first.weights) < 1e-4);
  BOOST_TEST(gpu.second.at("steps") == 36.0); // ceil(300 / 25) * 3
  BOOST_TEST(std::fabs(gpu.second.at("loss") - cpu.second.at("loss")) < 1e-4);
  if (compute::gpu_energy_joules(0) >= 0) // NVML present
    BOOST_TEST(gpu.second.count("gpu_joules") == 1u);
  else
    BOOST_TEST(gpu.second.count("gpu_joules") == 0u);
}

BOOST_AUTO_TEST_CASE(every_precision_learns_the_separable_data) {
  const double first_loss = std::log(2.0); // an untrained two-class model
  for (const char* p : {"fp32", "tf32", "bf16"}) {
    const auto gpu = train("gpu:0", p);
    BOOST_TEST(gpu.second.at("loss") < 0.5 * first_loss, p << " loss " << gpu.second.at("loss"));
  }
}

BOOST_AUTO_TEST_CASE(a_group_of_gpus_matches_one_gpu_over_nccl, *utf::precondition(two_gpus)) {
  const auto one = train("gpu:0");
  const auto group = train("gpu:0,1");
  BOOST_TEST(worst_difference(group.first.weights, one.first.weights) < 1e-4);
  BOOST_TEST(group.second.at("steps") == 36.0);
}

BOOST_AUTO_TEST_SUITE_END()
