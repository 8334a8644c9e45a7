// The trainer on a never-ending input: it retrains on a bounded window of the newest rows
// when a trigger fires (a row count, a clock, a drift step's model, a refitted upstream
// preprocessing), with single models and fleets, optionally from the previous model.
#include "actors/retraining.hpp"
#include "actors/trainer.hpp"
#include "compute/model_file.hpp"
#include "shifting_stream.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

std::map<std::string, dsl::value> single(std::map<std::string, dsl::value> extra = {}) {
  std::map<std::string, dsl::value> p{{"model", std::string("logistic")},
                                      {"optimizer", std::string("adam")},
                                      {"lr", 0.05},
                                      {"batch", std::int64_t{32}},
                                      {"epochs", std::int64_t{5}}};
  for (auto& [k, v] : extra)
    p[k] = v;
  return p;
}

compute::model_artifact decode(const model_message& m) {
  auto d = compute::model_file::decode(*m.artifact);
  BOOST_TEST_REQUIRE(d.value.has_value(), d.error);
  return *d.value;
}

/// Accuracy of a single logistic model on a batch with columns x0, x1, y.
double accuracy(const compute::model_artifact& a, const batch& b) {
  auto m = compute::instantiate(a);
  std::vector<float> x;
  for (std::uint32_t r = 0; r < b.rows; ++r) {
    x.push_back(b.float_column(0)[r]);
    x.push_back(b.float_column(1)[r]);
  }
  std::vector<float> p(b.rows);
  compute::predict_workspace ws;
  m.predict(x.data(), static_cast<int>(b.rows), p.data(), ws);
  int right = 0;
  for (std::uint32_t r = 0; r < b.rows; ++r)
    right += (p[r] > 0.5f) == (b.float_column(2)[r] > 0.5f) ? 1 : 0;
  return static_cast<double>(right) / b.rows;
}

std::string failure_of(std::map<std::string, dsl::value> params) {
  try {
    test::make_step(trainer_kind(), std::move(params));
  } catch (const step_failure& e) {
    return e.what();
  }
  return "";
}

} // namespace

BOOST_AUTO_TEST_SUITE(retraining_suite)

