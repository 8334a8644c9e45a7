// The evaluator on a stream: a window of the newest rows, models evaluated as they come,
// and the gate against the served model: a model worse than the served one on the same
// rows is held back, with both figures reported.
#include "actors/evaluator.hpp"
#include "actors/trainer.hpp"
#include "compute/model_file.hpp"
#include "serving/registry.hpp"
#include "shifting_stream.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

/// A single logistic model trained on 2000 rows before (false) or after (true) the shift.
model_message trained(bool shifted) {
  auto s = test::make_step(trainer_kind(), {{"model", std::string("logistic")},
                                            {"optimizer", std::string("adam")},
                                            {"lr", 0.05},
                                            {"epochs", std::int64_t{5}},
                                            {"name", std::string("m")}});
  test::fake_context ctx;
  test::shifting_stream stream;
  stream.keys = 1;
  std::vector<batch> data;
  for (int i = 0; i < 20; ++i)
    data.push_back(stream.next(100, shifted, false));
  s->open(ctx);
  auto out = test::push(*s, data);
  while (s->produce(out)) {
  }
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  return out.models[0];
}

} // namespace

BOOST_AUTO_TEST_SUITE(served_gate)

BOOST_AUTO_TEST_CASE(a_model_worse_than_the_served_one_on_the_same_fresh_rows_is_held_back) {
  const auto before = trained(false), after = trained(true);
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  reg.publish("m", *before.artifact); // served: the pre-shift model
  auto s = test::make_step(evaluator_kind(), {{"window_rows", std::int64_t{500}},
                                              {"against_served", true},
                                              {"registry", dir.file("models")}});
  BOOST_TEST(s->acknowledge_on_consume());
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  stream.keys = 1;
  stream.gen.seed(5);
  s->consume_model(0, after, out); // held: the window is not full yet
  BOOST_TEST(out.models.empty());
  for (int i = 0; i < 5; ++i) // pre-shift rows: the post-shift model is worse there
    s->consume(1, stream.next(100, false, false), out);
  BOOST_TEST(out.models.empty());
  BOOST_TEST(ctx.metrics["served_accuracy"] > 0.85);
  BOOST_TEST(ctx.metrics["accuracy"] < 0.5);
  bool said = false;
  for (const auto& w : ctx.warnings)
    said = said || w.find("is worse than the served model's") != std::string::npos;
  BOOST_TEST(said);

  // After the shift, on fresh rows only, the same model beats the served one.
  for (int i = 0; i < 5; ++i)
    s->consume(1, stream.next(100, true, false), out);
  s->consume_model(0, after, out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(ctx.metrics["accuracy"] > 0.75);
  BOOST_TEST(ctx.metrics["served_accuracy"] < 0.5);

  // The model just forwarded is now the served one: the pre-shift model is held back.
  s->consume_model(0, before, out);
  BOOST_TEST(out.models.size() == 1u);
}

BOOST_AUTO_TEST_CASE(without_a_served_model_the_gate_takes_min_and_max_alone) {
  const auto after = trained(true);
  test::temp_dir dir;
  auto s = test::make_step(evaluator_kind(), {{"window_rows", std::int64_t{300}},
                                              {"against_served", true},
                                              {"registry", dir.file("empty")}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  stream.keys = 1;
  for (int i = 0; i < 3; ++i)
    s->consume(1, stream.next(100, true, false), out);
  s->consume_model(0, after, out);
  BOOST_TEST(out.models.size() == 1u);
  BOOST_TEST(ctx.metrics.count("served_accuracy") == 0u);
}

BOOST_AUTO_TEST_CASE(a_registry_without_against_served_is_refused) {
  std::string what;
  try {
    test::make_step(evaluator_kind(), {{"registry", std::string("models")}});
  } catch (const step_failure& e) {
    what = e.what();
  }
  BOOST_TEST(what.find("needs against_served = true") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
