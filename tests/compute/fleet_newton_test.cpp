// Newton's method for fleets (compute/fleet_newton.hpp, fleet_solver::newton): linear
// models land on the ridge regression's closed form, logistic ones on a point where the
// objective's gradient vanishes; the objective never rises from one iteration to the
// next; the loss's own exp and log agree with the library's; threads do not change the
// result; models it cannot train are refused with a reason.
#include "compute/cpu/cpu_backend.hpp"
#include "compute/fleet_newton.hpp"
#include "compute/fleet_training.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

using namespace conveyor::compute;

namespace {

/// `segments` segments of `rows` rows of `features` standard normal features; segment s
/// has its own weights w_s and bias; the label is x . w_s + b_s plus noise (linear), or 1
/// where that is positive, flipped with probability `noise` (logistic).
struct fleet_data {
  int features = 0;
  std::vector<float> x, y;
  std::vector<fleet_slot_rows> slots;
};

fleet_data make_fleet(int segments, int rows, int features, bool logistic, double noise,
                      float scale = 1.0f) {
  fleet_data d;
  d.features = features;
  std::mt19937_64 gen(17);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int s = 0; s < segments; ++s) {
    std::vector<float> w(static_cast<std::size_t>(features));
    for (auto& v : w) v = normal(gen);
    const float b = normal(gen);
    fleet_slot_rows slot;
    for (int r = 0; r < rows; ++r) {
      float dot = b;
      for (int a = 0; a < features; ++a) {
        const float v = normal(gen) * scale;
        d.x.push_back(v);
        dot += v * w[static_cast<std::size_t>(a)];
      }
      float label = logistic ? (dot > 0 ? 1.0f : 0.0f) : dot + static_cast<float>(noise) * normal(gen);
      if (logistic && u(gen) < noise) label = 1.0f - label;
      slot.train.push_back(static_cast<std::uint32_t>(d.y.size()));
      d.y.push_back(label);
    }
    d.slots.push_back(std::move(slot));
  }
  return d;
}

model_spec spec_of(const std::string& kind, int features, int outputs, float l2) {
  model_spec s;
  s.kind = kind;
  s.layers = kind == "logistic" ? std::vector<int>{features} : std::vector<int>{features, outputs};
  s.weight_decay = l2;
  return validate(s);
}

fleet_training_options newton_options(int iterations = 50) {
  fleet_training_options o;
  o.solver = fleet_solver::newton;
  o.epochs = iterations;
  return o;
}

