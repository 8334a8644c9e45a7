// The stream sources in the real `conveyor` binary: a real `nats-server -js` on
// 127.0.0.1 and a ZeroMQ PUSH socket feed never-ending runs that are drained by signals.
#include "process.hpp"
#include "run_outputs.hpp"
#include "tests/support/wait_until.hpp"
#include "tests/support/nats_test_server.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <csignal>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

using namespace conveyor::testing;
using conveyor::test::free_tcp_port;
using conveyor::test::nats_test_server;
using conveyor::test::pack_row;
using namespace std::chrono_literals;

namespace {

struct nats_run {
  std::string dir = scratch_dir("nats");
  nats_test_server server{dir + "/store"};

  nats_run() { server.create_stream("ROWS", "rows.in"); }

  void publish(int from, int to) {
    for (int i = from; i < to; ++i)
      server.publish("rows.in", pack_row({{"id", double(i)}, {"x", i * 0.5}}));
  }

  /// nats_source -> [middle ->] csv_writer into `out`.
  std::string graph(const std::string& out, const std::string& middle = "",
                    const std::string& extra = "") {
    std::string text = "graph stream\n"
                       "node read = nats_source { url = \"" + server.url() +
                       "\", stream = \"ROWS\", durable = \"conveyor\", subject = \"rows.in\", "
                       "columns = [\"id\", \"x\"], batch = 100, max_wait = 50ms" + extra + " }\n"
                       "node write = csv_writer { path = \"" + out + "\" }\n";
    if (middle.empty())
      text += "read -> write\n";
    else
      text += "node middle = " + middle + "\nread -> middle -> write\n";
    return write_file(dir + "/g" + std::to_string(++graphs) + ".flow", text);
  }

  /// Runs `graph` until `out` holds `rows` rows, then drains it with SIGINT; returns
  /// the exit status (the drain must end within 30 s).
  int run_until(const std::string& graph, const std::string& out, std::size_t rows,
                const std::string& report, std::string* log = nullptr) {
    child_process p{conveyor_binary(), {"run", graph, "--report", report}, dir, dir};
    bool arrived = wait_until([&] { return ids_in(out).size() >= rows; }, 60s);
    BOOST_TEST(arrived, p.err());
    p.signal(SIGINT);
    auto status = p.wait(30s);
    BOOST_TEST(status == 0, p.err());
    if (log != nullptr)
      *log = p.err();
    return status;
  }

