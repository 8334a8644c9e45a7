// A factory graph that trains, evaluates, publishes and serves, run as the real
// `conveyor` process and queried over ZeroMQ with the client library; then drained
// with SIGTERM. A second run on the same registry starts serving the first run's model.
#include "compute/model_file.hpp"
#include "serving/registry.hpp"
#include "client/client.hpp"
#include "process.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include <sys/stat.h>

using namespace conveyor::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Two features; the label is 1 when x0 + 2 x1 > 5 (learnable by a logistic model
/// once the cleaner has standardized the columns).
std::string write_data(const std::string& dir) {
  auto path = dir + "/points.csv";
  std::ofstream f(path);
  f << "x0,x1,label\n";
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0, 5);
  for (int i = 0; i < 2000; ++i) {
    float a = u(rng), b = u(rng);
    f << a << ',' << b << ',' << (a + 2 * b > 5 ? 1 : 0) << '\n';
  }
  return path;
}

std::string write_graph(const std::string& dir, const std::string& csv) {
  auto path = dir + "/factory.flow";
  std::ofstream f(path);
  f << "graph factory\n"
       "node data = csv_reader { path = \"" << csv << "\", label = \"label\" }\n"
       "node eval = csv_reader { path = \"" << csv << "\", label = \"label\" }\n"
       "node clean = cleaner { standardize = [\"*\"] }\n"
       "node fit = trainer { model = \"logistic\", lr = 0.5, batch = 64, epochs = 20,"
       " name = \"points\" }\n"
       "node check = evaluator { metric = \"accuracy\", min = 0.9 }\n"
       "node models = publisher { registry = \"" << dir << "/registry\", keep = 3 }\n"
       "node api = inference { endpoint = \"tcp://127.0.0.1:*\", registry = \"" << dir
    << "/registry\" }\n"
       "data -> clean -> fit\n"
       "fit.model -> check.model\n"
       "eval -> check.data\n"
       "check -> models -> api\n";
  return path;
}

/// Waits until `models` lists `name` at `version` or above; returns the version.
std::uint64_t wait_for_model(conveyor::client::client& c, const std::string& name,
                             std::uint64_t version) {
  std::uint64_t served = 0;
  auto listed = [&] {
    auto r = c.models();
    if (r.ok)
      for (const auto& m : r.models)
        if (m.name == name && m.version >= version)
          served = m.version;
    return served != 0;
  };
  if (!wait_until(listed, 30s))
    BOOST_FAIL("model '" + name + "' never served");
  return served;
}

/// A logistic model over raw columns x0, x1 with weights (w, w): label 1 where
/// x0 + x1 > 0.
conveyor::compute::model_artifact logistic_points(float w) {
  conveyor::compute::model_spec spec;
  spec.kind = "logistic";
  spec.layers = {2};
  conveyor::compute::model m(conveyor::compute::validate(spec));
  std::vector<float> p{w, w, 0.0f};
  m.set_parameters(p.data(), p.size());
  auto a = conveyor::compute::make_artifact(m);
  a.input_columns = a.feature_columns = {"x0", "x1"};
  return a;
}

} // namespace

BOOST_AUTO_TEST_SUITE(serving_integration)

