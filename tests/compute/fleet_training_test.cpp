// Fleet training: the batched GEMM agrees with one gemm per item; a fleet learns each
// segment's own rule (beating one shared model on held-out rows); early stopping is per
// segment.
#include "compute/cpu/cpu_backend.hpp"
#include "compute/fleet_training.hpp"
#include "compute/model.hpp"
#include "test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

using namespace conveyor::compute;
using conveyor::compute::test::random_floats;
namespace tt = boost::test_tools;

namespace {

/// Segments of `rows` rows of `features` features; segment s labels a row 1 when
/// x . w_s > 0 (w_s drawn per segment), flipped with probability `noise`.
struct segmented_data {
  std::size_t features = 0;
  std::vector<float> x, y, weights;
  std::vector<std::vector<std::uint32_t>> train, test;
};

segmented_data make_segments(int segments, int rows, int features, double noise, std::uint64_t seed) {
  segmented_data d;
  d.features = static_cast<std::size_t>(features);
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int s = 0; s < segments; ++s) {
    std::vector<float> w(d.features);
    for (auto& v : w) v = normal(gen);
    d.train.emplace_back();
    d.test.emplace_back();
    for (int r = 0; r < rows; ++r) {
      float dot = 0;
      for (std::size_t j = 0; j < d.features; ++j) {
        const float v = normal(gen);
        d.x.push_back(v);
        dot += v * w[j];
      }
      float label = dot > 0 ? 1.0f : 0.0f;
      if (u(gen) < noise) label = 1.0f - label;
      const auto index = static_cast<std::uint32_t>(d.y.size());
      d.y.push_back(label);
      (r % 5 == 4 ? d.test : d.train).back().push_back(index);
    }
  }
  return d;
}

