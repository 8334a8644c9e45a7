// The drift kind: rows of the distribution the served model was trained on raise nothing,
// shifted rows raise a retrain request carrying the served model, once per served version
// within the cooldown; a served model without histograms is not compared.
#include "actors/drift.hpp"
#include "compute/feature_distribution.hpp"
#include "compute/model_file.hpp"
#include "serving/registry.hpp"
#include "shifting_stream.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace conveyor;

namespace {

/// A logistic model over x0, x1 whose histograms describe `rows` pre-shift rows.
compute::model_artifact served_model(bool with_histograms) {
  compute::model_spec s;
  s.kind = "logistic";
  s.layers = {2};
  auto a = compute::make_artifact(compute::model(s));
  a.feature_columns = {"x0", "x1"};
  a.input_columns = a.feature_columns;
  if (with_histograms) {
    test::shifting_stream stream;
    stream.gen.seed(99);
    const auto b = stream.next(5000, false, false);
    std::vector<float> x;
    for (std::uint32_t r = 0; r < b.rows; ++r) {
      x.push_back(b.float_column(0)[r]);
      x.push_back(b.float_column(1)[r]);
    }
    a.trained_on = compute::describe_features(x.data(), b.rows, a.feature_columns);
  }
  return a;
}

std::map<std::string, dsl::value> params(const std::string& registry) {
  return {{"registry", registry}, {"model", std::string("m")},
          {"window_rows", std::int64_t{1000}}, {"check_every", std::int64_t{500}}};
}

/// Rows of ten keys k0..k9 with features x0, x1 ~ N(0, 1); with `shifted`, key k3's x0
/// moves to N(2, 1): a tenth of the rows, which leaves the whole fleet's PSI near 0.05.
struct keyed_stream {
  std::mt19937_64 gen{5};
  std::uint64_t sequence = 0;

