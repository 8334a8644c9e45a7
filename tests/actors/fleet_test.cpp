// The trainer with `by`: a fleet learns each segment's own rule, small segments fall back
// to the shared model, and the evaluator gates on the fleet and names its worst segments.
#include "actors/evaluator.hpp"
#include "actors/trainer.hpp"
#include "compute/model_file.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace conveyor;

namespace {

/// Rows of stores whose labels follow their own rule: store s labels a row 1 when
/// x0 * cos(a_s) + x1 * sin(a_s) > 0, a_s spread around the circle (so one shared line
/// cannot fit them all); `noise` of the labels flipped. `tiny` rows of store "tiny".
std::vector<batch> stores(int per_store, int tiny, unsigned seed, double noise = 0.02) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> x0, x1, y;
  std::vector<std::string> key;
  const char* names[] = {"north", "south", "east", "west", "centre", "harbour"};
  for (int s = 0; s < 6; ++s)
    for (int r = 0; r < per_store; ++r) {
      const float a = normal(gen), b = normal(gen);
      const double angle = s * 1.047;
      float label = a * std::cos(angle) + b * std::sin(angle) > 0 ? 1.0f : 0.0f;
      if (u(gen) < noise) label = 1.0f - label;
      x0.push_back(a);
      x1.push_back(b);
      y.push_back(label);
      key.push_back(names[s]);
    }
  for (int r = 0; r < tiny; ++r) {
    x0.push_back(normal(gen));
    x1.push_back(normal(gen));
    y.push_back(x0.back() > 0 ? 1.0f : 0.0f);
    key.push_back("tiny");
  }
  // shuffle the rows so that every batch mixes stores
  std::vector<std::size_t> order(y.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), gen);
  std::vector<batch> out;
  for (std::size_t at = 0; at < order.size(); at += 200) {
    std::vector<float> bx0, bx1, by;
    std::vector<std::string> bk;
    for (std::size_t i = at; i < std::min(order.size(), at + 200); ++i) {
      bx0.push_back(x0[order[i]]);
      bx1.push_back(x1[order[i]]);
      by.push_back(y[order[i]]);
      bk.push_back(key[order[i]]);
    }
    auto b = test::make_batch({{"x0", bx0}, {"x1", bx1}, {"y", by}}, {{"store", bk}}, "y");
    b.source = "reader";
    b.sequence = out.size() + 1;
    b.first_row = at;
    out.push_back(std::move(b));
  }
  return out;
}

const std::map<std::string, dsl::value> fleet_params{
  {"model", std::string("logistic")}, {"by", std::string("store")}, {"optimizer", std::string("adam")},
  {"lr", 0.05}, {"batch", 32}, {"epochs", 30}, {"min_rows", std::int64_t{50}}};

std::unique_ptr<step> make(const kind_entry& kind, std::map<std::string, dsl::value> params) {
  return test::make_step(kind, std::move(params));
}

test::collector run(step& s, test::fake_context& ctx, const std::vector<batch>& data,
                    std::size_t port = 0) {
  test::collector out;
  s.open(ctx);
  for (const auto& b : data)
    s.consume(port, b, out);
  s.finish(out);
  while (s.produce(out)) {
  }
  return out;
}

/// Evaluates `m` on `data`: the evaluator's context and what it forwarded.
struct evaluation {
  test::fake_context ctx;
  test::collector out;
};
std::unique_ptr<evaluation> evaluate(const model_message& m, const std::vector<batch>& data,
                                     std::map<std::string, dsl::value> params = {}) {
  auto e = make(evaluator_kind(), std::move(params));
  auto r = std::make_unique<evaluation>();
  e->open(r->ctx);
  e->consume_model(0, m, r->out);
  for (const auto& b : data)
    e->consume(1, b, r->out);
  e->finish(r->out);
  while (e->produce(r->out)) {
  }
  return r;
}

bool logged(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_suite)