BOOST_AUTO_TEST_CASE(a_graph_trains_publishes_and_serves_until_sigterm_then_a_rerun_serves_at_once) {
  auto dir = scratch_dir("serving");
  auto graph = write_graph(dir, write_data(dir));
  {
    child_process p{conveyor_binary(), {"run", graph, "--report", dir + "/report1.json"}, dir, dir};
    auto endpoint = wait_for_endpoint(p);
    conveyor::client::client c(endpoint);
    BOOST_TEST(wait_for_model(c, "points", 1) == 1u);

    auto r = c.predict("points", {{4.0f, 3.0f}, {0.5f, 0.5f}});
    BOOST_TEST_REQUIRE(r.ok, r.error.code + ": " + r.error.message);
    BOOST_TEST(r.version == 1u);
    BOOST_TEST(r.labels == (std::vector<std::int32_t>{1, 0}), boost::test_tools::per_element());

    // conveyor infer: the operator's client, as a process.
    std::ofstream(dir + "/ask.csv") << "x0,x1\n4,3\n0.5,0.5\n";
    auto infer = run_conveyor({"infer", "--endpoint", endpoint, "--model", "points", "--csv",
                               dir + "/ask.csv"});
    BOOST_TEST(infer.status == 0, infer.err);
    BOOST_TEST(infer.out.find("row 1: label 1") != std::string::npos, infer.out);
    BOOST_TEST(infer.out.find("row 2: label 0") != std::string::npos, infer.out);
    BOOST_TEST(infer.out.find("(points v1)") != std::string::npos, infer.out);
    auto listed = run_conveyor({"infer", "--endpoint", endpoint, "--models"});
    BOOST_TEST(listed.status == 0, listed.err);
    BOOST_TEST(listed.out.find("points") != std::string::npos, listed.out);
    auto unknown = run_conveyor({"infer", "--endpoint", endpoint, "--model", "nothing", "--csv",
                                 dir + "/ask.csv"});
    BOOST_TEST(unknown.status == 1);
    BOOST_TEST((unknown.out + unknown.err).find("error unknown_model") != std::string::npos,
               unknown.out + unknown.err);
    std::ofstream(dir + "/bad.csv") << "x0,x1\n4,3\n0.5,oops\n";
    auto bad = run_conveyor({"infer", "--endpoint", endpoint, "--model", "points", "--csv",
                             dir + "/bad.csv"});
    BOOST_TEST(bad.status == 2);
    BOOST_TEST(bad.err.find("bad.csv:3") != std::string::npos, bad.err);

    auto wrong = c.predict("points", {{1.0f, 2.0f, 3.0f}});
    BOOST_TEST(wrong.error.code == "shape_mismatch");
    auto missing = c.predict("nothing", {{1.0f, 2.0f}});
    BOOST_TEST(missing.error.code == "unknown_model");

    p.signal(SIGTERM);
    BOOST_TEST(p.wait(30s) == 0, p.err());
    BOOST_TEST(p.err().find("interrupted") != std::string::npos, p.err());
    BOOST_TEST(p.err().find("api: ok = ") != std::string::npos, p.err());
  }
  BOOST_TEST(fs::exists(dir + "/registry/points/1.model"));
  {
    // The second run serves version 1 from the registry while it trains version 2.
    child_process p{conveyor_binary(), {"run", graph}, dir, dir};
    auto endpoint = wait_for_endpoint(p);
    BOOST_TEST(p.err().find("models: points v1") != std::string::npos, p.err());
    conveyor::client::client c(endpoint);
    BOOST_TEST(wait_for_model(c, "points", 2) == 2u);
    auto pinned = c.predict("points", {{4.0f, 3.0f}}, 1);
    BOOST_TEST(pinned.ok);
    BOOST_TEST(pinned.version == 1u);
    p.signal(SIGINT);
    BOOST_TEST(p.wait(30s) == 0, p.err());
  }
}

BOOST_AUTO_TEST_CASE(a_version_published_during_a_load_run_swaps_in_with_no_failed_request) {
  // examples/serve.flow serves a registry; another process (here: this test, through
  // the registry API) publishes version 2 while 16 requests stay in flight.
  auto dir = scratch_dir("hot_swap");
  conveyor::serving::registry reg(dir + "/registry");
  reg.publish("points", conveyor::compute::model_file::encode(logistic_points(1.0f)));
  child_process p{conveyor_binary(),
                  {"run", source_dir() + "/examples/serve.flow", "--set",
                   "registry=" + dir + "/registry", "--set", "endpoint=tcp://127.0.0.1:*"},
                  dir, dir};
  conveyor::client::client c(wait_for_endpoint(p));
  BOOST_TEST(wait_for_model(c, "points", 1) == 1u);

  const std::vector<float> row{4.0f, 3.0f};
  std::map<std::uint64_t, int> versions;
  int failed = 0, after_swap = 0;
  bool published = false;
  for (int i = 0; i < 16; ++i)
    c.send_predict("points", row.data(), 1, 2);
  // Until 2000 answers came from version 2: the server finds it within a tick (about a
  // second), however many requests it answers meanwhile.
  const auto until = std::chrono::steady_clock::now() + 60s;
  for (int answered = 0; after_swap < 2000 && std::chrono::steady_clock::now() < until;
       ++answered) {
    auto r = c.receive(5s);
    BOOST_REQUIRE(r);
    if (!r->ok) {
      ++failed;
      BOOST_TEST_MESSAGE(r->error.code + ": " + r->error.message);
    }
    ++versions[r->version];
    if (answered == 2000 && !published) {
      reg.publish("points", conveyor::compute::model_file::encode(logistic_points(2.0f)));
      published = true;
    }
    if (r->version == 2)
      ++after_swap;
    c.send_predict("points", row.data(), 1, 2);
  }
  BOOST_TEST(failed == 0);
  BOOST_TEST(versions[1] >= 2000);
  BOOST_TEST(after_swap >= 2000); // the replies switched to the new version
  p.signal(SIGTERM);
  BOOST_TEST(p.wait(30s) == 0, p.err());
  BOOST_TEST(p.err().find("now serving 'points' version 2") != std::string::npos, p.err());
}

