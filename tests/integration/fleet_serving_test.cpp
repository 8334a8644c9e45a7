// A fleet end to end, as the real `conveyor` process: a graph trains one model per store
// (by = "store"), gates the fleet, publishes it and serves it by key; the C++ client and
// `conveyor infer --key` ask it.
#include "client/client.hpp"
#include "process.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

using namespace conveyor::testing;
using namespace std::chrono_literals;

namespace {

/// Stores with opposite rules: at "up" the label is 1 when x0 > 0, at "down" when
/// x0 < 0, at "flat" (few rows) when x1 > 0.
std::string write_stores(const std::string& dir, const std::string& name, unsigned seed) {
  auto path = dir + "/" + name;
  std::ofstream f(path);
  f << "store,x0,x1,label\n";
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-5, 5);
  for (int i = 0; i < 1500; ++i) {
    const float a = u(rng), b = u(rng);
    const int which = i % 30 == 0 ? 2 : i % 2;
    const char* store = which == 0 ? "up" : which == 1 ? "down" : "flat";
    const bool label = which == 0 ? a > 0 : which == 1 ? a < 0 : b > 0;
    f << store << ',' << a << ',' << b << ',' << (label ? 1 : 0) << '\n';
  }
  return path;
}

std::string write_graph(const std::string& dir) {
  auto path = dir + "/fleet.flow";
  std::ofstream f(path);
  f << "graph fleet\n"
       "node data = csv_reader { path = \"" << write_stores(dir, "train.csv", 1)
    << "\", label = \"label\", categorical = [\"store\"] }\n"
       "node eval = csv_reader { path = \"" << write_stores(dir, "eval.csv", 2)
    << "\", label = \"label\", categorical = [\"store\"] }\n"
       "node fit = trainer { model = \"logistic\", by = \"store\", min_rows = 100,"
       " unknown_key = \"error\", optimizer = \"adam\", lr = 0.05, batch = 32, epochs = 20,"
       " name = \"stores\" }\n"
       "node check = evaluator { metric = \"accuracy\", min = 0.9 }\n"
       "node models = publisher { registry = \"" << dir << "/registry\" }\n"
       "node api = inference { endpoint = \"tcp://127.0.0.1:*\", registry = \"" << dir
    << "/registry\" }\n"
       "data -> fit\n"
       "fit.model -> check.model\n"
       "eval -> check.data\n"
       "check -> models -> api\n";
  return path;
}


} // namespace

BOOST_AUTO_TEST_SUITE(fleet_integration)

BOOST_AUTO_TEST_CASE(a_fleet_is_trained_gated_published_and_served_by_key) {
  auto dir = scratch_dir("fleet");
  child_process p{conveyor_binary(), {"run", write_graph(dir)}, dir, dir};
  auto endpoint = wait_for_endpoint(p);
  conveyor::client::client c(endpoint);
  BOOST_TEST_REQUIRE(wait_until([&] {
                       auto r = c.models();
                       return r.ok && !r.models.empty();
                     }, 30s),
                     p.err());
  BOOST_TEST(p.err().find("worst segments: flat") != std::string::npos, p.err());

  const std::vector<std::vector<float>> rows{{3.0f, 1.0f}, {-3.0f, 1.0f}};
  auto up = c.predict("stores", rows, 0, {}, "up");
  BOOST_TEST_REQUIRE(up.ok, up.error.code + ": " + up.error.message);
  BOOST_TEST(up.labels == (std::vector<std::int32_t>{1, 0}), boost::test_tools::per_element());
  auto down = c.predict("stores", rows, 0, {}, "down");
  BOOST_TEST_REQUIRE(down.ok, down.error.message);
  BOOST_TEST(down.labels == (std::vector<std::int32_t>{0, 1}), boost::test_tools::per_element());
  auto unknown = c.predict("stores", rows, 0, {}, "elsewhere");
  BOOST_TEST(unknown.error.code == "unknown_key");
  auto no_key = c.predict("stores", rows);
  BOOST_TEST(no_key.error.code == "bad_request");

  std::ofstream(dir + "/ask.csv") << "x0,x1\n3,1\n-3,1\n";
  auto infer = run_conveyor({"infer", "--endpoint", endpoint, "--model", "stores", "--key", "down",
                             "--csv", dir + "/ask.csv"});
  BOOST_TEST(infer.status == 0, infer.err);
  BOOST_TEST(infer.out.find("row 1: label 0") != std::string::npos, infer.out);
  BOOST_TEST(infer.out.find("row 2: label 1") != std::string::npos, infer.out);
  auto refused = run_conveyor({"infer", "--endpoint", endpoint, "--model", "stores", "--key",
                               "elsewhere", "--csv", dir + "/ask.csv"});
  BOOST_TEST(refused.status == 1);
  BOOST_TEST((refused.out + refused.err).find("error unknown_key") != std::string::npos,
             refused.out + refused.err);

  p.signal(SIGTERM);
  BOOST_TEST(p.wait(30s) == 0, p.err());
}

BOOST_AUTO_TEST_SUITE_END()