BOOST_AUTO_TEST_CASE(a_fleet_beats_one_shared_model_on_held_out_rows_and_small_segments_fall_back) {
  const auto train = stores(400, 20, 1);
  const auto held_out = stores(100, 10, 2, 0.0);
  auto s = make(trainer_kind(), fleet_params);
  test::fake_context ctx;
  auto out = run(*s, ctx, train);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  auto a = compute::model_file::decode(*out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(a), a.error);
  BOOST_TEST_REQUIRE(bool(a.value->fleet));
  const auto& f = *a.value->fleet;
  BOOST_TEST(f.by == "store");
  BOOST_TEST(f.segments.size() == 7u);
  BOOST_TEST(f.own_count() == 6u);
  for (const auto& seg : f.segments) {
    BOOST_TEST(seg.own == (seg.key != "tiny"), seg.key);
    BOOST_TEST(seg.rows == (seg.key == "tiny" ? 20u : 400u));
  }
  BOOST_TEST(a.value->input_columns == (std::vector<std::string>{"x0", "x1"}));
  BOOST_TEST(ctx.metrics["own_models"] == 6.0);
  BOOST_TEST(ctx.metrics["models_per_second"] > 0);

  auto fleet_eval = evaluate(out.models[0], held_out);
  auto& fleet_ctx = fleet_eval->ctx;
  auto& fleet_out = fleet_eval->out;
  BOOST_TEST(fleet_ctx.metrics["accuracy"] > 0.93);
  BOOST_TEST(fleet_ctx.metrics["segments_evaluated"] == 7.0);
  BOOST_TEST_REQUIRE(fleet_out.models.size() == 1u);
  auto gated = compute::model_file::decode(*fleet_out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(gated), gated.error);
  BOOST_TEST(gated.value->fleet->segments[0].metrics.count("accuracy") == 1u);

  // one model on the same rows, the key ignored
  auto params = fleet_params;
  params.erase("by");
  auto plain = make(trainer_kind(), params);
  test::fake_context plain_ctx;
  std::vector<batch> without_keys;
  for (const auto& b : train) {
    auto c = test::make_batch({{"x0", std::vector<float>(b.float_column(0), b.float_column(0) + b.rows)},
                               {"x1", std::vector<float>(b.float_column(1), b.float_column(1) + b.rows)},
                               {"y", std::vector<float>(b.float_column(2), b.float_column(2) + b.rows)}},
                              {}, "y");
    c.source = b.source;
    c.sequence = b.sequence;
    without_keys.push_back(std::move(c));
  }
  auto one = run(*plain, plain_ctx, without_keys);
  BOOST_TEST_REQUIRE(one.models.size() == 1u);
  auto one_eval = evaluate(one.models[0], held_out);
  auto& one_ctx = one_eval->ctx;
  BOOST_TEST_MESSAGE("held-out accuracy: fleet " << fleet_ctx.metrics["accuracy"] << ", one model "
                                                 << one_ctx.metrics["accuracy"]);
  BOOST_TEST(fleet_ctx.metrics["accuracy"] > one_ctx.metrics["accuracy"] + 0.2);
}

BOOST_AUTO_TEST_CASE(the_evaluator_gates_on_the_worst_segment_and_names_it) {
  const auto train = stores(300, 20, 3);
  auto s = make(trainer_kind(), fleet_params);
  test::fake_context ctx;
  auto out = run(*s, ctx, train);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  // "tiny" is served by the shared model, whose single line fits its rule only partly
  auto held_out = stores(100, 200, 4, 0.0);
  auto pass_eval = evaluate(out.models[0], held_out, {{"min", 0.5}});
  auto& passed_ctx = pass_eval->ctx;
  auto& passed = pass_eval->out;
  BOOST_TEST(passed.models.size() == 1u);
  const double worst = passed_ctx.metrics["accuracy_worst_segment"];
  BOOST_TEST(worst < passed_ctx.metrics["accuracy"]);
  BOOST_TEST(logged(passed_ctx.info, "worst segments: "));
  auto held_eval = evaluate(out.models[0], held_out, {{"min", 0.5}, {"segment_min", worst + 0.01}});
  auto& held_ctx = held_eval->ctx;
  auto& held = held_eval->out;
  BOOST_TEST(held.models.empty());
  BOOST_TEST(logged(held_ctx.warnings, "held back by the gate: 1 of 7 segments have accuracy outside"));
}

