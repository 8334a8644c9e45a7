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

} // namespace

BOOST_AUTO_TEST_SUITE(drift_suite)

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