  int graphs = 0;
};

std::set<long> range(long from, long to) {
  std::set<long> s;
  for (long i = from; i < to; ++i)
    s.insert(i);
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(streams)

BOOST_AUTO_TEST_CASE(a_drained_nats_run_delivers_and_acknowledges_every_row_and_the_next_run_gets_only_the_rest) {
  nats_run r;
  r.publish(0, 1000);
  auto out1 = r.dir + "/out1.csv";
  r.run_until(r.graph(out1), out1, 1000, r.dir + "/report1.json");
  auto ids = ids_in(out1);
  BOOST_TEST(ids.size() == 1000u);
  BOOST_TEST((std::set<long>(ids.begin(), ids.end()) == range(0, 1000)));
  BOOST_TEST(nlohmann::json::parse(read_file(r.dir + "/report1.json"))["status"] == "interrupted");
  BOOST_TEST(r.server.ack_floor("ROWS", "conveyor") == 1000u);

  r.publish(1000, 1300);
  auto out2 = r.dir + "/out2.csv";
  r.run_until(r.graph(out2), out2, 300, r.dir + "/report2.json");
  auto rest = ids_in(out2);
  BOOST_TEST((std::set<long>(rest.begin(), rest.end()) == range(1000, 1300)));
  BOOST_TEST(rest.size() == 300u);
}

BOOST_AUTO_TEST_CASE(a_source_replayed_after_a_failure_downstream_loses_and_doubles_no_row) {
  nats_run r;
  r.publish(0, 3000);
  auto out = r.dir + "/out.csv";
  auto graph = r.graph(out, "chaos { fail_at = 7, times = 2, backoff = 20ms }");
  std::string log;
  r.run_until(graph, out, 3000, r.dir + "/report.json", &log);
  // each respawned source opened the durable only after its previous incarnation closed it
  BOOST_TEST(log.find("another connection took messages") == std::string::npos, log);
  auto ids = ids_in(out);
  BOOST_TEST(ids.size() == 3000u);
  BOOST_TEST((std::set<long>(ids.begin(), ids.end()) == range(0, 3000)));
  BOOST_TEST(step_of(load_report(r.dir + "/report.json"), "middle")["restarts"] == 2);
  BOOST_TEST(step_of(load_report(r.dir + "/report.json"), "read")["rows_replayed"].get<long>() > 0);
  BOOST_TEST(r.server.ack_floor("ROWS", "conveyor") == 3000u);
}

BOOST_AUTO_TEST_CASE(a_server_outage_mid_stream_loses_and_doubles_no_row) {
  nats_run r;
  r.publish(0, 500);
  auto out = r.dir + "/out.csv";
  child_process p{conveyor_binary(), {"run", r.graph(out), "--report", r.dir + "/report.json"},
                  r.dir, r.dir};
  BOOST_TEST_REQUIRE(wait_until([&] { return ids_in(out).size() >= 500; }, 60s), p.err());
  r.server.restart(); // the source's client reconnects; the stream is on disk
  r.publish(500, 1000);
  BOOST_TEST(wait_until([&] { return ids_in(out).size() >= 1000; }, 60s), p.err());
  p.signal(SIGINT);
  BOOST_TEST_REQUIRE(p.wait(30s) == 0, p.err());
  auto ids = ids_in(out);
  BOOST_TEST(ids.size() == 1000u);
  BOOST_TEST((std::set<long>(ids.begin(), ids.end()) == range(0, 1000)));
  BOOST_TEST(r.server.ack_floor("ROWS", "conveyor") == 1000u);
}

BOOST_AUTO_TEST_CASE(rows_published_while_the_run_streams_arrive_and_malformed_ones_are_quarantined) {
  nats_run r;
  auto out = r.dir + "/out.csv";
  auto graph = r.graph(out, "", ", quarantine = \"" + r.dir + "/bad.csv\"");
  child_process p{conveyor_binary(), {"run", graph, "--report", r.dir + "/report.json"}, r.dir,
                  r.dir};
  r.publish(0, 50);
  r.server.publish("rows.in", pack_row({{"id", std::string("fifty")}, {"x", 1.0}}));
  r.server.publish("rows.in", "\x93\x01\x02\x03");
  r.publish(50, 100);
  BOOST_TEST(wait_until([&] { return ids_in(out).size() >= 100; }, 60s), p.err());
  p.signal(SIGTERM);
  BOOST_TEST(p.wait(30s) == 0, p.err());
  auto ids = ids_in(out);
  BOOST_TEST(ids.size() == 100u);
  BOOST_TEST((std::set<long>(ids.begin(), ids.end()) == range(0, 100)));
  BOOST_TEST(step_of(load_report(r.dir + "/report.json"), "read")["rows_rejected"] == 2);
  auto bad = read_file(r.dir + "/bad.csv");
  BOOST_TEST(bad.find("51,\"field 'id': expected a number, got a string\",") != std::string::npos, bad);
  BOOST_TEST(bad.find("52,\"expected a MessagePack map of column -> value, got an array\",") != std::string::npos, bad);
  BOOST_TEST(r.server.ack_floor("ROWS", "conveyor") == 102u); // the rejected ones too
}

BOOST_AUTO_TEST_CASE(rows_pushed_to_a_zmq_source_arrive_malformed_ones_are_counted_and_sigint_drains) {
  auto dir = scratch_dir("zmq");
  auto endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  auto out = dir + "/out.csv";
  auto graph = write_file(dir + "/g.flow",
                          "graph feed\n"
                          "node read = zmq_source { endpoint = \"" + endpoint +
                            "\", columns = [\"id\", \"x\"], batch = 64, max_wait = 50ms }\n"
                            "node write = csv_writer { path = \"" + out + "\" }\n"
                            "read -> write\n");
  child_process p{conveyor_binary(), {"run", graph, "--report", dir + "/report.json"}, dir, dir};
  BOOST_TEST_REQUIRE(
    wait_until([&] { return p.err().find("bound PULL socket") != std::string::npos; }, 30s),
    p.err());
  zmq::context_t ctx;
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.connect(endpoint);
  for (int i = 0; i < 500; ++i) {
    auto row = pack_row({{"id", double(i)}, {"x", 1.0}});
    push.send(zmq::buffer(row), zmq::send_flags::none);
    if (i % 100 == 0) {
      auto bad = pack_row({{"id", double(i)}, {"x", std::string("no")}});
      push.send(zmq::buffer(bad), zmq::send_flags::none);
    }
  }
  BOOST_TEST(wait_until([&] { return ids_in(out).size() >= 500; }, 60s), p.err());
  p.signal(SIGINT);
  BOOST_TEST(p.wait(30s) == 0, p.err());
  auto ids = ids_in(out);
  BOOST_TEST((std::set<long>(ids.begin(), ids.end()) == range(0, 500)));
  BOOST_TEST(ids.size() == 500u);
  BOOST_TEST(step_of(load_report(dir + "/report.json"), "read")["rows_rejected"] == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(streams_example)

BOOST_AUTO_TEST_CASE(the_publisher_script_feeds_the_stream_example_which_quarantines_the_two_bad_listings) {
  auto dir = scratch_dir("stream_example");
  nats_test_server server{dir + "/store"};
  child_process publisher{"/usr/bin/python3",
                          {source_dir() + "/scripts/nats_publish.py",
                           source_dir() + "/examples/data/houses.csv", "--url", server.url(),
                           "--subject", "houses.in", "--create-stream", "HOUSES",
                           "--categorical", "city"},
                          dir, dir};
  BOOST_TEST_REQUIRE(publisher.wait(60s) == 0, publisher.err());
  BOOST_TEST(publisher.out().find("published 302 rows to houses.in") != std::string::npos);
  child_process run{conveyor_binary(),
                    {"run", source_dir() + "/examples/stream.flow", "--set", "url=" + server.url(),
                     "--set", "out=" + dir, "--report", dir + "/report.json"},
                    dir, dir};
  // Every listing delivered to the output file and acknowledged.
  BOOST_TEST(wait_until([&] { return server.ack_floor("HOUSES", "conveyor-houses") == 302u; }, 60s),
             run.err());
  run.signal(SIGINT);
  BOOST_TEST_REQUIRE(run.wait(30s) == 0, run.err());
  BOOST_TEST(step_of(load_report(dir + "/report.json"), "listings")["rows_rejected"] == 2);
  BOOST_TEST(step_of(load_report(dir + "/report.json"), "listings_csv")["rows_in"].get<long>() > 250);
  auto bad = read_file(dir + "/houses.stream-quarantine.csv");
  // CSV lines 121 and 201 are the 120th and 200th rows published.
  BOOST_TEST(bad.find("\n120,\"field 'age': expected a number, got a string\",") != std::string::npos, bad);
  BOOST_TEST(bad.find("\n200,no field 'distance_km',") != std::string::npos, bad);
}

BOOST_AUTO_TEST_SUITE_END()