BOOST_AUTO_TEST_CASE(an_unknown_key_in_evaluation_rows_is_left_out_when_the_fleet_answers_it_with_an_error) {
  auto params = fleet_params;
  params["unknown_key"] = std::string("error");
  params["epochs"] = std::int64_t{3};
  auto s = make(trainer_kind(), params);
  test::fake_context ctx;
  auto out = run(*s, ctx, stores(100, 0, 5));
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  // every key has its own model and unknown keys are errors: no shared model is trained
  auto a = compute::model_file::decode(*out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(a), a.error);
  BOOST_TEST(!a.value->fleet->shared);
  BOOST_TEST(a.value->fleet->own_count() == 6u);
  BOOST_TEST(logged(ctx.info, "no shared model (nothing uses it)"));
  auto e = evaluate(out.models[0], stores(20, 7, 6));
  auto& e_ctx = e->ctx;
  auto& forwarded = e->out;
  BOOST_TEST(logged(e_ctx.warnings, "7 evaluation rows with a key the fleet does not know"));
  BOOST_TEST(forwarded.models.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_drained_fleet_emits_nothing) {
  auto s = make(trainer_kind(), fleet_params);
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  for (const auto& b : stores(200, 0, 7))
    s->consume(0, b, out);
  s->finish(out);
  ctx.stop = true;
  while (s->produce(out)) {
  }
  BOOST_TEST(out.models.empty());
  BOOST_TEST(logged(ctx.warnings, "no fleet emitted"));
}

BOOST_AUTO_TEST_CASE(a_fleet_needs_its_key_column_and_a_single_layer_model) {
  auto params = fleet_params;
  params["by"] = std::string("region");
  auto s = make(trainer_kind(), params);
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  const auto data = stores(10, 0, 8);
  BOOST_CHECK_EXCEPTION(s->consume(0, data[0], out), step_failure, [](const step_failure& e) {
    return std::string(e.what()).find("no categorical column 'region'") != std::string::npos;
  });
  params = fleet_params;
  params["model"] = std::string("mlp");
  params["layers"] = dsl::value{dsl::list_value{dsl::value{std::int64_t{2}}, dsl::value{std::int64_t{4}},
                                                dsl::value{std::int64_t{1}}}};
  BOOST_CHECK_THROW(make(trainer_kind(), params), step_failure);
}

BOOST_AUTO_TEST_CASE(a_newton_fleet_reaches_each_segments_optimum_in_a_few_iterations) {
  auto params = fleet_params;
  params["optimizer"] = std::string("newton");
  params["weight_decay"] = 1.0 / 400;
  auto s = make(trainer_kind(), params);
  test::fake_context ctx;
  auto out = run(*s, ctx, stores(400, 20, 1));
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(ctx.metrics["own_models"] == 6.0);
  auto a = compute::model_file::decode(*out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(a), a.error);
  for (const auto& seg : a.value->fleet->segments)
    if (seg.own) {
      // Newton's iterations are the segment's epochs: a handful, far from the 30 allowed
      BOOST_TEST(seg.metrics.at("epochs") >= 2.0, seg.key);
      BOOST_TEST(seg.metrics.at("epochs") <= 10.0, seg.key);
    }
  auto e = evaluate(out.models[0], stores(100, 10, 2, 0.0));
  BOOST_TEST(e->ctx.metrics["accuracy"] > 0.93);
}

BOOST_AUTO_TEST_CASE(newton_is_refused_for_one_model_and_for_softmax) {
  const auto refusal = [](std::map<std::string, dsl::value> params) {
    params["optimizer"] = std::string("newton");
    try {
      make(trainer_kind(), params);
    } catch (const step_failure& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto one = fleet_params;
  one.erase("by");
  BOOST_TEST(refusal(one).find("trains fleets (set by = \"COLUMN\")") != std::string::npos,
             refusal(one));
  auto softmax = fleet_params;
  softmax["model"] = std::string("softmax");
  BOOST_TEST(refusal(softmax).find("one-output models") != std::string::npos, refusal(softmax));
  BOOST_TEST(refusal(fleet_params) == "accepted");
}

BOOST_AUTO_TEST_SUITE_END()
