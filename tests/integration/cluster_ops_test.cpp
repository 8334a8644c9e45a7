// Operating a cluster run, with real processes: two `conveyor node`s with
// `--metrics-listen` and `conveyor run --cluster --metrics-listen`. Batches cross from
// node a to node b over the data plane (the nodes' metrics count the frames);
// `conveyor status` shows the nodes, where each step runs and the edges' credit waits
// (the coordinator's metrics export them); a status against an address where nothing
// listens says so. In a TLS cluster the data plane admits only the CurveZMQ key its node
// handed out over the control plane: a stranger that knows the node's public key is
// still refused.
#include "process.hpp"
#include "run_outputs.hpp"
#include "tests/support/prometheus_text.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

using namespace conveyor::testing;
using conveyor::test::parse_prometheus_text;
using conveyor::test::prometheus_text;
using namespace std::chrono_literals;

namespace {

/// A node labelled with its name, serving metrics on a free port.
struct metered_node {
  metered_node(const std::string& name, const std::string& dir,
               const std::vector<std::string>& extra = {})
      : name(name) {
    std::vector<std::string> args{"node", "--listen", "127.0.0.1:0", "--name", name, "--labels",
                                  name, "--metrics-listen", "127.0.0.1:0",
                                  "--heartbeat-interval-ms", "100", "--connection-timeout-ms",
                                  "2000"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<child_process>(conveyor_binary(), args, dir, dir);
    address = node_address(*process);
    BOOST_TEST_REQUIRE(!address.empty(), "node " << name << " never listened:\n" << process->err());
    auto port = wait_for_log(*process, "metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics");
    BOOST_TEST_REQUIRE(!port.empty(), process->err());
    metrics_port = std::stoi(port);
  }
  std::string name;
  std::unique_ptr<child_process> process;
  std::string address;
  int metrics_port = 0;
};

/// A cluster file in `dir` naming nodes a and b.
std::string cluster_file_of(const std::string& dir, const metered_node& a, const metered_node& b) {
  return write_file(dir + "/cluster.toml",
                    "[cluster]\nheartbeat_interval_ms = 100\nconnection_timeout_ms = 2000\n"
                    "[[node]]\nname = \"a\"\naddress = \"" + a.address + "\"\n"
                    "[[node]]\nname = \"b\"\naddress = \"" + b.address + "\"\n");
}

/// SIGTERM to each node: each drains and exits 0.
void stop_nodes(std::initializer_list<metered_node*> nodes) {
  for (auto* n : nodes) {
    n->process->signal(SIGTERM);
    BOOST_TEST(n->process->wait(std::chrono::seconds(10)) == 0, n->process->err());
  }
}

/// Scrapes `port` until `done` holds for the parsed text; the last text.
prometheus_text scrape_until(int port, const std::function<bool(const prometheus_text&)>& done) {
  httplib::Client http("127.0.0.1", port);
  prometheus_text last;
  wait_until([&] {
    auto res = http.Get("/metrics");
    BOOST_REQUIRE_MESSAGE(res && res->status == 200, "no answer from /metrics on " << port);
    last = parse_prometheus_text(res->body);
    return done(last);
  });
  return last;
}

/// A port nothing listens on (bound, then released).
int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(s);
  return ntohs(a.sin_port);
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_ops)

BOOST_AUTO_TEST_CASE(status_and_metrics_show_nodes_steps_data_plane_and_credit_waits_of_a_run) {
  auto dir = scratch_dir("cluster-ops");
  metered_node a{"a", dir};
  metered_node b{"b", dir};
  auto cluster = cluster_file_of(dir, a, b);
  // A slow consumer on b: the source on a waits for its credit.
  auto graph = write_file(dir + "/g.flow",
                          "graph ops\n"
                          "node read = generate { rows = 400000, batch = 100, on = \"a\" }\n"
                          "node slow = chaos { delay = 5ms, on = \"b\", buffer = 2 }\n"
                          "node count = counter { on = \"b\" }\n"
                          "read -> slow -> count\n");
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster, "--metrics-listen", "127.0.0.1:0",
                     "--report", dir + "/report.json"},
                    source_dir(), dir};
  auto port = wait_for_log(run, "metrics: http://127\\.0\\.0\\.1:([0-9]+)/metrics");
  BOOST_TEST_REQUIRE(!port.empty(), run.err());
  const std::string coordinator = "127.0.0.1:" + port;

  // The coordinator: the edge into the slow step has waited for credit.
  scrape_until(std::stoi(port), [](const prometheus_text& t) {
    auto v = t.value("conveyor_edge_credit_wait_seconds_total",
                     {{"from", "read.out"}, {"to", "slow.in"}});
    return v && *v > 0;
  });
  // Node b received the batches over the data plane; node a sent them.
  scrape_until(b.metrics_port, [](const prometheus_text& t) {
    auto v = t.value("conveyor_data_plane_frames_received_total");
    return v && *v > 10;
  });
  scrape_until(a.metrics_port, [](const prometheus_text& t) {
    auto v = t.value("conveyor_data_plane_frames_sent_total");
    return v && *v > 10;
  });
  // Credit goes back from b to a as frames too (one per batch here: a window of 2).
  scrape_until(a.metrics_port, [](const prometheus_text& t) {
    auto v = t.value("conveyor_data_plane_frames_received_total");
    return v && *v > 10;
  });
  scrape_until(b.metrics_port, [](const prometheus_text& t) {
    auto v = t.value("conveyor_data_plane_frames_sent_total");
    return v && *v > 10;
  });

  // `conveyor status`: the JSON document, then the tables.
  auto json = run_conveyor({"status", "--coordinator", coordinator, "--json"}, 30s);
  BOOST_TEST_REQUIRE(json.status == 0, json.err);
  auto doc = nlohmann::json::parse(json.out);
  BOOST_TEST(doc["graph"] == "ops");
  BOOST_TEST_REQUIRE(doc["nodes"].size() == 2u);
  BOOST_TEST(doc["nodes"][0]["name"] == "a");
  BOOST_TEST(doc["nodes"][0]["address"] == a.address);
  BOOST_TEST(doc["nodes"][0]["cores"].get<int>() > 0);
  BOOST_TEST(doc["nodes"][0]["heartbeat_age_seconds"].get<double>() < 30.0);
  bool slow_on_b = false;
  for (const auto& s : doc["steps"])
    if (s["step"] == "slow")
      for (const auto& i : s["instances"])
        slow_on_b = slow_on_b || (i["node"] == "b" && i["state"] == "running");
  BOOST_TEST(slow_on_b, json.out);

  auto shown = run_conveyor({"status", "--coordinator", coordinator, "--interval", "0.5"}, 30s);
  BOOST_TEST_REQUIRE(shown.status == 0, shown.err);
  for (const char* expected : {"run ops", "NODE", "HEARTBEAT", "STEP", "slow", "running",
                               "read.out", "slow.in", "CREDIT WAIT", "BLOCKED"})
    BOOST_TEST(shown.out.find(expected) != std::string::npos, expected << " in:\n" << shown.out);

  run.signal(SIGINT);
  BOOST_TEST_REQUIRE(run.wait(60s) == 0, run.err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(step_of(report, "count")["rows_in"] == step_of(report, "read")["rows_out"]);
  stop_nodes({&a, &b});
}

