// trainer: learns, rejects bad rows naming them, diverges cleanly, N replicas match one
// replica, and a crash mid-training resumes from the last checkpoint (through run_locally).
#include "actors/builtin_kinds.hpp"
#include "compute/backend_factory.hpp"
#include "compute/checkpoint.hpp"
#include "compute/metrics.hpp"
#include "compute/model_file.hpp"
#include "actors/trainer.hpp"
#include "dsl/front_end.hpp"
#include "runtime/local_run.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <random>

using namespace conveyor;
namespace tt = boost::test_tools;

namespace {

struct training_context : test::fake_context {
  int index = 0;
  int count = 1;
  std::vector<std::deque<peer_message>>* inboxes = nullptr;

  int replica() const override { return index; }
  int replicas() const override { return count; }
  void send_to_peers(std::uint64_t tag, std::shared_ptr<const std::string> data) override {
    if (!inboxes)
      return;
    for (int r = 0; r < count; ++r)
      if (r != index)
        (*inboxes)[static_cast<std::size_t>(r)].push_back(peer_message{index, tag, data});
  }
};


/// Rows (x0, x1) with label 1 when x0 + x1 > 0, in batches of `per_batch`.
std::vector<batch> separable(std::size_t rows, std::size_t per_batch, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<batch> out;
  for (std::size_t start = 0; start < rows; start += per_batch) {
    std::vector<float> x0, x1, y;
    for (std::size_t i = start; i < std::min(rows, start + per_batch); ++i) {
      float a = n(rng), b = n(rng);
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

std::unique_ptr<step> make_trainer(std::map<std::string, dsl::value> params, int replica = 0,
                                   int replicas = 1) {
  step_config c;
  c.name = replica == 0 ? "fit" : "fit#" + std::to_string(replica);
  c.graph = "test_graph";
  c.params = test::params_for(trainer_kind(), std::move(params));
  c.replica = replica;
  c.replicas = replicas;
  return trainer_kind().factory(c);
}

/// Feeds `data` to `s`, finishes and produces to the end.
test::collector train(step& s, training_context& ctx, const std::vector<batch>& data) {
  test::collector out;
  s.open(ctx);
  for (const auto& b : data)
    s.consume(0, b, out);
  s.finish(out);
  int guard = 0;
  while (s.produce(out))
    BOOST_TEST_REQUIRE(++guard < 1000000);
  return out;
}

compute::model_artifact decode_one(const test::collector& out) {
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  auto d = compute::model_file::decode(*out.models[0].artifact);
  BOOST_TEST_REQUIRE(bool(d), d.error);
  return *d.value;
}

double accuracy_on(const compute::model_artifact& a, const std::vector<batch>& data) {
  auto m = compute::instantiate(a);
  std::vector<float> x, y;
  for (const auto& b : data)
    for (std::size_t i = 0; i < b.rows; ++i) {
      x.push_back(test::cell(b, "x0", i));
      x.push_back(test::cell(b, "x1", i));
      y.push_back(test::cell(b, "y", i));
    }
  std::vector<float> p(y.size() * static_cast<std::size_t>(m.output_width()));
  m.predict(x.data(), static_cast<int>(y.size()), p.data());
  return compute::accuracy(p.data(), y.data(), y.size(), m.output_width());
}

std::string failure_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const step_failure& e) {
    return e.what();
  }
  return "(no failure)";
}

bool logged(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

/// Opens `s`, feeds it `data` and finishes it: what the runtime does before `produce`.
void load(step& s, training_context& ctx, const std::vector<batch>& data, test::collector& out) {
  s.open(ctx);
  for (const auto& b : data)
    s.consume(0, b, out);
  s.finish(out);
}

const std::map<std::string, dsl::value> small_mlp{
  {"model", std::string("mlp")},
  {"layers", dsl::value{dsl::list_value{dsl::value{std::int64_t{2}}, dsl::value{std::int64_t{6}},
                                        dsl::value{std::int64_t{2}}}}},
  {"lr", 0.1}, {"momentum", 0.9}, {"batch", 25}, {"epochs", 6}};

} // namespace

BOOST_AUTO_TEST_SUITE(trainer_suite)

BOOST_AUTO_TEST_CASE(a_trainer_learns_a_separable_problem_and_emits_one_model) {
  auto data = separable(400, 64);
  auto s = make_trainer({{"model", std::string("logistic")}, {"lr", 0.5}, {"batch", 32},
                         {"epochs", 10}});
  training_context ctx;
  auto out = train(*s, ctx, data);
  auto a = decode_one(out);
  BOOST_TEST(out.models[0].name == "fit");
  BOOST_TEST(a.feature_columns == (std::vector<std::string>{"x0", "x1"}));
  BOOST_TEST(a.input_columns == (std::vector<std::string>{"x0", "x1"}));
  BOOST_TEST(a.provenance.step == "fit");
  BOOST_TEST(a.provenance.graph == "test_graph");
  BOOST_TEST(accuracy_on(a, data) > 0.95);
  BOOST_TEST(ctx.metrics["steps"] == 130.0); // ceil(400 / 32) * 10
  BOOST_TEST(ctx.metrics["loss"] < 0.3);
  BOOST_TEST(a.metrics.count("loss") == 1u);
}

BOOST_AUTO_TEST_CASE(emit_every_sends_a_model_every_n_epochs_and_the_final_one) {
  auto data = separable(200, 50);
  auto s = make_trainer({{"model", std::string("logistic")}, {"lr", 0.5}, {"batch", 50},
                         {"epochs", 7}, {"emit_every", 2}});
  training_context ctx;
  auto out = train(*s, ctx, data);
  BOOST_TEST_REQUIRE(out.models.size() == 4u); // after epochs 2, 4 and 6, and the end (7)
  std::vector<double> epochs;
  for (const auto& m : out.models) {
    auto d = compute::model_file::decode(*m.artifact);
    BOOST_TEST_REQUIRE(bool(d), d.error);
    epochs.push_back(d.value->metrics.at("epochs"));
  }
  BOOST_TEST(epochs == (std::vector<double>{2, 4, 6, 7}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_mlp_and_a_softmax_learn_too) {
  auto data = separable(400, 100, 3);
  {
    auto s = make_trainer({{"model", std::string("mlp")},
                           {"layers", dsl::value{dsl::list_value{dsl::value{std::int64_t{2}},
                                                                 dsl::value{std::int64_t{8}},
                                                                 dsl::value{std::int64_t{2}}}}},
                           {"optimizer", std::string("adam")}, {"lr", 0.05}, {"batch", 50},
                           {"epochs", 20}});
    training_context ctx;
    auto a = decode_one(train(*s, ctx, data));
    BOOST_TEST(accuracy_on(a, data) > 0.93);
  }
  {
    auto s = make_trainer({{"model", std::string("softmax")}, {"lr", 0.5}, {"batch", 50},
                           {"epochs", 20}});
    training_context ctx;
    auto a = decode_one(train(*s, ctx, data));
    BOOST_TEST(a.classes == 2);
    BOOST_TEST(accuracy_on(a, data) > 0.95);
  }
}

BOOST_AUTO_TEST_CASE(a_nan_feature_fails_naming_the_source_row_and_column) {
  auto data = separable(10, 10);
  data[0].first_row = 100;
  data[0].float_column(1)[3] = std::nanf("");
  auto s = make_trainer({{"model", std::string("logistic")}});
  training_context ctx;
  auto msg = failure_of([&] { train(*s, ctx, data); });
  BOOST_TEST(msg.find("row 103") != std::string::npos, msg);
  BOOST_TEST(msg.find("'x1'") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(a_label_out_of_range_fails_naming_the_row) {
  auto data = separable(10, 10);
  data[0].first_row = 50;
  data[0].float_column(2)[7] = 2.0f;
  auto s = make_trainer({{"model", std::string("logistic")}});
  training_context ctx;
  auto msg = failure_of([&] { train(*s, ctx, data); });
  BOOST_TEST(msg.find("row 57") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(mlp_layers_that_do_not_match_the_features_fail_clearly) {
  auto data = separable(10, 10);
  auto s = make_trainer({{"model", std::string("mlp")},
                         {"layers", dsl::value{dsl::list_value{dsl::value{std::int64_t{3}},
                                                               dsl::value{std::int64_t{2}}}}}});
  training_context ctx;
  auto msg = failure_of([&] { train(*s, ctx, data); });
  BOOST_TEST(msg.find("layers[0] = 3 but the data has 2 feature columns") != std::string::npos,
             msg);
}

BOOST_AUTO_TEST_CASE(devices_give_the_replica_count) {
  BOOST_TEST(parse_devices("cpu:1").count == 1);
  BOOST_TEST(parse_devices("cpu:4").count == 4);
  BOOST_TEST(parse_devices("cpu:4").device_of(3) == "cpu");
  BOOST_TEST(failure_of([] { parse_devices("cpu:x"); }) != "(no failure)");
  BOOST_TEST(failure_of([] { parse_devices("tpu:1"); }) != "(no failure)");
}

// Machines without a GPU (and builds without CUDA): every GPU form fails with the reason,
// and "auto" trains on one CPU replica.
BOOST_AUTO_TEST_CASE(without_a_gpu_gpu_devices_fail_clearly_and_auto_picks_the_cpu,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       return conveyor::compute::gpu_count() == 0;
                     })) {
  const std::string why = conveyor::compute::backend_built("cuda")
                              ? "no GPU is usable on this machine"
                              : "GPU training is not built in this build";
  for (const char* d : {"gpu:0", "gpu:all", "gpu:0,1", "cuda:1"}) {
    auto msg = failure_of([&] { parse_devices(d); });
    BOOST_TEST(msg.find(std::string("devices = \"") + d + "\": " + why) != std::string::npos,
               msg);
  }
  const auto automatic = parse_devices("auto");
  BOOST_TEST(automatic.kind == "cpu");
  BOOST_TEST(automatic.count == 1);
  BOOST_TEST(automatic.device_of(0) == "cpu");
}

BOOST_AUTO_TEST_CASE(precision_other_than_fp32_needs_gpu_devices_except_under_auto) {
  auto msg = failure_of([] {
    make_trainer({{"model", std::string("logistic")}, {"precision", std::string("bf16")}});
  });
  BOOST_TEST(msg.find("precision = \"bf16\" needs GPU devices") != std::string::npos, msg);
  if (conveyor::compute::gpu_count() == 0)
    BOOST_TEST(failure_of([] {
                 make_trainer({{"model", std::string("logistic")},
                               {"precision", std::string("bf16")},
                               {"devices", std::string("auto")}});
               }) == "(no failure)");
}

BOOST_AUTO_TEST_CASE(a_diverging_run_fails_and_publishes_nothing) {
  std::vector<float> x, y;
  for (int i = 0; i < 64; ++i) {
    x.push_back(static_cast<float>(i) * 1000.0f);
    y.push_back(static_cast<float>(i) * 3000.0f);
  }
  auto b = test::make_batch({{"x", x}, {"y", y}}, {}, "y");
  b.source = "src";
  b.sequence = 1;
  auto s = make_trainer({{"model", std::string("linear")}, {"lr", 10.0}, {"batch", 8},
                         {"epochs", 50}});
  training_context ctx;
  test::collector out;
  std::string msg;
  try {
    s->open(ctx);
    s->consume(0, b, out);
    s->finish(out);
    while (s->produce(out)) {
    }
  } catch (const step_failure& e) {
    msg = e.what();
  }
  BOOST_TEST(msg.find("training diverged: loss became NaN at epoch") != std::string::npos, msg);
  BOOST_TEST(out.models.empty());
}

BOOST_AUTO_TEST_CASE(two_replicas_reach_the_weights_of_one_replica_with_the_same_global_batch) {
  auto data = separable(300, 40, 5);
  std::map<std::string, dsl::value> p{
    {"model", std::string("mlp")},
    {"layers", dsl::value{dsl::list_value{dsl::value{std::int64_t{2}}, dsl::value{std::int64_t{6}},
                                          dsl::value{std::int64_t{2}}}}},
    {"lr", 0.1}, {"momentum", 0.9}, {"batch", 25}, {"epochs", 3}, {"devices", std::string("cpu:2")}};
  auto one = make_trainer(p);
  training_context ctx1;
  auto single = decode_one(train(*one, ctx1, data));

  std::vector<std::deque<peer_message>> inboxes(2);
  std::vector<training_context> ctx(2);
  std::vector<std::unique_ptr<step>> steps;
  std::vector<test::collector> outs(2);
  for (int r = 0; r < 2; ++r) {
    ctx[static_cast<std::size_t>(r)].index = r;
    ctx[static_cast<std::size_t>(r)].count = 2;
    ctx[static_cast<std::size_t>(r)].inboxes = &inboxes;
    steps.push_back(make_trainer(p, r, 2));
    steps.back()->open(ctx[static_cast<std::size_t>(r)]);
  }
  // replica 1 gets the batches in another order: the trainer sorts them
  for (std::size_t i = 0; i < data.size(); ++i) {
    steps[0]->consume(0, data[i], outs[0]);
    steps[1]->consume(0, data[data.size() - 1 - i], outs[1]);
  }
  std::vector<bool> running{true, true};
  for (int r = 0; r < 2; ++r)
    steps[static_cast<std::size_t>(r)]->finish(outs[static_cast<std::size_t>(r)]);
  int guard = 0;
  while (running[0] || running[1]) {
    BOOST_TEST_REQUIRE(++guard < 1000000);
    for (std::size_t r = 0; r < 2; ++r) {
      while (!inboxes[r].empty()) {
        steps[r]->consume_peer(inboxes[r].front());
        inboxes[r].pop_front();
      }
      if (running[r] && !steps[r]->blocked())
        running[r] = steps[r]->produce(outs[r]);
    }
  }
  BOOST_TEST(outs[1].models.empty()); // replica 0 publishes
  auto pair = decode_one(outs[0]);
  BOOST_TEST_REQUIRE(pair.weights.size() == single.weights.size());
  double worst = 0;
  for (std::size_t i = 0; i < pair.weights.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(pair.weights[i] - single.weights[i])));
  BOOST_TEST(worst < 1e-4);
  BOOST_TEST(ctx[0].metrics["steps"] == 36.0); // ceil(300 / 25) * 3
}

BOOST_AUTO_TEST_CASE(a_trainer_crashing_mid_run_resumes_from_its_checkpoint_and_passes_the_gate) {
  for (std::string devices : {"cpu:1", "cpu:2"}) {
    test::temp_dir dir;
    std::string csv = "x0,x1,y\n";
    std::mt19937 rng(11);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (int i = 0; i < 300; ++i) {
      float a = n(rng), b = n(rng);
      csv += std::to_string(a) + "," + std::to_string(b) + "," + (a + b > 0 ? "1" : "0") + "\n";
    }
    test::write_file(dir.file("data.csv"), csv);
    std::string text = "graph t\n"
                       "node data = csv_reader { path = \"" + dir.file("data.csv") +
                       "\", label = \"y\", batch = 50 }\n"
                       "node fit = trainer { model = \"logistic\", lr = 0.5, batch = 20, "
                       "epochs = 4, checkpoint_every = 5, checkpoint_dir = \"" +
                       dir.file("ckpt") + "\", fail_at_step = 23, devices = \"" + devices +
                       "\", max_restarts = 3, backoff = 5ms }\n"
                       "node check = evaluator { metric = \"accuracy\", min = 0.9 }\n"
                       "data -> fit\n"
                       "fit.model -> check.model\n"
                       "data -> check.data\n";
    kind_registry reg;
    register_builtin_kinds(reg);
    dsl::compile_options copts;
    copts.file_name = "t.flow";
    auto compiled = dsl::compile(text, reg, copts);
    BOOST_TEST_REQUIRE(compiled.ok(), dsl::format_diagnostics(compiled.diagnostics, text));
    local_run_options options;
    options.file_name = "t.flow";
    options.graph_source = text;
    options.threads = 2;
    auto report = run_locally(*compiled.spec, reg, options);
    BOOST_TEST_REQUIRE((report.status == run_status::completed), report.to_json());
    const step_summary* fit = nullptr;
    const step_summary* check = nullptr;
    for (const auto& s : report.steps) {
      if (s.step == "fit")
        fit = &s;
      if (s.step == "check")
        check = &s;
    }
    BOOST_TEST_REQUIRE(fit);
    BOOST_TEST_REQUIRE(check);
    // one group restart: the report counts it once per replica instance
    BOOST_TEST(fit->replicas == (devices == "cpu:1" ? 1 : 2));
    BOOST_TEST(fit->restarts == 1, devices << " restarts " << fit->restarts); // a group restarts as one
    BOOST_TEST(fit->metrics.at("steps") == 60.0, devices); // 15 steps per epoch * 4
    BOOST_TEST(fit->metrics.at("resumed_from_step") == 20.0, devices);
    BOOST_TEST(check->metrics.at("accuracy") > 0.9, devices);
    BOOST_TEST(std::filesystem::exists(dir.file("ckpt/55.ckpt"))); // the newest two are kept
    BOOST_TEST(std::filesystem::exists(dir.file("ckpt/50.ckpt")));
    BOOST_TEST(!std::filesystem::exists(dir.file("ckpt/45.ckpt")));
  }
}

// The watchdog: replica 1 stops taking part at step 23 (hang_at_step), so replica 0's
// all-reduce never completes; after collective_timeout it aborts the collective, the group
// restarts as one from the checkpoint at step 20 and finishes.
BOOST_AUTO_TEST_CASE(a_hung_replica_trips_the_watchdog_and_the_group_resumes_from_its_checkpoint) {
  test::temp_dir dir;
  std::string csv = "x0,x1,y\n";
  std::mt19937 rng(11);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (int i = 0; i < 300; ++i) {
    float a = n(rng), b = n(rng);
    csv += std::to_string(a) + "," + std::to_string(b) + "," + (a + b > 0 ? "1" : "0") + "\n";
  }
  test::write_file(dir.file("data.csv"), csv);
  std::string text = "graph t\n"
                     "node data = csv_reader { path = \"" + dir.file("data.csv") +
                     "\", label = \"y\", batch = 50 }\n"
                     "node fit = trainer { model = \"logistic\", lr = 0.5, batch = 20, "
                     "epochs = 4, checkpoint_every = 5, checkpoint_dir = \"" +
                     dir.file("ckpt") + "\", hang_at_step = 23, collective_timeout = 200ms, "
                     "devices = \"cpu:2\", max_restarts = 3, backoff = 5ms }\n"
                     "node check = evaluator { metric = \"accuracy\", min = 0.9 }\n"
                     "data -> fit\n"
                     "fit.model -> check.model\n"
                     "data -> check.data\n";
  kind_registry reg;
  register_builtin_kinds(reg);
  dsl::compile_options copts;
  copts.file_name = "t.flow";
  auto compiled = dsl::compile(text, reg, copts);
  BOOST_TEST_REQUIRE(compiled.ok(), dsl::format_diagnostics(compiled.diagnostics, text));
  local_run_options options;
  options.file_name = "t.flow";
  options.graph_source = text;
  options.threads = 2;
  auto report = run_locally(*compiled.spec, reg, options);
  BOOST_TEST_REQUIRE((report.status == run_status::completed), report.to_json());
  const step_summary* fit = nullptr;
  const step_summary* check = nullptr;
  for (const auto& s : report.steps) {
    if (s.step == "fit")
      fit = &s;
    if (s.step == "check")
      check = &s;
  }
  BOOST_TEST_REQUIRE(fit);
  BOOST_TEST_REQUIRE(check);
  BOOST_TEST(fit->restarts == 1); // the group restarts as one
  BOOST_TEST(fit->metrics.at("steps") == 60.0);
  BOOST_TEST(fit->metrics.at("resumed_from_step") == 20.0);
  BOOST_TEST(check->metrics.at("accuracy") > 0.9);
}

BOOST_AUTO_TEST_CASE(collective_timeout_is_checked_and_defaults_to_a_minute) {
  BOOST_TEST(trainer_options::from(test::params_for(trainer_kind(),
                                                     {{"model", std::string("logistic")}}))
                 .collective_timeout_ms == 60000);
  auto msg = failure_of([] {
    make_trainer({{"model", std::string("logistic")},
                  {"collective_timeout", dsl::value{dsl::duration_value{0}}}});
  });
  BOOST_TEST(msg.find("'collective_timeout' must be between 1ms and 24h") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(a_retrain_request_to_a_trainer_without_a_window_is_ignored_with_one_warning) {
  for (const char* by : {"", "g"}) {
    std::map<std::string, dsl::value> params{{"model", std::string("logistic")}};
    if (*by)
      params["by"] = std::string(by);
    auto s = make_trainer(std::move(params));
    training_context ctx;
    s->open(ctx);
    test::collector out;
    for (std::uint64_t v : {3u, 4u})
      s->consume_model(1, model_message{"fleet", std::make_shared<const std::string>("x"), v}, out);
    BOOST_TEST_CONTEXT("by = '" << by << "'") {
      BOOST_TEST(out.models.empty());
      BOOST_REQUIRE_EQUAL(ctx.warnings.size(), 1u);
      BOOST_TEST(ctx.warnings[0].find("model 'fleet' version 3") != std::string::npos);
      BOOST_TEST(ctx.warnings[0].find("window_rows or window") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trainer_drain)

BOOST_AUTO_TEST_CASE(a_drain_stops_training_at_the_next_step_writes_a_checkpoint_and_emits_no_model) {
  test::temp_dir dir;
  auto s = make_trainer({{"model", std::string("logistic")}, {"lr", 0.1}, {"batch", 32},
                         {"epochs", 100000}, {"checkpoint_dir", dir.file("ckpt")}});
  training_context ctx;
  test::collector out;
  load(*s, ctx, separable(400, 64), out);
  BOOST_TEST_REQUIRE(s->produce(out)); // one slice of steps
  BOOST_TEST_REQUIRE(!ctx.progress.empty());
  const auto before = ctx.progress.back().step_in_run;
  ctx.stop = true;
  BOOST_TEST(!s->produce(out)); // the stream ends after one more step...
  BOOST_TEST(out.models.empty()); // ...and no half-trained model goes out as if final
  BOOST_TEST(ctx.metrics["stopped_at_step"] == static_cast<double>(before + 1));
  BOOST_TEST(ctx.metrics.count("loss") == 0u);
  const auto path = dir.file("ckpt/" + std::to_string(before + 1) + ".ckpt");
  auto c = compute::checkpoint_file::load(path);
  BOOST_TEST_REQUIRE(bool(c), c.error);
  BOOST_TEST(c.value->step == before + 1);
  BOOST_TEST(c.value->model.feature_columns == (std::vector<std::string>{"x0", "x1"}));
  BOOST_TEST(logged(ctx.warnings, "drained at step " + std::to_string(before + 1)));
  BOOST_TEST(logged(ctx.warnings, "no model emitted"));
  BOOST_TEST(!s->produce(out)); // and stays ended
  BOOST_TEST(out.models.empty());
}

BOOST_AUTO_TEST_CASE(resuming_a_drained_run_from_its_checkpoint_gives_the_weights_of_an_uninterrupted_run) {
  test::temp_dir dir;
  const auto data = separable(300, 40, 5);
  auto full = make_trainer(small_mlp);
  training_context full_ctx;
  const auto uninterrupted = decode_one(train(*full, full_ctx, data));

  auto p = small_mlp;
  p["checkpoint_dir"] = dir.file("ckpt");
  auto first = make_trainer(p);
  training_context ctx;
  test::collector out;
  load(*first, ctx, data, out);
  ctx.stop = true; // drained once training runs: it stops after its first step
  BOOST_TEST(!first->produce(out));
  BOOST_TEST(out.models.empty());
  BOOST_TEST_REQUIRE(std::filesystem::exists(dir.file("ckpt/1.ckpt")));

  p["resume_from"] = dir.file("ckpt/1.ckpt");
  auto second = make_trainer(p);
  training_context ctx2;
  auto resumed = decode_one(train(*second, ctx2, data));
  BOOST_TEST(ctx2.metrics["resumed_from_step"] == 1.0);
  BOOST_TEST(ctx2.metrics["steps"] == full_ctx.metrics["steps"]);
  BOOST_TEST(logged(ctx2.info, "resuming from checkpoint"));
  BOOST_TEST_REQUIRE(resumed.weights.size() == uninterrupted.weights.size());
  for (std::size_t i = 0; i < resumed.weights.size(); ++i)
    BOOST_TEST_REQUIRE(resumed.weights[i] == uninterrupted.weights[i], tt::tolerance(1e-5f));
}

BOOST_AUTO_TEST_CASE(a_drain_seen_by_one_replica_stops_the_whole_group_after_the_same_step) {
  test::temp_dir dir;
  auto p = small_mlp;
  p["devices"] = std::string("cpu:2");
  p["checkpoint_dir"] = dir.file("ckpt");
  const auto data = separable(300, 40, 5);
  std::vector<std::deque<peer_message>> inboxes(2);
  std::vector<training_context> ctx(2);
  std::vector<std::unique_ptr<step>> steps;
  std::vector<test::collector> outs(2);
  for (std::size_t r = 0; r < 2; ++r) {
    ctx[r].index = static_cast<int>(r);
    ctx[r].count = 2;
    ctx[r].inboxes = &inboxes;
    steps.push_back(make_trainer(p, static_cast<int>(r), 2));
    load(*steps[r], ctx[r], data, outs[r]);
  }
  ctx[1].stop = true; // only replica 1 sees the drain
  std::vector<bool> running{true, true};
  int guard = 0;
  while (running[0] || running[1]) {
    BOOST_TEST_REQUIRE(++guard < 100000);
    for (std::size_t r = 0; r < 2; ++r) {
      while (!inboxes[r].empty()) {
        steps[r]->consume_peer(inboxes[r].front());
        inboxes[r].pop_front();
      }
      if (running[r] && !steps[r]->blocked())
        running[r] = steps[r]->produce(outs[r]);
    }
  }
  BOOST_TEST(outs[0].models.empty());
  BOOST_TEST(outs[1].models.empty());
  BOOST_TEST(ctx[0].metrics["stopped_at_step"] == 1.0); // replica 0 reports and writes
  BOOST_TEST(std::filesystem::exists(dir.file("ckpt/1.ckpt")));
}

BOOST_AUTO_TEST_CASE(a_drain_before_training_began_ends_with_no_checkpoint_and_no_model) {
  test::temp_dir dir;
  auto p = small_mlp;
  p["checkpoint_dir"] = dir.file("ckpt");
  auto s = make_trainer(p);
  training_context ctx;
  ctx.stop = true; // the data was cut short by the drain
  test::collector out;
  load(*s, ctx, separable(100, 50), out);
  BOOST_TEST(!s->produce(out));
  BOOST_TEST(out.models.empty());
  BOOST_TEST(!std::filesystem::exists(dir.file("ckpt")));
  BOOST_TEST(logged(ctx.warnings, "drained before training began"));
}

BOOST_AUTO_TEST_CASE(a_drain_during_the_last_step_still_emits_the_finished_model) {
  test::temp_dir dir;
  auto s = make_trainer({{"model", std::string("logistic")}, {"batch", 50}, {"epochs", 1},
                         {"checkpoint_dir", dir.file("ckpt")}});
  training_context ctx;
  test::collector out;
  load(*s, ctx, separable(50, 50), out); // one step in all
  ctx.stop = true;
  BOOST_TEST(!s->produce(out));
  BOOST_TEST(out.models.size() == 1u);
  BOOST_TEST(ctx.metrics["steps"] == 1.0);
  BOOST_TEST(ctx.metrics.count("stopped_at_step") == 0u);
  BOOST_TEST(!std::filesystem::exists(dir.file("ckpt")));
}

BOOST_AUTO_TEST_CASE(a_resume_from_checkpoint_of_another_model_fails_naming_both) {
  test::temp_dir dir;
  compute::model_spec spec;
  spec.kind = "logistic";
  spec.layers = {2};
  compute::model other(compute::validate(spec));
  compute::checkpoint c;
  c.model = compute::make_artifact(other);
  c.step = 0;
  compute::checkpoint_file::save(dir.file("other.ckpt"), c);
  auto p = small_mlp;
  p["resume_from"] = dir.file("other.ckpt");
  auto s = make_trainer(p);
  training_context ctx;
  auto msg = failure_of([&] { train(*s, ctx, separable(100, 50)); });
  BOOST_TEST(msg.find("holds another model (logistic [2, 1]") != std::string::npos, msg);
  auto missing = make_trainer({{"model", std::string("logistic")},
                               {"resume_from", dir.file("none.ckpt")}});
  msg = failure_of([&] { train(*missing, ctx, separable(100, 50)); });
  BOOST_TEST(msg.find("none.ckpt: cannot open") != std::string::npos, msg);
}

BOOST_AUTO_TEST_SUITE_END()
