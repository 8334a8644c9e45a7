// evaluator: applies each model's own preprocessing to raw rows, gates on the metric,
// forwards passing models with the metric attached, and skips malformed artifacts.
#include "compute/model_file.hpp"
#include "actors/evaluator.hpp"
#include "step_harness.hpp"
#include "tests/compute/test_models.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {


/// A logistic model on feature "x": P(y = 1) = sigmoid(w * x), trained on rows that a
/// `scale = -1` preprocessing produced from the raw column "x".
model_message logistic_model(float w, bool with_preprocessing = true) {
  auto a = test::logistic_artifact(w);
  if (with_preprocessing) {
    column_op op;
    op.op = column_op::kind::scale;
    op.column = "x";
    op.a = -1;
    a.preprocessing.ops.push_back(op);
  }
  a.metrics["loss"] = 0.1;
  return model_message{"m", std::make_shared<const std::string>(compute::model_file::encode(a))};
}

/// Raw rows: positive x is class 0, negative x is class 1.
batch raw_rows() {
  auto b = test::make_batch({{"x", {1, 2, 3, -1, -2, -3}}, {"label", {0, 0, 0, 1, 1, 1}}}, {},
                            "label");
  b.source = "reader";
  b.sequence = 1;
  return b;
}

void finish(step& s, emitter& out) {
  s.finish(out);
  while (s.produce(out)) {
  }
}

std::unique_ptr<step> make_evaluator(std::map<std::string, dsl::value> params) {
  return test::make_step(evaluator_kind(), std::move(params));
}

} // namespace

BOOST_AUTO_TEST_SUITE(evaluator_suite)

BOOST_AUTO_TEST_CASE(the_evaluator_applies_the_models_preprocessing_and_forwards_a_passing_model) {
  auto s = make_evaluator({{"min", 0.85}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  s->consume_model(0, logistic_model(10.0f), out);
  s->consume(1, raw_rows(), out);
  BOOST_TEST(out.models.empty()); // held until the data has ended
  finish(*s, out);
  BOOST_TEST(ctx.metrics["accuracy"] == 1.0);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(out.models[0].name == "m");
  auto a = compute::model_file::decode(*out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(a), a.error);
  BOOST_TEST(a.value->metrics.at("accuracy") == 1.0);
  BOOST_TEST(a.value->metrics.at("loss") == 0.1);
}

BOOST_AUTO_TEST_CASE(without_the_preprocessing_the_same_weights_fail_the_gate_and_are_not_forwarded) {
  auto s = make_evaluator({{"min", 0.85}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  s->consume(1, raw_rows(), out);
  s->consume_model(0, logistic_model(10.0f, false), out);
  finish(*s, out);
  BOOST_TEST(ctx.metrics["accuracy"] == 0.0);
  BOOST_TEST(out.models.empty());
  BOOST_TEST_REQUIRE(!ctx.warnings.empty());
  BOOST_TEST(ctx.warnings.back().find("model 'm' held back by the gate: accuracy 0 is below "
                                      "min 0.85; not forwarding it") != std::string::npos,
             ctx.warnings.back());
}

BOOST_AUTO_TEST_CASE(a_max_gate_blocks_a_value_metric_above_it) {
  auto s = make_evaluator({{"metric", std::string("log_loss")}, {"max", 0.01}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  s->consume(1, raw_rows(), out);
  s->consume_model(0, logistic_model(1.0f), out);
  finish(*s, out);
  BOOST_TEST(ctx.metrics["log_loss"] > 0.01);
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.warnings.back().find("is above max") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_malformed_artifact_is_skipped_with_a_warning_and_the_rest_evaluated) {
  auto s = make_evaluator({});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  s->consume(1, raw_rows(), out);
  s->consume_model(0, model_message{"junk", std::make_shared<const std::string>("not a model")},
                   out);
  s->consume_model(0, logistic_model(10.0f), out);
  BOOST_CHECK_NO_THROW(finish(*s, out));
  BOOST_TEST_REQUIRE(!ctx.warnings.empty());
  BOOST_TEST(ctx.warnings.front().find("model 'junk'") != std::string::npos, ctx.warnings.front());
  BOOST_TEST(out.models.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_model_arriving_after_the_data_ended_is_evaluated_at_once) {
  auto s = make_evaluator({{"min", 0.85}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  s->consume(1, raw_rows(), out);
  finish(*s, out);
  BOOST_TEST(ctx.metrics.empty()); // no model yet
  s->consume_model(0, logistic_model(10.0f), out);
  // Scored on the cached data and forwarded within the call, with its metric.
  BOOST_TEST(ctx.metrics.at("accuracy") == 1.0);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  auto a = compute::model_file::decode(*out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(a), a.error);
  BOOST_TEST(a.value->metrics.at("accuracy") == 1.0);
  BOOST_TEST(a.value->metrics.at("loss") == 0.1);
  BOOST_TEST_REQUIRE(!ctx.info.empty());
  BOOST_TEST(ctx.info.back().find("model 'm': accuracy 1 on 6 rows") != std::string::npos,
             ctx.info.back());
  // A later model that fails the gate is scored at once too, and held back.
  s->consume_model(0, logistic_model(-10.0f), out);
  BOOST_TEST(ctx.metrics.at("accuracy") == 0.0);
  BOOST_TEST(out.models.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