  batch next(std::uint32_t rows, bool shifted) {
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> x0, x1, y;
    std::vector<std::string> key;
    for (std::uint32_t r = 0; r < rows; ++r) {
      const auto k = static_cast<int>(gen() % 10);
      x0.push_back(normal(gen) + (shifted && k == 3 ? 2.0f : 0.0f));
      x1.push_back(normal(gen));
      y.push_back(static_cast<float>(gen() % 2));
      key.push_back("k" + std::to_string(k));
    }
    auto b = test::make_batch({{"x0", x0}, {"x1", x1}, {"y", y}}, {{"key", key}}, "y");
    b.source = "stream";
    b.sequence = ++sequence;
    return b;
  }
};

/// A fleet of logistic models over x0, x1 by `key` (k0..k9), with the histograms of its
/// pre-shift training rows: of all of them, and, with `per_key`, of each key's own.
compute::model_artifact served_fleet(bool per_key) {
  compute::model_spec s;
  s.kind = "logistic";
  s.layers = {2};
  auto a = compute::make_artifact(compute::model(s));
  a.feature_columns = {"x0", "x1"};
  a.input_columns = a.feature_columns;
  keyed_stream stream;
  stream.gen.seed(77);
  const auto b = stream.next(20000, false);
  std::vector<float> x;
  std::vector<std::vector<std::uint32_t>> rows_of(10);
  for (std::uint32_t r = 0; r < b.rows; ++r) {
    x.push_back(b.float_column(0)[r]);
    x.push_back(b.float_column(1)[r]);
    const auto& key = b.categoricals[0];
    rows_of[static_cast<std::size_t>(std::stoi(key.dictionary[static_cast<std::size_t>(key.codes[r])].substr(1)))]
      .push_back(r);
  }
  a.trained_on = compute::describe_features(x.data(), b.rows, a.feature_columns);
  compute::model_fleet f;
  f.by = "key";
  for (int k = 0; k < 10; ++k) {
    f.segments.push_back({"k" + std::to_string(k), rows_of[static_cast<std::size_t>(k)].size(), true, {}});
    if (per_key)
      f.distributions.push_back(compute::describe_rows(x.data(), rows_of[static_cast<std::size_t>(k)].data(),
                                                       rows_of[static_cast<std::size_t>(k)].size(),
                                                       a.feature_columns, 10, 1024));
  }
  f.weights.assign(10 * compute::parameter_count(a.spec), 0.0f);
  a.fleet = f;
  return a;
}

std::map<std::string, dsl::value> fleet_params(const std::string& registry) {
  return {{"registry", registry}, {"model", std::string("m")},
          {"window_rows", std::int64_t{8000}}, {"check_every", std::int64_t{1000}}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(drift_suite)

BOOST_AUTO_TEST_CASE(a_shift_in_one_key_only_is_caught_per_key_where_the_whole_fleet_stays_under_the_threshold) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  const auto bytes = compute::model_file::encode(served_fleet(true));
  reg.publish("m", bytes);
  auto s = test::make_step(drift_kind(), fleet_params(dir.file("models")));
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  keyed_stream stream;
  // The training distribution: every key judged (about 800 rows each), none drifted.
  for (int i = 0; i < 40; ++i)
    s->consume(0, stream.next(250, false), out);
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.metrics["segments_judged"] == 10.0);
  BOOST_TEST(ctx.metrics["segments_drifted"] == 0.0);
  BOOST_TEST(ctx.metrics["segment_worst_psi"] < 0.1);
  BOOST_TEST(ctx.metrics["psi_max"] < 0.1);
  // k3 shifts: asked for a retrain once k3's rows in the window are mostly shifted,
  // while the whole fleet's statistic stays under the threshold.
  int batches = 0;
  while (out.models.empty() && batches < 64) {
    s->consume(0, stream.next(250, true), out);
    ++batches;
  }
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(*out.models[0].artifact == bytes);
  BOOST_TEST(ctx.metrics["psi_max"] < 0.25);
  BOOST_TEST(ctx.metrics["segment_worst"] == 3.0);
  BOOST_TEST(ctx.metrics["segment_worst_psi"] > 0.25);
  BOOST_TEST(ctx.metrics["segment_worst_rows"] >= 500.0);
  BOOST_TEST(ctx.metrics["segments_drifted"] == 1.0);
  BOOST_TEST_REQUIRE(!ctx.warnings.empty());
  BOOST_TEST(ctx.warnings.back().find("on 'x0' of key 'k3'") != std::string::npos,
             ctx.warnings.back());
  BOOST_TEST(ctx.warnings.back().find("1 of 10 judged keys past it") != std::string::npos,
             ctx.warnings.back());
  // Still drifting, same version, within the cooldown: asked once only.
  for (int i = 0; i < 40; ++i)
    s->consume(0, stream.next(250, true), out);
  BOOST_TEST(out.models.size() == 1u);
}

BOOST_AUTO_TEST_CASE(keys_with_too_few_rows_are_not_judged) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  reg.publish("m", compute::model_file::encode(served_fleet(true)));
  auto p = fleet_params(dir.file("models"));
  p["segment_min_rows"] = std::int64_t{2000}; // each key has about 800 rows in the window
  auto s = test::make_step(drift_kind(), p);
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  keyed_stream stream;
  for (int i = 0; i < 80; ++i)
    s->consume(0, stream.next(250, true), out);
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.metrics["segments_judged"] == 0.0);
  BOOST_TEST(ctx.metrics["segment_worst"] == -1.0);
  BOOST_TEST(ctx.metrics["segments_tracked"] == 10.0);
}

BOOST_AUTO_TEST_CASE(a_fleet_file_without_per_key_histograms_is_compared_as_a_whole) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  reg.publish("m", compute::model_file::encode(served_fleet(false)));
  auto s = test::make_step(drift_kind(), fleet_params(dir.file("models")));
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  keyed_stream stream;
  for (int i = 0; i < 80; ++i)
    s->consume(0, stream.next(250, true), out);
  // the one-key shift stays under the whole fleet's threshold: nothing asked
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.metrics.count("psi_max") == 1u);
  BOOST_TEST(ctx.metrics["psi_max"] < 0.25);
  BOOST_TEST(ctx.metrics.count("segments_judged") == 0u);
  bool said = false;
  for (const auto& line : ctx.info)
    said = said || line.find("is a fleet without per-key histograms") != std::string::npos;
  BOOST_TEST(said);
}

