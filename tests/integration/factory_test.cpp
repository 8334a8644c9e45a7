// The factory example end to end, as the real `conveyor` process with a real nats-server:
// transactions stream in, a fleet is trained, published and served; midway each segment's
// rule flips and the amounts move; the drift step asks for a refit, the trainer retrains
// on fresh rows, the gate publishes the better fleet and the served accuracy recovers.
#include "client/client.hpp"
#include "process.hpp"
#include "tests/support/nats_test_server.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <random>

using namespace conveyor::testing;
using conveyor::test::free_tcp_port;
using conveyor::test::nats_test_server;
using conveyor::test::pack_row;
using namespace std::chrono_literals;

namespace {

constexpr int segments = 4;

/// The generator's rule (scripts/factory_stream.py): segment k labels a transaction 1
/// when w_k . z > 0, z the features centred and scaled; after the shift the amounts move
/// up by two standard deviations and the rule's sign flips.
struct transaction {
  float amount, items, hour;
  int segment;
  bool fraud;
};

transaction make(std::mt19937_64& rng, bool shifted) {
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 24);
  transaction t{};
  t.segment = static_cast<int>(rng() % segments);
  const double za = normal(rng), zi = normal(rng), hour = uniform(rng);
  t.amount = static_cast<float>((shifted ? 160 : 100) + 30 * za);
  t.items = static_cast<float>(5 + 2 * zi);
  t.hour = static_cast<float>(hour);
  const double a = 0.3 + 6.283185 * t.segment / segments;
  const double score = std::cos(a) * za + std::sin(a) * zi + 0.5 * std::cos(2 * a) * (hour - 12) / 7;
  t.fraud = (score > 0) != shifted;
  return t;
}

void publish(nats_test_server& server, std::mt19937_64& rng, int rows, bool shifted) {
  for (int i = 0; i < rows; ++i) {
    const auto t = make(rng, shifted);
    server.publish("tx.in", pack_row({{"amount", double(t.amount)},
                                      {"items", double(t.items)},
                                      {"hour", double(t.hour)},
                                      {"segment", "s" + std::to_string(t.segment)},
                                      {"fraud", t.fraud ? 1.0 : 0.0}}));
  }
}

/// The served fleet's accuracy on `sample`, asked by key; -1 when it does not answer.
double served_accuracy(conveyor::client::client& c, const std::vector<transaction>& sample) {
  int right = 0;
  for (int k = 0; k < segments; ++k) {
    std::vector<std::vector<float>> rows;
    std::vector<bool> labels;
    for (const auto& t : sample)
      if (t.segment == k) {
        rows.push_back({t.amount, t.items, t.hour});
        labels.push_back(t.fraud);
      }
    auto r = c.predict("fleet", rows, 0, {}, "s" + std::to_string(k));
    if (!r.ok || r.labels.size() != rows.size())
      return -1;
    for (std::size_t i = 0; i < rows.size(); ++i)
      right += (r.labels[i] == 1) == labels[i] ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(sample.size());
}

std::size_t versions_in(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    n += e.path().extension() == ".model" ? 1 : 0;
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(factory)

BOOST_AUTO_TEST_CASE(after_the_shift_a_newer_fleet_is_published_and_the_served_accuracy_recovers) {
  auto dir = scratch_dir("factory");
  nats_test_server server{dir + "/store"};
  server.create_stream("TX", "tx.in");
  std::mt19937_64 rng(11);
  publish(server, rng, 5000, false);
  const auto endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  child_process p{conveyor_binary(),
                  {"run", source_dir() + "/examples/factory.flow", "--set", "url=" + server.url(),
                   "--set", "out=" + dir, "--set", "endpoint=" + endpoint},
                  dir, dir};
  conveyor::client::client c(endpoint);
  std::vector<transaction> before, after;
  std::mt19937_64 probe(12);
  for (int i = 0; i < 400; ++i) {
    before.push_back(make(probe, false));
    after.push_back(make(probe, true));
  }
  double first = -1;
  BOOST_TEST_REQUIRE(wait_until([&] { return (first = served_accuracy(c, before)) > 0; }, 120s),
                     p.err());
  BOOST_TEST(first > 0.85, p.err());
  const auto published_before = versions_in(dir + "/models/fleet");
  BOOST_TEST(published_before >= 1u);
  BOOST_TEST(served_accuracy(c, after) < 0.5); // the old rule, inverted now

  publish(server, rng, 10000, true);
  double recovered = -1;
  BOOST_TEST(wait_until([&] { return (recovered = served_accuracy(c, after)) > 0.85; }, 180s),
             "served accuracy after the shift stayed at " << recovered << "\n" << p.err());
  BOOST_TEST(versions_in(dir + "/models/fleet") > published_before);
  BOOST_TEST(p.err().find("drift: psi") != std::string::npos, p.err());
  BOOST_TEST(p.err().find("refitted") != std::string::npos, p.err());
  BOOST_TEST(p.err().find("served model") != std::string::npos, p.err());

  p.signal(SIGINT);
  BOOST_TEST(p.wait(30s) == 0, p.err());
}

BOOST_AUTO_TEST_SUITE_END()
