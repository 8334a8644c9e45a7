// A training step split over threads (model::set_training_threads): the worker team it
// runs on, and the split step and update against the one-thread reference on small
// shapes (odd row counts, rows and columns not divisible by the thread count).
#include "compute/cpu/worker_team.hpp"
#include "compute/model.hpp"
#include "compute/optimizer.hpp"
#include "test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

using namespace conveyor::compute;
using conveyor::compute::test::random_floats;
using conveyor::compute::test::random_labels;

namespace {

model_spec make_spec(std::vector<int> layers, activation act = activation::relu,
                     task objective = task::classification, float weight_decay = 0) {
  model_spec s;
  s.kind = "mlp";
  s.layers = std::move(layers);
  s.hidden = act;
  s.objective = objective;
  s.weight_decay = weight_decay;
  s.seed = 7;
  return s;
}

/// Largest |a - b| relative to max(1e-3, |b|) over the first n floats.
double worst_relative(const float* a, const float* b, std::size_t n) {
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) /
                                std::max(1e-3, std::fabs(static_cast<double>(b[i]))));
  return worst;
}

std::vector<float> labels_for(const model& m, int rows, std::uint64_t seed) {
  if (m.classes() == 0)
    return random_floats(static_cast<std::size_t>(rows) * m.output_width(), seed);
  return random_labels(static_cast<std::size_t>(rows), m.classes(), seed);
}

} // namespace

BOOST_AUTO_TEST_SUITE(training_threads)