/// Solves A t = b (n x n, row-major) by Gaussian elimination with partial pivoting.
std::vector<double> solve(std::vector<double> a, std::vector<double> b) {
  const auto n = b.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    for (std::size_t k = 0; k < n; ++k) std::swap(a[c * n + k], a[p * n + k]);
    std::swap(b[c], b[p]);
    for (std::size_t r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (std::size_t k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> t(n);
  for (std::size_t i = n; i-- > 0;) {
    double v = b[i];
    for (std::size_t k = i + 1; k < n; ++k) v -= a[i * n + k] * t[k];
    t[i] = v / a[i * n + i];
  }
  return t;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_newton)

BOOST_AUTO_TEST_CASE(linear_models_land_on_the_ridge_regressions_closed_form) {
  const int f = 5;
  const float l2 = 0.01f;
  const auto d = make_fleet(3, 200, f, false, 0.3);
  fleet_trainer t(spec_of("linear", f, 1, l2), newton_options(), d.x.data(), d.y.data(),
                  d.y.size(), d.slots, default_cpu_backend());
  BOOST_TEST(!t.run_epoch()); // all of Newton's work is done in the first call
  BOOST_TEST(t.done());
  for (std::size_t s = 0; s < d.slots.size(); ++s) {
    // minimise mean (x~ . t - y)^2 + l2 / 2 |w|^2: ((2/n) X~^T X~ + l2 D) t = (2/n) X~^T y
    const auto& rows = d.slots[s].train;
    const std::size_t n = f + 1;
    std::vector<double> a(n * n, 0.0), b(n, 0.0);
    const double scale = 2.0 / static_cast<double>(rows.size());
    for (auto r : rows) {
      std::vector<double> xt(n, 1.0);
      for (int k = 0; k < f; ++k) xt[static_cast<std::size_t>(k)] = d.x[r * f + static_cast<std::size_t>(k)];
      for (std::size_t i = 0; i < n; ++i) {
        b[i] += scale * xt[i] * d.y[r];
        for (std::size_t j = 0; j < n; ++j) a[i * n + j] += scale * xt[i] * xt[j];
      }
    }
    for (int k = 0; k < f; ++k) a[static_cast<std::size_t>(k) * n + static_cast<std::size_t>(k)] += l2;
    const auto expected = solve(a, b);
    const auto got = t.parameters(s);
    BOOST_TEST_REQUIRE(got.size() == n);
    for (std::size_t i = 0; i < n; ++i)
      BOOST_TEST(got[i] == expected[i], boost::test_tools::tolerance(1e-3));
    // one step to the optimum, one more to see the gradient vanish
    BOOST_TEST(t.result(s).epochs <= 2);
    BOOST_TEST(t.result(s).train_loss < 0.3 * 0.3 * 1.5);
  }
}

BOOST_AUTO_TEST_CASE(logistic_models_stop_where_the_objectives_gradient_vanishes) {
  const int f = 6, rows = 300;
  const float l2 = 1.0f / rows;
  const auto d = make_fleet(4, rows, f, true, 0.1);
  fleet_trainer t(spec_of("logistic", f, 1, l2), newton_options(), d.x.data(), d.y.data(),
                  d.y.size(), d.slots, default_cpu_backend());
  t.run_epoch();
  for (std::size_t s = 0; s < d.slots.size(); ++s) {
    const auto p = t.parameters(s);
    std::vector<double> g(f + 1, 0.0);
    for (auto r : d.slots[s].train) {
      double z = p[f];
      for (int k = 0; k < f; ++k) z += d.x[r * f + static_cast<std::size_t>(k)] * p[static_cast<std::size_t>(k)];
      const double err = (sigmoid(z) - d.y[r]) / rows;
      for (int k = 0; k < f; ++k) g[static_cast<std::size_t>(k)] += err * d.x[r * f + static_cast<std::size_t>(k)];
      g[f] += err;
    }
    double largest = 0;
    for (int k = 0; k <= f; ++k)
      largest = std::max(largest, std::fabs(g[static_cast<std::size_t>(k)] +
                                            (k < f ? l2 * p[static_cast<std::size_t>(k)] : 0.0)));
    BOOST_TEST(largest < 2e-4, "slot " << s << ": largest gradient entry " << largest);
    BOOST_TEST(t.result(s).epochs >= 3);
    BOOST_TEST(t.result(s).epochs <= 12);
    BOOST_TEST(std::isnan(t.result(s).validation_loss)); // no validation rows
  }
}

BOOST_AUTO_TEST_CASE(the_objective_never_rises_even_where_full_steps_overshoot) {
  // Noisy labels and a start far from the optimum, in the flat tails of the sigmoid:
  // there the Hessian is tiny and a full Newton step lands far past the optimum; halved
  // steps keep the objective from rising.
  const int f = 3;
  auto d = make_fleet(1, 200, f, true, 0.2);
  const auto& rows = d.slots[0].train;
  std::vector<float> xs(rows.size() * f), params{8.0f, -8.0f, 8.0f, 3.0f};
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (int a = 0; a < f; ++a)
      xs[static_cast<std::size_t>(a) * rows.size() + r] = d.x[rows[r] * f + static_cast<std::size_t>(a)];
  const newton_rows data{xs.data(), d.y.data(), static_cast<int>(rows.size()), f, rows.size()};
  newton_state state;
  double last = std::numeric_limits<double>::infinity();
  int halved = 0;
  for (int i = 0; i < 40 && !state.converged; ++i) {
    const double j = newton_iteration(newton_loss::logistic, data, 0.0f, 1e-5, params.data(), state);
    if (state.halvings > 0) {
      ++halved;
    } else {
      // the contract: never above the last accepted point by more than float rounding
      BOOST_TEST(j <= last + 1e-7 * std::max(1.0, last),
                 "iteration " << i << ": " << j << " after " << last);
      last = j;
    }
    for (float v : params)
      BOOST_TEST(std::isfinite(v));
  }
  BOOST_TEST(halved > 0); // the start is far enough for a full step to overshoot
  BOOST_TEST(state.converged);
  BOOST_TEST_MESSAGE("steps halved " << halved << " times; J " << last);
}

BOOST_AUTO_TEST_CASE(the_losses_own_exp_and_log_agree_with_the_library) {
  // Logits from -60 to 60: newton_mean_loss (own vectorised exp and log1p) against a
  // double-precision reference.
  const int rows = 4001;
  std::vector<float> x(rows), y(rows);
  for (int r = 0; r < rows; ++r) {
    x[static_cast<std::size_t>(r)] = -60.0f + 120.0f * static_cast<float>(r) / (rows - 1);
    y[static_cast<std::size_t>(r)] = static_cast<float>(r % 3 == 0);
  }
  const float params[] = {1.0f, 0.25f}; // z = x + 0.25
  const newton_rows data{x.data(), y.data(), rows, 1, static_cast<std::size_t>(rows)};
  double expected = 0;
  for (int r = 0; r < rows; ++r) {
    const double z = static_cast<double>(x[static_cast<std::size_t>(r)]) + 0.25;
    expected += std::max(z, 0.0) - z * y[static_cast<std::size_t>(r)] + std::log1p(std::exp(-std::fabs(z)));
  }
  expected /= rows;
  BOOST_TEST(newton_mean_loss(newton_loss::logistic, data, params) == expected,
             boost::test_tools::tolerance(1e-6));
  // and near zero, where log1p's argument is close to 1
  const float zero[] = {0.0f, 0.0f};
  BOOST_TEST(newton_mean_loss(newton_loss::logistic, data, zero) == std::log(2.0),
             boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(threads_do_not_change_the_fleet) {
  const auto d = make_fleet(64, 150, 8, true, 0.1);
  auto& cpu = default_cpu_backend();
  const int before = cpu.threads();
  std::vector<std::vector<float>> runs[2];
  for (int threads : {1, 2}) {
    cpu.set_threads(threads);
    fleet_trainer t(spec_of("logistic", 8, 1, 0.01f), newton_options(), d.x.data(), d.y.data(),
                    d.y.size(), d.slots, cpu);
    t.run_epoch();
    for (std::size_t s = 0; s < d.slots.size(); ++s)
      runs[threads - 1].push_back(t.parameters(s));
  }
  cpu.set_threads(before);
  BOOST_TEST((runs[0] == runs[1]));
}

BOOST_AUTO_TEST_CASE(models_newton_cannot_train_are_refused_with_the_reason) {
  std::vector<float> x(12, 0.0f), y(2, 0.0f);
  const auto message = [&](const model_spec& spec) {
    try {
      fleet_trainer(spec, newton_options(), x.data(), y.data(), 2, {{{0, 1}, {}}},
                    default_cpu_backend());
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  BOOST_TEST(message(spec_of("softmax", 3, 4, 0.0f)).find("use adam or sgd") != std::string::npos);
  std::vector<float> wide(2 * 300, 0.0f);
  x = wide;
  BOOST_TEST(message(spec_of("logistic", 300, 1, 0.0f)).find("at most 256 features") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
