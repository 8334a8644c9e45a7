// inference as a step: what it does with the models that arrive on its port, its
// metrics, and an endpoint it cannot bind. (The server itself: tests/serving;
// the step in a real run: tests/integration/serving_test.cpp.)
#include "actors/inference.hpp"
#include "compute/backend_factory.hpp"
#include "inference_device_cases.hpp"
#include "client/client.hpp"
#include "serving/registry.hpp"
#include "step_harness.hpp"
#include "tests/compute/test_models.hpp"

#include <boost/test/unit_test.hpp>

#include "tests/support/scratch_files.hpp"
#include "tests/support/wait_until.hpp"

#include <zmq.h>

#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <thread>

using namespace conveyor;

namespace {

std::unique_ptr<step> make_inference(std::map<std::string, dsl::value> params = {}) {
  if (params.count("endpoint") == 0)
    params["endpoint"] = std::string("tcp://127.0.0.1:*");
  return test::make_step(inference_kind(), std::move(params));
}

/// The endpoint the step logged it serves on ("serving on tcp://127.0.0.1:PORT (...").
std::string served_endpoint(const test::fake_context& ctx) {
  const std::string marker = "serving on ";
  for (const auto& line : ctx.info) {
    const auto at = line.find(marker);
    if (at != std::string::npos) {
      const auto from = at + marker.size();
      return line.substr(from, line.find(' ', from) - from);
    }
  }
  return {};
}

model_message message(std::string artifact, std::uint64_t version) {
  model_message m{"m", std::make_shared<const std::string>(std::move(artifact))};
  m.version = version;
  return m;
}

/// A key pair from libzmq, in Z85.
std::pair<std::string, std::string> key_pair() {
  char pub[41], sec[41];
  BOOST_REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}

/// The message of the step_failure that `open` throws (empty if it does not).
std::string open_failure(step& s) {
  test::fake_context ctx;
  try {
    s.open(ctx);
  } catch (const step_failure& e) {
    return e.what();
  }
  return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(inference_suite)

BOOST_AUTO_TEST_CASE(curve_key_files_go_together) {
  BOOST_CHECK_EXCEPTION(make_inference({{"curve_secret_key_file", std::string("server.key")}}),
                        step_failure, [](const step_failure& e) {
                          return std::string(e.what()).find("'curve_allowed_clients_file'") !=
                                 std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(missing_or_malformed_curve_key_files_fail_the_start_naming_file_and_line) {
  test::temp_dir dir;
  auto [server_public, server_secret] = key_pair();
  auto [client_public, client_secret] = key_pair();
  test::write_file(dir.file("server.key"), "# secret\n" + server_secret + "\n");
  // line 2: 39 characters; it must not start with '#' (a Z85 character), which would make
  // it a comment (a key of 40 characters may start with '#'; a shorter word may not)
  test::write_file(dir.file("clients.txt"),
                   client_public + "\n" + "x" + client_public.substr(2) + "\n");
  auto missing = make_inference({{"curve_secret_key_file", dir.file("nope.key")},
                                 {"curve_allowed_clients_file", dir.file("clients.txt")}});
  const auto missing_why = open_failure(*missing);
  BOOST_TEST(missing_why.find("cannot read '" + dir.file("nope.key") + "'") != std::string::npos,
             missing_why);
  auto malformed = make_inference({{"curve_secret_key_file", dir.file("server.key")},
                                   {"curve_allowed_clients_file", dir.file("clients.txt")}});
  const auto malformed_why = open_failure(*malformed);
  BOOST_TEST(malformed_why.find(dir.file("clients.txt") + ":2: ") != std::string::npos,
             malformed_why);
}

BOOST_AUTO_TEST_CASE(with_curve_a_listed_client_is_served_and_a_refused_key_is_logged_once) {
  test::temp_dir dir;
  auto [server_public, server_secret] = key_pair();
  auto [client_public, client_secret] = key_pair();
  auto [stranger_public, stranger_secret] = key_pair();
  test::write_file(dir.file("server.key"), server_secret + "\n");
  test::write_file(dir.file("server.pub"), server_public + "\n");
  test::write_file(dir.file("client.key"), client_secret + "\n");
  test::write_file(dir.file("stranger.key"), stranger_secret + "\n");
  test::write_file(dir.file("clients.txt"), "# the one client\n" + client_public + " # app\n");
  auto s = make_inference({{"curve_secret_key_file", dir.file("server.key")},
                           {"curve_allowed_clients_file", dir.file("clients.txt")}});
  test::fake_context ctx;
  ::chmod(dir.file("server.key").c_str(), 0644);
  s->open(ctx);
  const auto endpoint = served_endpoint(ctx);
  BOOST_REQUIRE(!ctx.warnings.empty());
  BOOST_TEST(ctx.warnings.front().find("can be read by others") != std::string::npos);

  client::options listed;
  listed.curve = *client::load_curve_keys(dir.file("server.pub"), dir.file("client.key")).value;
  BOOST_TEST(client::client(endpoint, listed).health().ok);

  client::options unlisted;
  unlisted.timeout = std::chrono::milliseconds(300);
  unlisted.curve = *client::load_curve_keys(dir.file("server.pub"), dir.file("stranger.key")).value;
  for (int attempt = 0; attempt < 2; ++attempt) { // two connections with the same key
    auto r = client::client(endpoint, unlisted).health();
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.error.code == "timeout");
  }
  // Refusals are counted as the handshakes fail: tick until both are in.
  conveyor::testing::wait_until([&] {
    s->tick();
    return ctx.metrics.count("refused_handshakes") != 0 && ctx.metrics["refused_handshakes"] >= 2;
  });
  std::size_t logged = 0;
  for (const auto& w : ctx.warnings)
    logged += w.find(stranger_public) != std::string::npos ? 1 : 0;
  BOOST_TEST(logged == 1u);
  BOOST_TEST(ctx.metrics.at("refused_handshakes") == 2);
}

BOOST_AUTO_TEST_CASE(a_model_that_cannot_be_served_is_counted_and_the_step_keeps_answering) {
  auto s = make_inference();
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  BOOST_TEST(s->is_service());
  s->consume_model(0, message(test::logistic_bytes(1), 1), out);
  s->consume_model(0, message("not a model", 2), out);
  s->consume_model(0, model_message{"m", nullptr}, out);
  BOOST_TEST(ctx.rejected == 2u);
  s->consume_model(0, message(test::logistic_bytes(1), 1), out); // a replay: nothing new
  BOOST_TEST(ctx.rejected == 2u);

  // Still serving version 1, over the socket: P(y = 1) = sigmoid(w x) with w = 1.
  client::client c(served_endpoint(ctx));
  auto r = c.predict("m", {{2.0f}, {-3.0f}});
  BOOST_TEST_REQUIRE(r.ok, r.error.code + ": " + r.error.message);
  BOOST_TEST(r.version == 1u);
  BOOST_TEST(r.labels == (std::vector<std::int32_t>{1, 0}), boost::test_tools::per_element());
  BOOST_TEST(r.row(0)[0] == 1.0f / (1.0f + std::exp(-2.0f)), boost::test_tools::tolerance(1e-6f));
  auto models = c.models();
  BOOST_TEST_REQUIRE(models.models.size() == 1u);
  BOOST_TEST(models.models[0].version == 1u);

  s->tick();
  BOOST_TEST(ctx.metrics.at("requests") == 2.0);
  BOOST_TEST(ctx.metrics.at("ok") == 2.0);
  BOOST_TEST(ctx.metrics.at("rows") == 2.0);
  BOOST_TEST(ctx.metrics.count("latency_p99_ms") == 1u);
}

BOOST_AUTO_TEST_CASE(a_garbage_newest_registry_version_is_logged_and_the_newest_good_one_served) {
  test::temp_dir dir;
  serving::registry reg(dir.file("models"));
  reg.publish("m", test::logistic_bytes(1));
  auto v2 = reg.publish("m", test::logistic_bytes(2));
  std::ofstream(v2.path, std::ios::binary | std::ios::trunc) << std::string(3000, '\x5a');
  auto s = make_inference({{"registry", dir.file("models")}});
  test::fake_context ctx;
  s->open(ctx);
  BOOST_TEST_REQUIRE(ctx.warnings.size() == 1u);
  BOOST_TEST(ctx.warnings[0].find("2.model") != std::string::npos, ctx.warnings[0]);
  BOOST_TEST(ctx.info.back().find("models: m v1") != std::string::npos, ctx.info.back());
  client::client c(served_endpoint(ctx));
  auto pinned = c.predict("m", {{2.0f}}, 1);
  BOOST_TEST(pinned.ok, pinned.error.code + ": " + pinned.error.message);
  BOOST_TEST(c.predict("m", {{2.0f}}).version == 1u);
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_cannot_be_bound_fails_the_step_naming_it) {
  auto s = make_inference({{"endpoint", std::string("tcp://256.0.0.1:1")}});
  test::fake_context ctx;
  try {
    s->open(ctx);
    BOOST_FAIL("bound an impossible endpoint");
  } catch (const step_failure& e) {
    BOOST_TEST(std::string(e.what()).find("tcp://256.0.0.1:1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(out_of_range_parameters_are_refused_by_name) {
  BOOST_CHECK_EXCEPTION(make_inference({{"max_batch", std::int64_t{0}}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("'max_batch'") != std::string::npos;
                        });
  BOOST_CHECK_EXCEPTION(make_inference({{"max_request_bytes", dsl::size_value{10}}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("'max_request_bytes'") != std::string::npos;
                        });
  for (const char* key : {"max_model_bytes", "max_queue_bytes", "max_unread_bytes", "max_total_unread_bytes"}) {
    BOOST_CHECK_EXCEPTION(make_inference({{key, dsl::size_value{100ull << 30}}}), step_failure,
                          [&](const step_failure& e) {
                            return std::string(e.what()).find(std::string("'") + key + "'") != std::string::npos;
                          });
    BOOST_CHECK_EXCEPTION(make_inference({{key, dsl::size_value{10}}}), step_failure,
                          [&](const step_failure& e) {
                            return std::string(e.what()).find(std::string("'") + key + "'") != std::string::npos;
                          });
  }
}

// The CPU twin of tests/actors/inference_gpu_test.cpp: the same checks through the same
// code path (a backend per computing thread, the models' parameters in one shared one).
BOOST_AUTO_TEST_CASE(a_cpu_device_server_answers_as_the_model_computes_through_batching_pinning_and_hot_swap) {
  test::serve_on_device_and_compare("cpu");
}

BOOST_AUTO_TEST_CASE(without_a_gpu_device_gpu_fails_at_check_and_auto_computes_on_the_cpu,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                       return compute::gpu_count() == 0;
                     })) {
  std::string why;
  compute::gpu_count(&why);
  for (const char* d : {"gpu:0", "cuda:1"}) {
    try {
      make_inference({{"device", std::string(d)}});
      BOOST_FAIL("accepted device " << d);
    } catch (const step_failure& e) {
      BOOST_TEST(std::string(e.what()) == std::string("inference: device = \"") + d +
                                              "\": no GPU is usable on this machine (" + why +
                                              "); use \"cpu\" or \"auto\"");
    }
  }
  auto s = make_inference({{"device", std::string("auto")}});
  test::fake_context ctx;
  s->open(ctx);
  BOOST_TEST_REQUIRE(!ctx.info.empty());
  BOOST_TEST(ctx.info.front() == "device = \"auto\": no GPU is usable (" + why +
                                     "); computing on the CPU");
}

BOOST_AUTO_TEST_CASE(a_malformed_device_is_refused_naming_it) {
  BOOST_CHECK_EXCEPTION(make_inference({{"device", std::string("tpu:0")}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("device must be \"cpu\", \"gpu:N\" or "
                                                            "\"auto\", got \"tpu:0\"") !=
                                 std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