BOOST_AUTO_TEST_CASE(retrains_every_n_rows_on_a_window_of_at_most_window_rows) {
  auto s = test::make_step(trainer_kind(), single({{"window_rows", std::int64_t{1000}},
                                                   {"retrain_every_rows", std::int64_t{1000}}}));
  auto* r = dynamic_cast<retraining*>(s.get());
  BOOST_TEST_REQUIRE(r != nullptr);
  BOOST_TEST(s->acknowledge_on_consume());
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  stream.keys = 1; // one rule: a single model can learn it
  for (int i = 0; i < 9; ++i) // 900 rows: not full yet
    s->consume(0, stream.next(100, false, false), out);
  BOOST_TEST(out.models.empty());
  s->consume(0, stream.next(100, false, false), out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  for (int i = 0; i < 25; ++i)
    s->consume(0, stream.next(100, false, false), out);
  BOOST_TEST(out.models.size() == 3u); // at 1000, 2000 and 3000 new rows
  BOOST_TEST(r->window_rows() == 1000u);
  BOOST_TEST(ctx.metrics["retrains"] == 3.0);
  const auto a = decode(out.models.back());
  BOOST_TEST_REQUIRE(a.trained_on.has_value());
  BOOST_TEST(a.trained_on->features.size() == 2u);
  BOOST_TEST(accuracy(a, stream.next(1000, false, false)) > 0.85);
}

BOOST_AUTO_TEST_CASE(a_model_on_the_retrain_port_empties_the_window_and_the_next_full_window_learns_the_new_rule) {
  test::temp_dir dir;
  auto s = test::make_step(trainer_kind(), single({{"window_rows", std::int64_t{800}},
                                                   {"warm_start", true},
                                                   {"epochs", std::int64_t{20}},
                                                   {"checkpoint_dir", dir.file("ckpt")}}));
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  stream.keys = 1;
  for (int i = 0; i < 10; ++i)
    s->consume(0, stream.next(100, false, false), out);
  BOOST_TEST(out.models.size() == 1u); // the first full window; no trigger since
  s->consume_model(1, model_message{"served", nullptr, 3}, out);
  for (int i = 0; i < 7; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(out.models.size() == 1u); // 700 rows since the drift: waiting for a full window
  s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST_REQUIRE(out.models.size() == 2u);
  const auto after = stream.next(1000, true, false);
  BOOST_TEST(accuracy(decode(out.models[0]), after) < 0.5);
  BOOST_TEST(accuracy(decode(out.models[1]), after) > 0.85);

  // The next trigger warm-starts from the model just emitted.
  s->consume_model(1, model_message{"served", out.models[1].artifact, 4}, out);
  for (int i = 0; i < 8; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST_REQUIRE(out.models.size() == 3u);
  bool resumed = false;
  for (const auto& line : ctx.info)
    resumed = resumed || line.find("resuming from checkpoint") != std::string::npos;
  BOOST_TEST(resumed);
}

BOOST_AUTO_TEST_CASE(a_refitted_upstream_preprocessing_empties_the_window_and_triggers_a_retrain) {
  auto s = test::make_step(trainer_kind(), single({{"window_rows", std::int64_t{500}}}));
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  auto fit = [](double scale) {
    return std::make_shared<const preprocessing>(
      preprocessing{{{column_op::kind::scale, "x0", scale, 0, {}}}});
  };
  const auto first = fit(1.0), second = fit(2.0);
  for (int i = 0; i < 8; ++i) {
    auto b = stream.next(100, false, false);
    b.transform = first;
    s->consume(0, std::move(b), out);
  }
  BOOST_TEST(out.models.size() == 1u); // the first full window
  for (int i = 0; i < 5; ++i) {
    auto b = stream.next(100, false, false);
    b.transform = second;
    s->consume(0, std::move(b), out);
  }
  BOOST_TEST_REQUIRE(out.models.size() == 2u);
  BOOST_TEST((decode(out.models[1]).preprocessing == *second));
}

BOOST_AUTO_TEST_CASE(retrain_every_fires_on_the_clock_and_a_window_duration_drops_old_rows) {
  auto s = test::make_step(trainer_kind(),
                           single({{"window", dsl::value{dsl::duration_value{10'000'000'000}}},
                                   {"retrain_every", dsl::value{dsl::duration_value{30'000'000'000}}}}));
  auto* r = dynamic_cast<retraining*>(s.get());
  BOOST_TEST_REQUIRE(r != nullptr);
  auto now = retraining::clock_type::now();
  r->set_clock([&] { return now; });
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 20; ++i) { // 20 s of rows, 100 a second
    s->consume(0, stream.next(100, false, false), out);
    now += std::chrono::seconds(1);
  }
  BOOST_TEST(out.models.size() == 1u); // the first full window, at 10 s
  BOOST_TEST(r->window_rows() <= 1100u); // the last 10 s
  for (int i = 0; i < 20; ++i) { // up to 39 s: retrain_every (30 s) not yet elapsed
    s->consume(0, stream.next(100, false, false), out);
    now += std::chrono::seconds(1);
  }
  BOOST_TEST(out.models.size() == 1u);
  s->consume(0, stream.next(100, false, false), out); // 40 s
  BOOST_TEST(out.models.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_fleet_retrains_per_segment_after_the_rule_shifts) {
  auto s = test::make_step(trainer_kind(),
                           {{"model", std::string("logistic")}, {"by", std::string("key")},
                            {"optimizer", std::string("adam")}, {"lr", 0.05},
                            {"batch", std::int64_t{32}}, {"epochs", std::int64_t{20}},
                            {"min_rows", std::int64_t{50}}, {"window_rows", std::int64_t{2000}},
                            {"retrain_every_rows", std::int64_t{2000}}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, false), out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, true), out);
  BOOST_TEST_REQUIRE(out.models.size() == 2u);
  const auto a = decode(out.models[1]);
  BOOST_TEST_REQUIRE(a.fleet.has_value());
  BOOST_TEST(a.fleet->own_count() == 4u);
  BOOST_TEST(a.trained_on.has_value());
}

namespace {

std::map<std::string, std::map<std::string, double>> segment_metrics(const model_message& m) {
  const auto a = decode(m);
  BOOST_TEST_REQUIRE(a.fleet.has_value());
  std::map<std::string, std::map<std::string, double>> out;
  for (const auto& seg : a.fleet->segments)
    out[seg.key] = seg.metrics;
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_warm_started_fleet_starts_each_known_key_from_its_previous_model_and_new_keys_afresh) {
  // Two retraining fleets see the same rows: four keys, then a window where a fifth key
  // appears (the same distribution). With warm_start the known keys start at their previous optimum (Newton
  // then needs fewer iterations, Adam stops sooner); the new key trains as from zero.
  for (const std::string optimizer : {"newton", "adam"}) {
    auto params = [&](bool warm) {
      return std::map<std::string, dsl::value>{
        {"model", std::string("logistic")}, {"by", std::string("key")},
        {"optimizer", optimizer}, {"lr", 0.05}, {"batch", std::int64_t{32}},
        {"weight_decay", 0.01}, // the rows are separable: a finite optimum
        {"epochs", std::int64_t{100}}, {"patience", std::int64_t{3}},
        {"min_rows", std::int64_t{50}}, {"window_rows", std::int64_t{4000}},
        {"retrain_every_rows", std::int64_t{4000}}, {"warm_start", warm}};
    };
    auto warm = test::make_step(trainer_kind(), params(true));
    auto cold = test::make_step(trainer_kind(), params(false));
    test::fake_context warm_ctx, cold_ctx;
    test::collector warm_out, cold_out;
    warm->open(warm_ctx);
    cold->open(cold_ctx);
    test::shifting_stream stream;
    for (int window = 0; window < 2; ++window) {
      stream.keys = window == 0 ? 4 : 5;
      for (int i = 0; i < 40; ++i) {
        const auto b = stream.next(100, false);
        warm->consume(0, b, warm_out);
        cold->consume(0, b, cold_out);
      }
    }
    BOOST_TEST_REQUIRE(warm_out.models.size() == 2u);
    BOOST_TEST_REQUIRE(cold_out.models.size() == 2u);
    BOOST_TEST(decode(warm_out.models[1]).metrics.at("warm_started") == 4.0);
    BOOST_TEST(decode(cold_out.models[1]).metrics.count("warm_started") == 0u);
    const auto w = segment_metrics(warm_out.models[1]);
    const auto c = segment_metrics(cold_out.models[1]);
    BOOST_TEST_REQUIRE(w.size() == 5u);
    // Another window of the same distribution: each key's optimum moved a little, so
    // the keys together need fewer epochs (Newton near an optimum can still spend an
    // iteration or two halving steps that float rounding cannot tell apart) and end as
    // well (the compute tests check the same rows exactly).
    double warm_epochs = 0, cold_epochs = 0;
    for (const auto& key : {"k0", "k1", "k2", "k3"}) {
      BOOST_TEST_MESSAGE(optimizer << " " << key << ": epochs warm " << w.at(key).at("epochs")
                                   << ", cold " << c.at(key).at("epochs"));
      warm_epochs += w.at(key).at("epochs");
      cold_epochs += c.at(key).at("epochs");
      BOOST_TEST(w.at(key).at("loss") <= c.at(key).at("loss") * 1.05 + 1e-6);
    }
    BOOST_TEST(warm_epochs < cold_epochs);
    // the new key: the same rows, the same start, the same training
    BOOST_TEST(w.at("k4").at("epochs") == c.at("k4").at("epochs"));
    BOOST_TEST(w.at("k4").at("loss") == c.at("k4").at("loss"));
    bool said = false;
    for (const auto& line : warm_ctx.info)
      said = said || line.find("warm start: 4 of 5 keys") != std::string::npos;
    BOOST_TEST(said);
  }
}

BOOST_AUTO_TEST_CASE(a_fleet_warm_start_across_a_refitted_preprocessing_starts_every_key_afresh) {
  auto s = test::make_step(trainer_kind(),
                           {{"model", std::string("logistic")}, {"by", std::string("key")},
                            {"optimizer", std::string("newton")}, {"epochs", std::int64_t{50}},
                            {"min_rows", std::int64_t{50}}, {"window_rows", std::int64_t{2000}},
                            {"retrain_every_rows", std::int64_t{2000}}, {"warm_start", true}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 20; ++i)
    s->consume(0, stream.next(100, false), out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  auto refitted = std::make_shared<preprocessing>();
  refitted->ops.push_back(column_op{column_op::kind::scale, "x0", 0.5, 0, {}});
  for (int i = 0; i < 20; ++i) {
    auto b = stream.next(100, false);
    b.transform = refitted;
    s->consume(0, std::move(b), out);
  }
  BOOST_TEST_REQUIRE(out.models.size() == 2u);
  BOOST_TEST(decode(out.models[1]).metrics.at("warm_started") == 0.0);
  bool said = false;
  for (const auto& line : ctx.info)
    said = said || line.find("warm start: the preprocessing changed (the cleaner refitted); "
                             "every key starts from zero") != std::string::npos;
  BOOST_TEST(said);
}

BOOST_AUTO_TEST_CASE(retraining_parameters_are_checked_with_messages_that_say_what_is_missing) {
  BOOST_TEST(failure_of(single({{"retrain_every_rows", std::int64_t{100}}}))
               .find("set window_rows or window") != std::string::npos);
  BOOST_TEST(failure_of(single({{"window_rows", std::int64_t{100}},
                                {"devices", std::string("cpu:2")}}))
               .find("trains one replica") != std::string::npos);
  BOOST_TEST(failure_of(single({{"window_rows", std::int64_t{-1}}})).find("'window_rows'") !=
             std::string::npos);
  BOOST_TEST(failure_of(single({{"window_rows", std::int64_t{100}},
                                {"emit_every", std::int64_t{1}}}))
               .find("takes no checkpoint_every") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
