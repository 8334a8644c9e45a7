// `conveyor run --metrics-listen`: the real process scraped over real HTTP while it runs,
// its text parsed: step and edge counters, and the inference server's requests.
#include "client/client.hpp"
#include "process.hpp"
#include "tests/support/wait_until.hpp"
#include "tests/support/prometheus_text.hpp"

#include <boost/test/unit_test.hpp>

#include <httplib.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

using namespace conveyor::testing;
using conveyor::test::parse_prometheus_text;
using conveyor::test::prometheus_text;
using namespace std::chrono_literals;

namespace {

/// Scrapes `port` until `done` holds for the parsed text (20 s at most); the last text.
prometheus_text scrape_until(int port, const std::function<bool(const prometheus_text&)>& done) {
  httplib::Client http("127.0.0.1", port);
  prometheus_text last;
  wait_until([&] {
    auto res = http.Get("/metrics");
    BOOST_REQUIRE_MESSAGE(res && res->status == 200, "no answer from /metrics");
    last = parse_prometheus_text(res->body); // throws (fails the test) on a malformed line
    return done(last);
  });
  return last;
}

} // namespace

BOOST_AUTO_TEST_SUITE(metrics_cli)

BOOST_AUTO_TEST_CASE(a_running_graph_is_scraped_over_http_with_step_edge_and_serving_metrics) {
  const auto dir = scratch_dir("metrics_cli");
  {
    std::ofstream csv(dir + "/rows.csv");
    csv << "x0,x1\n";
    for (int i = 0; i < 3000; ++i)
      csv << i << ',' << i * 2 << '\n';
    std::ofstream graph(dir + "/g.flow");
    graph << "graph g\n"
             "node data = csv_reader { path = \"" << dir << "/rows.csv\", batch = 100 }\n"
             "node sink = counter\n"
             "node api = inference { endpoint = \"tcp://127.0.0.1:*\" }\n"
             "data -> sink\n";
  }
  child_process p{conveyor_binary(),
                  {"run", dir + "/g.flow", "--metrics-listen", "127.0.0.1:0"}, dir, dir};
  const auto port_text = wait_for_log(p, "metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  BOOST_TEST_REQUIRE(!port_text.empty(), "the metrics address was never logged:\n" << p.err());
  const int port = std::stoi(port_text);
  const auto endpoint = wait_for_endpoint(p);

  auto rows = scrape_until(port, [](const prometheus_text& t) {
    return t.value("conveyor_step_rows_in_total", {{"step", "sink"}}).value_or(0) == 3000;
  });
  BOOST_TEST(rows.value("conveyor_step_rows_out_total", {{"step", "data"}, {"kind", "csv_reader"}}).value() == 3000);
  BOOST_TEST(rows.value("conveyor_step_rows_in_total", {{"step", "sink"}, {"kind", "counter"}}).value() == 3000);
  BOOST_TEST(rows.value("conveyor_edge_batches_total", {{"from", "data.out"}, {"to", "sink.in"}}).value() == 30);
  BOOST_TEST(rows.value("conveyor_step_restarts_total", {{"step", "data"}}).value() == 0);
  BOOST_TEST(rows.types.at("conveyor_step_busy_seconds_total") == "counter");

  conveyor::client::client c(endpoint);
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(c.predict("nothing", {{1.0f, 2.0f}}).error.code == "unknown_model");
  BOOST_TEST(c.health().ok);
  auto served = scrape_until(port, [](const prometheus_text& t) {
    return t.value("conveyor_inference_requests_total",
                   {{"step", "api"}, {"model", ""}, {"outcome", "unknown_model"}})
             .value_or(0) == 3;
  });
  BOOST_TEST(served.value("conveyor_inference_requests_total",
                          {{"step", "api"}, {"model", ""}, {"outcome", "ok"}}).value() == 1);
  BOOST_TEST(served.value("conveyor_inference_queue_depth", {{"step", "api"}}).value() == 0);
  BOOST_TEST(served.types.at("conveyor_inference_latency_seconds") == "histogram");

  p.signal(SIGTERM);
  BOOST_TEST(p.wait(30s) == 0);
}

BOOST_AUTO_TEST_CASE(a_metrics_address_that_cannot_be_bound_fails_the_run_at_once_naming_it) {
  httplib::Server holder;
  const int port = holder.bind_to_any_port("127.0.0.1");
  const auto dir = scratch_dir("metrics_cli_bind");
  auto r = run_conveyor({"run", source_dir() + "/examples/serve.flow", "--metrics-listen",
                         "127.0.0.1:" + std::to_string(port)});
  BOOST_TEST(r.status == 2);
  BOOST_TEST(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_SUITE_END()