BOOST_AUTO_TEST_CASE(max_segments_bounds_the_keys_tracked) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  reg.publish("m", compute::model_file::encode(served_fleet(true)));
  auto p = fleet_params(dir.file("models"));
  p["max_segments"] = std::int64_t{4};
  auto s = test::make_step(drift_kind(), p);
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  keyed_stream stream;
  for (int i = 0; i < 40; ++i)
    s->consume(0, stream.next(250, false), out);
  BOOST_TEST(ctx.metrics["segments_tracked"] == 4.0);
  BOOST_TEST(ctx.metrics["segments_judged"] <= 4.0);
  bool said = false;
  for (const auto& line : ctx.warnings)
    said = said || line.find("(max_segments)") != std::string::npos;
  BOOST_TEST(said);
}

BOOST_AUTO_TEST_CASE(a_sample_of_the_training_distribution_raises_nothing_and_a_shift_asks_for_one_retrain) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  const auto bytes = compute::model_file::encode(served_model(true));
  reg.publish("m", bytes);
  auto s = test::make_step(drift_kind(), params(dir.file("models")));
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, false, false), out);
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.metrics.count("psi_max") == 1u);
  BOOST_TEST(ctx.metrics["psi_max"] < 0.1);
  BOOST_TEST(ctx.metrics["served_version"] == 1.0);

  for (int i = 0; i < 10; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(out.models[0].version == 1u);
  BOOST_TEST(*out.models[0].artifact == bytes);
  BOOST_TEST(ctx.metrics["psi.x0"] > 0.25);
  BOOST_TEST(ctx.metrics["psi.x1"] < 0.1);
  bool said = false;
  for (const auto& w : ctx.warnings)
    said = said || w.find("on 'x0'") != std::string::npos;
  BOOST_TEST(said);

  // Still drifting, same served version, within the cooldown: asked once only.
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(out.models.size() == 1u);

  // A newer version trained on the shifted rows: no drift against it.
  auto shifted = served_model(false);
  {
    test::shifting_stream later;
    const auto b = later.next(5000, true, false);
    std::vector<float> x;
    for (std::uint32_t r = 0; r < b.rows; ++r) {
      x.push_back(b.float_column(0)[r]);
      x.push_back(b.float_column(1)[r]);
    }
    shifted.trained_on = compute::describe_features(x.data(), b.rows, shifted.feature_columns);
  }
  reg.publish("m", compute::model_file::encode(shifted));
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(out.models.size() == 1u);
  BOOST_TEST(ctx.metrics["served_version"] == 2.0);
  BOOST_TEST(ctx.metrics["psi_max"] < 0.1);
}

BOOST_AUTO_TEST_CASE(a_served_model_without_histograms_is_not_compared_and_says_why) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  reg.publish("m", compute::model_file::encode(served_model(false)));
  auto s = test::make_step(drift_kind(), params(dir.file("models")));
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.metrics.count("psi_max") == 0u);
  BOOST_TEST_REQUIRE(!ctx.warnings.empty());
  BOOST_TEST(ctx.warnings[0].find("holds no feature histograms") != std::string::npos);
  BOOST_TEST(ctx.warnings.size() == 1u); // once per version
}

BOOST_AUTO_TEST_CASE(drift_parameters_are_checked) {
  auto failure = [](std::map<std::string, dsl::value> p) -> std::string {
    try {
      test::make_step(drift_kind(), std::move(p));
    } catch (const step_failure& e) {
      return e.what();
    }
    return "";
  };
  auto p = params("r");
  p["check_every"] = std::int64_t{5000};
  BOOST_TEST(failure(p).find("'check_every' must be in 1..window_rows") != std::string::npos);
  p = params("r");
  p["model"] = std::string("a/b");
  BOOST_TEST(failure(p).find("not a valid model name") != std::string::npos);
  p = params("r");
  p["threshold"] = 0.0;
  BOOST_TEST(failure(p).find("'threshold' must be a positive number") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