BOOST_AUTO_TEST_CASE(a_team_runs_every_part_once_and_its_barrier_orders_the_phases) {
  cpu::worker_team team(3);
  BOOST_TEST(team.size() == 3);
  for (int parts : {1, 2, 3}) {
    for (int round = 0; round < 50; ++round) {
      std::vector<int> phase1(3, 0), seen(3, -1);
      std::atomic<int> calls{0};
      team.run(parts, [&](int t) {
        ++calls;
        phase1[t] = t + 1;
        team.barrier();
        int sum = 0;
        for (int i = 0; i < parts; ++i) sum += phase1[i];
        seen[t] = sum;
      });
      BOOST_TEST(calls.load() == parts);
      for (int t = 0; t < parts; ++t) BOOST_TEST(seen[t] == parts * (parts + 1) / 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failing_part_is_rethrown_and_releases_the_parts_at_the_barrier) {
  cpu::worker_team team(2);
  for (int failing : {0, 1}) {
    std::string what;
    try {
      team.run(2, [&](int t) {
        if (t == failing) throw std::invalid_argument("part " + std::to_string(t));
        team.barrier(); // the other part waits here: it must be released, not hang
      });
    } catch (const std::invalid_argument& e) {
      what = e.what();
    }
    BOOST_TEST(what == "part " + std::to_string(failing));
  }
  int ran = 0; // the team still works afterwards
  team.run(2, [&](int t) {
    team.barrier();
    if (t == 0) ++ran;
  });
  BOOST_TEST(ran == 1);
}

BOOST_AUTO_TEST_CASE(a_split_step_gives_the_one_thread_gradients_and_loss) {
  struct shape {
    std::vector<int> layers;
    activation act;
    task objective;
    float weight_decay;
  };
  const std::vector<shape> shapes = {
      {{300, 256, 10}, activation::relu, task::classification, 0},     // softmax head
      {{40, 33, 3}, activation::tanh, task::classification, 1e-3f},    // odd widths, L2
      {{40, 33, 17, 1}, activation::sigmoid, task::classification, 0}, // sigmoid head
      {{40, 33, 2}, activation::relu, task::regression, 0},            // squared error
  };
  for (const auto& s : shapes)
    for (int threads : {2, 3})
      for (int rows : {15, 181, 271, 514}) {
        model reference(make_spec(s.layers, s.act, s.objective, s.weight_decay));
        model split(make_spec(s.layers, s.act, s.objective, s.weight_decay));
        split.set_training_threads(threads);
        BOOST_TEST(split.training_threads() == threads);
        if (split.training_parts(rows) < 2) continue; // too little work to split
        const auto x = random_floats(static_cast<std::size_t>(rows) * s.layers.front(), 11);
        const auto y = labels_for(reference, rows, 12);
        reference.compute_gradients(x.data(), y.data(), rows, 0.75f);
        split.compute_gradients(x.data(), y.data(), rows, 0.75f);
        BOOST_TEST_CONTEXT("layers[0] " << s.layers.front() << ", " << threads << " threads, "
                                        << rows << " rows, " << split.training_parts(rows)
                                        << " parts") {
          BOOST_TEST(worst_relative(split.gradients(), reference.gradients(),
                                    reference.parameter_count()) < 1e-4);
          BOOST_TEST(std::fabs(split.loss_to_host() - reference.loss_to_host()) <
                     1e-5 * std::max(1.0f, std::fabs(reference.loss_to_host())));
        }
      }
}

BOOST_AUTO_TEST_CASE(every_shape_of_the_cases_above_is_split_at_some_row_count) {
  // guards the test above against passing by never splitting
  for (const auto& layers : {std::vector<int>{300, 256, 10}, std::vector<int>{40, 33, 3},
                             std::vector<int>{40, 33, 17, 1}}) {
    model m(make_spec(layers));
    m.set_training_threads(3);
    BOOST_TEST(m.training_parts(514) == 3);
    BOOST_TEST(m.training_parts(1) == 1);
  }
  model big(make_spec({300, 256, 10}));
  big.set_training_threads(2);
  BOOST_TEST(big.training_parts(15) == 2);
  BOOST_TEST(big.training_parts(4) == 2);
  BOOST_TEST(big.training_parts(3) == 1); // under two rows of work a part
}

BOOST_AUTO_TEST_CASE(a_split_update_matches_the_optimizers_own_step) {
  // The same gradients through both: model::apply (the update sliced over the training
  // threads) against optimizer::step on a copy of the parameters. Two models that compute
  // their gradients each in its own order would differ by rounding, which Adam magnifies
  // where a gradient is near zero (its first step moves every weight by about lr,
  // whatever the gradient's size): that would measure the rounding, not the update.
  for (auto kind : {optimizer_kind::sgd, optimizer_kind::adam}) {
    model split(make_spec({300, 256, 10}));
    split.set_training_threads(3);
    optimizer_spec os;
    os.kind = kind;
    os.learning_rate = 0.05f;
    os.momentum = 0.9f;
    const auto n = split.parameter_count();
    optimizer ref_opt(os, n), split_opt(os, n);
    std::vector<float> reference(split.parameters(), split.parameters() + n);
    const int rows = 37;
    for (int step = 0; step < 5; ++step) {
      const auto x = random_floats(static_cast<std::size_t>(rows) * 300, 20 + step);
      const auto y = random_labels(rows, 10, 30 + step);
      split.compute_gradients(x.data(), y.data(), rows);
      ref_opt.step(reference.data(), split.gradients());
      split.apply(split_opt);
    }
    BOOST_TEST(split_opt.steps() == ref_opt.steps());
    BOOST_TEST(worst_relative(split.parameters(), reference.data(), n) < 1e-5);
    const auto a = split_opt.state(), b = ref_opt.state();
    BOOST_TEST(worst_relative(a.first.data(), b.first.data(), b.first.size()) < 1e-5);
    if (kind == optimizer_kind::adam)
      BOOST_TEST(worst_relative(a.second.data(), b.second.data(), b.second.size()) < 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(a_fused_step_matches_the_gradient_then_the_update) {
  // compute_gradients_and_apply on rows picked from a table by an order (each part
  // copies its rows, then updates its band of weights as soon as it has their gradient)
  // against compute_gradients on those rows copied beforehand, then optimizer::step, on
  // the same thread count, so both take their sums in the same order; with L2 on a shape
  // whose widths do not divide evenly, over several steps (the momentum carries over).
  for (auto kind : {optimizer_kind::sgd, optimizer_kind::adam})
    for (int threads : {1, 2, 3}) {
      model fused(make_spec({300, 67, 10}, activation::relu, task::classification, 1e-3f));
      model twice(make_spec({300, 67, 10}, activation::relu, task::classification, 1e-3f));
      fused.set_training_threads(threads);
      twice.set_training_threads(threads);
      optimizer_spec os;
      os.kind = kind;
      os.learning_rate = 0.05f;
      os.momentum = 0.9f;
      const auto n = fused.parameter_count();
      optimizer fused_opt(os, n), twice_opt(os, n);
      const int rows = 181, table_rows = 400;
      BOOST_TEST_REQUIRE(fused.training_parts(rows) == threads);
      const auto table_x = random_floats(static_cast<std::size_t>(table_rows) * 300, 40);
      const auto table_y = random_labels(table_rows, 10, 50);
      for (int step = 0; step < 4; ++step) {
        std::vector<std::uint32_t> order(rows);
        std::vector<float> x, y;
        for (int r = 0; r < rows; ++r) {
          order[r] = static_cast<std::uint32_t>((r * 7 + step * 31) % table_rows);
          x.insert(x.end(), table_x.begin() + order[r] * 300, table_x.begin() + (order[r] + 1) * 300);
          y.push_back(table_y[order[r]]);
        }
        fused.compute_gradients_and_apply(table_x.data(), table_y.data(), order.data(), rows,
                                          fused_opt);
        twice.compute_gradients(x.data(), y.data(), rows);
        twice_opt.step(twice.parameters(), twice.gradients());
        BOOST_TEST_CONTEXT(to_string(kind) << ", " << threads << " threads, step " << step) {
          BOOST_TEST(worst_relative(fused.gradients(), twice.gradients(), n) < 1e-5);
          BOOST_TEST(fused.loss_to_host() == twice.loss_to_host());
          BOOST_TEST(worst_relative(fused.parameters(), twice.parameters(), n) < 1e-5);
        }
      }
      BOOST_TEST(fused_opt.steps() == 4);
    }
}

BOOST_AUTO_TEST_CASE(a_model_trained_on_threads_learns_as_on_one) {
  // three blobs, 10 features; 200 steps at batch 50 on 1 and on 2 threads
  const int rows = 600, features = 10;
  auto x = random_floats(static_cast<std::size_t>(rows) * features, 5, -0.3f, 0.3f);
  const auto y = random_labels(rows, 3, 6);
  for (int r = 0; r < rows; ++r) x[static_cast<std::size_t>(r) * features + static_cast<int>(y[r])] += 1.0f;
  float final_loss[2] = {0, 0};
  for (int threads : {1, 2}) {
    model m(make_spec({features, 600, 3}));
    m.set_training_threads(threads);
    BOOST_TEST(m.training_parts(50) == threads);
    optimizer_spec os;
    os.learning_rate = 0.05f;
    os.momentum = 0.9f;
    optimizer opt(os, m.parameter_count());
    for (int step = 0; step < 200; ++step) {
      const int b = step % (rows / 50);
      m.compute_gradients(x.data() + static_cast<std::size_t>(b) * 50 * features,
                          y.data() + b * 50, 50);
      m.apply(opt);
    }
    m.compute_gradients(x.data(), y.data(), rows);
    final_loss[threads - 1] = m.loss_to_host();
  }
  BOOST_TEST(final_loss[1] < 0.1f);
  BOOST_TEST(std::fabs(final_loss[1] - final_loss[0]) < 0.02f);
}

BOOST_AUTO_TEST_SUITE_END()