BOOST_AUTO_TEST_CASE(a_slow_consumer_is_moved_off_the_data_plane_receiver_and_counts_stay_exact) {
  // Batches for an idle consumer run on the receiving node's data-plane thread; one that
  // takes 5 ms per batch (a window of 1: each batch finds it idle) is moved back to CAF's
  // scheduler after three, and the rest of its batches arrive as before.
  auto dir = scratch_dir("cluster-ops-slow");
  metered_node a{"a", dir};
  metered_node b{"b", dir};
  auto cluster = cluster_file_of(dir, a, b);
  auto graph = write_file(dir + "/g.flow",
                          "graph slow_consumer\n"
                          "node read = generate { rows = 2000, batch = 100, on = \"a\" }\n"
                          "node slow = chaos { delay = 5ms, times = 0, on = \"b\", buffer = 1 }\n"
                          "node count = counter { on = \"b\" }\n"
                          "read -> slow -> count\n");
  auto run = run_conveyor({"run", graph, "--cluster", cluster, "--report", dir + "/report.json"},
                          120s);
  BOOST_TEST_REQUIRE(run.status == 0, run.err);
  BOOST_TEST(b.process->err().find("takes over 500 us per batch: its batches go through the "
                                   "scheduler from now on") != std::string::npos,
             b.process->err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(step_of(report, "slow")["rows_in"] == 2000);
  BOOST_TEST(step_of(report, "count")["rows_in"] == 2000);
  stop_nodes({&a, &b});
}

BOOST_AUTO_TEST_CASE(a_tls_nodes_data_plane_refuses_a_curve_client_with_a_key_it_did_not_hand_out) {
  auto dir = scratch_dir("cluster-ops-curve");
  child_process certs{"/bin/bash",
                      {source_dir() + "/scripts/make-cluster-certs.sh", dir + "/certs", "a"},
                      source_dir(), dir};
  BOOST_TEST_REQUIRE(certs.wait(60s) == 0, certs.err());
  metered_node a{"a", dir,
                 {"--tls-ca", dir + "/certs/ca.pem", "--tls-cert", dir + "/certs/a.pem",
                  "--tls-key", dir + "/certs/a.key"}};
  auto endpoint = wait_for_log(*a.process, "data plane on (tcp://127\\.0\\.0\\.1:[0-9]+) \\(CurveZMQ");
  auto server_key = wait_for_log(*a.process, "data plane on .* \\(CurveZMQ, server key (.{40})\\)");
  BOOST_TEST_REQUIRE(!endpoint.empty(), a.process->err());
  BOOST_TEST_REQUIRE(server_key.size() == 40u, a.process->err());

  // A stranger who knows the server's public key, with a key pair of its own.
  void* ctx = zmq_ctx_new();
  void* push = zmq_socket(ctx, ZMQ_PUSH);
  char pub[41] = {}, sec[41] = {};
  BOOST_TEST_REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  zmq_setsockopt(push, ZMQ_CURVE_SERVERKEY, server_key.c_str(), 40);
  zmq_setsockopt(push, ZMQ_CURVE_PUBLICKEY, pub, 40);
  zmq_setsockopt(push, ZMQ_CURVE_SECRETKEY, sec, 40);
  int linger = 0;
  zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
  BOOST_TEST_REQUIRE(zmq_connect(push, endpoint.c_str()) == 0);
  zmq_send(push, "CVDP", 4, ZMQ_DONTWAIT);

  auto seen = scrape_until(a.metrics_port, [](const prometheus_text& t) {
    auto v = t.value("conveyor_data_plane_refused_handshakes_total");
    return v && *v >= 1;
  });
  BOOST_TEST(seen.value("conveyor_data_plane_frames_received_total").value_or(-1) == 0);
  zmq_close(push);
  zmq_ctx_term(ctx);
  a.process->signal(SIGTERM);
  BOOST_TEST(a.process->wait(10s) == 0, a.process->err());
}

BOOST_AUTO_TEST_CASE(status_where_nothing_listens_names_the_address_and_exits_1) {
  const auto where = "127.0.0.1:" + std::to_string(free_port());
  auto r = run_conveyor({"status", "--coordinator", where}, 30s);
  BOOST_TEST(r.status == 1);
  BOOST_TEST(r.err.find("nothing answers at " + where +
                        " (connection refused or host unreachable)") != std::string::npos,
             r.err);
  auto bad = run_conveyor({"status", "--coordinator", "127.0.0.1"}, 30s);
  BOOST_TEST(bad.status == 2, bad.err);
}

BOOST_AUTO_TEST_SUITE_END()