double accuracy(const model_spec& spec, const std::vector<float>& params, const segmented_data& d,
                const std::vector<std::uint32_t>& rows) {
  model m(spec);
  m.set_parameters(params.data(), params.size());
  std::size_t right = 0;
  for (auto r : rows) {
    float p = 0;
    m.predict(d.x.data() + r * d.features, 1, &p);
    right += (p > 0.5f) == (d.y[r] > 0.5f) ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(rows.size());
}

model_spec logistic(int features) {
  model_spec s;
  s.kind = "logistic";
  s.layers = {features};
  return validate(s);
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_training)

BOOST_AUTO_TEST_CASE(the_batched_gemm_computes_what_one_gemm_per_item_does) {
  cpu_backend cpu;
  struct shape { bool ta, tb; int m, n, k; };
  for (const shape s : {shape{false, false, 7, 1, 5}, shape{true, false, 5, 3, 7},
                        shape{false, true, 6, 4, 3}, shape{true, true, 4, 2, 9},
                        shape{false, false, 300, 40, 64}, shape{true, false, 64, 40, 300}}) {
    const int count = 9;
    const int rows_a = s.ta ? s.k : s.m, cols_a = s.ta ? s.m : s.k;
    const int rows_b = s.tb ? s.n : s.k, cols_b = s.tb ? s.k : s.n;
    const std::size_t sa = std::size_t(rows_a) * cols_a, sb = std::size_t(rows_b) * cols_b,
                      sc = std::size_t(s.m) * s.n;
    auto a = random_floats(sa * count, 1), b = random_floats(sb * count, 2);
    auto c = random_floats(sc * count, 3), expected = c;
    cpu.gemm_strided_batched(s.ta, s.tb, s.m, s.n, s.k, 0.5f, a.data(), cols_a, sa, b.data(),
                             cols_b, sb, 2.0f, c.data(), s.n, sc, count);
    for (int i = 0; i < count; ++i)
      cpu.gemm(s.ta, s.tb, s.m, s.n, s.k, 0.5f, a.data() + i * sa, cols_a, b.data() + i * sb,
               cols_b, 2.0f, expected.data() + i * sc, s.n);
    for (std::size_t i = 0; i < c.size(); ++i)
      BOOST_TEST(c[i] == expected[i], tt::tolerance(1e-4f));
  }
}

BOOST_AUTO_TEST_CASE(a_fleet_of_segments_with_their_own_rules_beats_one_shared_model) {
  const auto d = make_segments(12, 400, 6, 0.05, 7);
  std::vector<fleet_slot_rows> slots;
  fleet_slot_rows shared;
  for (const auto& rows : d.train) {
    slots.push_back({rows, {}});
    shared.train.insert(shared.train.end(), rows.begin(), rows.end());
  }
  slots.push_back(shared);
  fleet_training_options o;
  o.optimizer.kind = optimizer_kind::adam;
  o.optimizer.learning_rate = 0.05f;
  o.batch = 32;
  o.epochs = 30;
  const auto spec = logistic(6);
  fleet_trainer t(spec, o, d.x.data(), d.y.data(), d.y.size(), slots, default_cpu_backend());
  while (t.run_epoch()) {
  }
  BOOST_TEST(t.epochs_done() == 30);
  double fleet = 0, one = 0;
  const auto shared_params = t.parameters(slots.size() - 1);
  for (std::size_t s = 0; s < d.test.size(); ++s) {
    fleet += accuracy(spec, t.parameters(s), d, d.test[s]);
    one += accuracy(spec, shared_params, d, d.test[s]);
  }
  fleet /= static_cast<double>(d.test.size());
  one /= static_cast<double>(d.test.size());
  BOOST_TEST_MESSAGE("held-out accuracy: fleet " << fleet << ", shared " << one);
  BOOST_TEST(fleet > 0.88);
  BOOST_TEST(fleet > one + 0.15);
}

BOOST_AUTO_TEST_CASE(early_stopping_stops_each_segment_on_its_own_validation_loss) {
  // Segment 0: labels are noise, and a large step size: its validation loss stops
  // improving at once. Segment 1: a clean rule learned slowly keeps improving.
  auto d = make_segments(2, 300, 4, 0.0, 11);
  std::mt19937_64 gen(3);
  for (std::uint32_t r = 0; r < 300; ++r)
    d.y[r] = static_cast<float>(gen() % 2);
  std::vector<fleet_slot_rows> slots;
  for (int s = 0; s < 2; ++s)
    slots.push_back({d.train[s], d.test[s]});
  fleet_training_options o;
  o.optimizer.learning_rate = 0.02f;
  o.batch = 16;
  o.epochs = 40;
  o.patience = 3;
  fleet_trainer t(logistic(4), o, d.x.data(), d.y.data(), d.y.size(), slots, default_cpu_backend());
  std::size_t active_midway = 0;
  while (t.run_epoch())
    if (t.epochs_done() == 20) active_midway = t.active_slots();
  BOOST_TEST(t.result(0).stopped_early);
  BOOST_TEST(t.result(0).epochs < 20);
  BOOST_TEST(t.result(0).best_epoch == t.result(0).epochs - 3);
  BOOST_TEST(!t.result(1).stopped_early);
  BOOST_TEST(t.result(1).epochs == 40);
  BOOST_TEST(active_midway == 1u);
  // the stopped segment keeps its best epoch's parameters, which no longer move
  BOOST_TEST(std::isfinite(t.result(0).validation_loss));
}

BOOST_AUTO_TEST_CASE(a_warm_started_fleet_starts_at_its_previous_loss_and_stops_sooner) {
  // Adam with early stopping, then Newton: a retrain on the same rows from the first
  // run's parameters starts where the first run ended; slot 2 gets no initial
  // parameters (a key new in the window) and trains as from scratch.
  const auto d = make_segments(3, 400, 5, 0.05, 21);
  const auto spec = logistic(5);
  for (const auto solver : {fleet_solver::first_order, fleet_solver::newton}) {
    fleet_training_options o;
    o.solver = solver;
    o.optimizer.kind = optimizer_kind::adam;
    o.optimizer.learning_rate = 0.02f;
    o.batch = 32;
    o.epochs = solver == fleet_solver::newton ? 50 : 200;
    o.patience = 3;
    std::vector<fleet_slot_rows> slots;
    for (int s = 0; s < 3; ++s)
      slots.push_back({d.train[s], d.test[s]});
    fleet_trainer cold(spec, o, d.x.data(), d.y.data(), d.y.size(), slots, default_cpu_backend());
    cold.run_epoch();
    const double cold_first = cold.result(0).validation_loss;
    while (cold.run_epoch()) {
    }
    for (int s = 0; s < 2; ++s)
      slots[static_cast<std::size_t>(s)].initial = cold.parameters(static_cast<std::size_t>(s));
    fleet_trainer warm(spec, o, d.x.data(), d.y.data(), d.y.size(), slots, default_cpu_backend());
    warm.run_epoch();
    const double warm_first = warm.result(0).validation_loss;
    while (warm.run_epoch()) {
    }
    BOOST_TEST_MESSAGE((solver == fleet_solver::newton ? "newton" : "adam")
                       << ": epochs cold " << cold.result(0).epochs << ", warm "
                       << warm.result(0).epochs << "; validation loss after the first epoch "
                       << cold_first << " cold, " << warm_first << " warm, best "
                       << cold.result(0).validation_loss);
    for (std::size_t s = 0; s < 2; ++s) {
      BOOST_TEST(warm.result(s).epochs < cold.result(s).epochs);
      BOOST_TEST(warm.result(s).validation_loss <= cold.result(s).validation_loss * 1.05 + 1e-6);
    }
    if (solver == fleet_solver::newton) {
      BOOST_TEST(warm.result(0).epochs == 1); // at the optimum already: one gradient check
      BOOST_TEST(warm.parameters(0) == cold.parameters(0), tt::per_element());
    } else {
      // the first warm epoch is about as good as the cold run's best, far better than its first
      BOOST_TEST(warm_first < cold_first * 0.8);
      BOOST_TEST(warm_first < cold.result(0).validation_loss * 1.1);
    }
    // the new key's slot trains exactly as it did from zero
    BOOST_TEST(warm.result(2).epochs == cold.result(2).epochs);
    BOOST_TEST(warm.parameters(2) == cold.parameters(2), tt::per_element());
  }
}

BOOST_AUTO_TEST_CASE(initial_parameters_of_the_wrong_size_are_refused) {
  const auto d = make_segments(1, 50, 3, 0.0, 1);
  std::vector<fleet_slot_rows> slots{{d.train[0], {}}};
  slots[0].initial.assign(7, 0.0f);
  try {
    fleet_trainer t(logistic(3), fleet_training_options{}, d.x.data(), d.y.data(), d.y.size(),
                    slots, default_cpu_backend());
    BOOST_FAIL("accepted 7 initial parameters for a model of 4");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("initial parameters hold 7 floats, the model has 4") !=
               std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_fleet_however_the_threads_ran) {
  const auto d = make_segments(40, 120, 5, 0.1, 9);
  std::vector<fleet_slot_rows> slots;
  for (std::size_t s = 0; s < d.train.size(); ++s)
    slots.push_back({d.train[s], d.test[s], 0});
  fleet_training_options o;
  o.optimizer.kind = optimizer_kind::adam;
  o.batch = 8;
  o.epochs = 5;
  o.patience = 2;
  o.seed = 5;
  std::vector<std::vector<float>> runs[2];
  for (auto& run : runs) {
    fleet_trainer t(logistic(5), o, d.x.data(), d.y.data(), d.y.size(), slots, default_cpu_backend());
    while (t.run_epoch()) {
    }
    for (std::size_t s = 0; s < slots.size(); ++s)
      run.push_back(t.parameters(s));
  }
  BOOST_TEST((runs[0] == runs[1]));
}

BOOST_AUTO_TEST_CASE(a_fleet_refuses_multilayer_models_and_empty_segments) {
  model_spec mlp;
  mlp.kind = "mlp";
  mlp.layers = {3, 4, 1};
  std::vector<float> x(6, 0.0f), y(2, 0.0f);
  BOOST_CHECK_THROW(fleet_trainer(validate(mlp), {}, x.data(), y.data(), 2, {{{0, 1}, {}}},
                                  default_cpu_backend()),
                    std::invalid_argument);
  BOOST_CHECK_THROW(fleet_trainer(logistic(3), {}, x.data(), y.data(), 2, {{{}, {}}},
                                  default_cpu_backend()),
                    std::invalid_argument);
  BOOST_CHECK_THROW(fleet_trainer(logistic(3), {}, x.data(), y.data(), 2, {{{0, 5}, {}}},
                                  default_cpu_backend()),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