BOOST_AUTO_TEST_CASE(a_garbage_newest_version_is_logged_and_the_newest_good_one_served) {
  auto dir = scratch_dir("garbage_newest");
  conveyor::serving::registry reg(dir + "/registry");
  reg.publish("points", conveyor::compute::model_file::encode(logistic_points(1.0f)));
  auto v2 = reg.publish("points", conveyor::compute::model_file::encode(logistic_points(2.0f)));
  std::string noise(4096, '\0');
  std::mt19937 rng(11);
  for (auto& c : noise)
    c = static_cast<char>(rng());
  std::ofstream(v2.path, std::ios::binary | std::ios::trunc) << noise;
  child_process p{conveyor_binary(),
                  {"run", source_dir() + "/examples/serve.flow", "--set",
                   "registry=" + dir + "/registry", "--set", "endpoint=tcp://127.0.0.1:*"},
                  dir, dir};
  conveyor::client::client c(wait_for_endpoint(p));
  BOOST_TEST(p.err().find("models: points v1") != std::string::npos, p.err());
  BOOST_TEST(p.err().find("2.model") != std::string::npos, p.err());
  auto latest = c.predict("points", {{4.0f, 3.0f}});
  BOOST_TEST(latest.ok, latest.error.code + ": " + latest.error.message);
  BOOST_TEST(latest.version == 1u);
  auto pinned = c.predict("points", {{4.0f, 3.0f}}, 1);
  BOOST_TEST(pinned.ok, pinned.error.code + ": " + pinned.error.message);
  auto bad = c.predict("points", {{4.0f, 3.0f}}, 2);
  BOOST_TEST(bad.error.code == "internal");
  auto listed = run_conveyor({"models", "list", "--registry", dir + "/registry"});
  BOOST_TEST(listed.out.find("points:2 cannot be loaded") != std::string::npos, listed.out);
  p.signal(SIGTERM);
  BOOST_TEST(p.wait(30s) == 0, p.err());
}

BOOST_AUTO_TEST_CASE(conveyor_infer_streams_its_csv_and_answers_rows_before_the_input_ends) {
  // The rows come through a FIFO the test keeps open: the first answer must be printed
  // while more input may still come.
  auto dir = scratch_dir("infer_stream");
  conveyor::serving::registry reg(dir + "/registry");
  reg.publish("points", conveyor::compute::model_file::encode(logistic_points(1.0f)));
  child_process server{conveyor_binary(),
                       {"run", source_dir() + "/examples/serve.flow", "--set",
                        "registry=" + dir + "/registry", "--set", "endpoint=tcp://127.0.0.1:*"},
                       dir, dir};
  const auto endpoint = wait_for_endpoint(server);
  const auto fifo = dir + "/rows.fifo";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  child_process infer{conveyor_binary(),
                      {"infer", "--endpoint", endpoint, "--model", "points", "--csv", fifo,
                       "--rows-per-request", "1"},
                      dir, dir};
  {
    std::ofstream rows(fifo); // opens once infer opens it for reading
    rows << "x0,x1\n4,3\n" << std::flush;
    bool answered = wait_until(
      [&] { return infer.out().find("row 1: label 1") != std::string::npos; }, 30s);
    BOOST_TEST(answered, "no answer while the input was open: " << infer.err());
    rows << "-1,-2\n";
  }
  BOOST_TEST(infer.wait(30s) == 0, infer.err());
  BOOST_TEST(infer.out().find("row 2: label 0") != std::string::npos, infer.out());
  server.signal(SIGTERM);
  BOOST_TEST(server.wait(30s) == 0, server.err());
}

BOOST_AUTO_TEST_CASE(conveyor_infer_refuses_a_line_too_long_without_reading_the_input_whole) {
  // /dev/zero has no line end: the reader must stop at its line limit. The address-space
  // limit keeps a reader that buffers everything from taking the machine's memory; it
  // leaves room for the libraries a CUDA build maps at start (cuBLAS and NCCL: about
  // 1 GiB of address space), or OpenBLAS's start-up allocation cannot be made.
  auto dir = scratch_dir("infer_zero");
  child_process infer{"/bin/sh",
                      {"-c", "ulimit -v 4194304; exec \"$0\" infer --endpoint tcp://127.0.0.1:9 "
                             "--model m --csv /dev/zero",
                       conveyor_binary()},
                      dir, dir};
  BOOST_TEST(infer.wait(60s) == 2, infer.err());
  BOOST_TEST(infer.err().find("error: /dev/zero:1: a line longer than 4 MiB") != std::string::npos,
             infer.err());
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_cannot_be_bound_fails_the_run_naming_it) {
  auto dir = scratch_dir("serving_bind");
  auto graph = dir + "/bad.flow";
  std::ofstream(graph) << "graph bad\n"
                          "node api = inference { endpoint = \"tcp://256.1.1.1:1\", max_restarts = 1,"
                          " backoff = 10ms }\n";
  auto r = run_conveyor({"run", graph}, 60s);
  BOOST_TEST(r.status == 1, r.err);
  BOOST_TEST(r.err.find("cannot bind tcp://256.1.1.1:1") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_SUITE_END()
