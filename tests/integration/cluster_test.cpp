// Three `conveyor node` processes on 127.0.0.1 (each on a free port it picks and
// prints) and `conveyor run --cluster` coordinating runs on them: a CSV pipeline
// spread over the three by `on` labels, with an injected failure, and a training
// graph whose data-parallel replicas land on different nodes. Between them every
// runtime message crosses a process boundary (a type missing from CAF's registry
// fails only at run time): deploy, wire, batch, credit, eos, ack, stats, done,
// respawn, restarted, failed, model, peer, progress, metrics, save, drain, stop and the
// node host's resources and join.
#include "cluster_nodes.hpp"
#include "process.hpp"
#include "run_outputs.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <thread>

using namespace conveyor::testing;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(cluster)

BOOST_AUTO_TEST_CASE(a_csv_pipeline_spread_over_three_nodes_writes_what_one_process_writes) {
  auto dir = scratch_dir("cluster-csv");
  auto csv = write_numbered_csv(dir, 20000);
  auto graph_text = [&](const std::string& out) {
    return "graph spread\n"
           "node read = csv_reader { path = \"" + csv + "\", batch = 500, on = \"a\" }\n"
           "node flaky = chaos { fail_at = 7, times = 1, backoff = 20ms, on = \"b\" }\n"
           "node split = splitter { ratio = 0.7, seed = 3, on = \"b\" }\n"
           "node train = csv_writer { path = \"" + out + "/train.csv\", on = \"c\" }\n"
           "node eval = csv_writer { path = \"" + out + "/eval.csv\", on = \"a\" }\n"
           "read -> flaky -> split\nsplit.train -> train\nsplit.eval -> eval\n";
  };
  std::filesystem::create_directories(dir + "/one");
  std::filesystem::create_directories(dir + "/many");
  auto one = run_conveyor({"run", write_file(dir + "/one.flow", graph_text(dir + "/one")),
                           "--report", dir + "/one.json"});
  BOOST_TEST_REQUIRE(one.status == 0, one.err);

  three_nodes cluster{dir};
  auto many = run_conveyor({"run", write_file(dir + "/many.flow", graph_text(dir + "/many")),
                            "--cluster", cluster.cluster_file, "--report", dir + "/many.json"});
  BOOST_TEST_REQUIRE(many.status == 0, many.err << cluster.logs());
  auto single = load_report(dir + "/one.json");
  auto spread = load_report(dir + "/many.json");
  BOOST_TEST(spread["status"] == "completed");
  for (const char* step : {"read", "flaky", "split", "train", "eval"}) {
    BOOST_TEST(step_of(spread, step)["rows_in"] == step_of(single, step)["rows_in"], step);
    BOOST_TEST(step_of(spread, step)["rows_out"] == step_of(single, step)["rows_out"], step);
  }
  BOOST_TEST(step_of(spread, "flaky")["restarts"] == 1);
  auto train = ids_in(dir + "/many/train.csv");
  auto eval = ids_in(dir + "/many/eval.csv");
  BOOST_TEST(train == ids_in(dir + "/one/train.csv"));
  BOOST_TEST(eval == ids_in(dir + "/one/eval.csv"));
  BOOST_TEST(train.size() + eval.size() == 20000u);
  // Each step ran where its label put it (the nodes log the runs they joined).
  BOOST_TEST(cluster.nodes[1].process->err().find("step flaky failed") != std::string::npos,
             cluster.logs());
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(large_batches_forwarded_across_two_hops_arrive_unchanged) {
  // Batches of 64 KiB travel as one ZeroMQ part with their header written after their
  // floats: the source's own block on the first hop, the block received from it (its
  // old header's bytes) when the middle step sends it on. The file equals one process's.
  auto dir = scratch_dir("cluster-large");
  auto graph_text = [&](const std::string& out) {
    return "graph large\n"
           "node make = generate { rows = 20480, columns = 16, batch = 1024, on = \"a\" }\n"
           "node pass = chaos { times = 0, on = \"b\" }\n"
           "node write = csv_writer { path = \"" + out + "\", on = \"c\" }\n"
           "make -> pass -> write\n";
  };
  auto one = run_conveyor({"run", write_file(dir + "/one.flow", graph_text(dir + "/one.csv"))});
  BOOST_TEST_REQUIRE(one.status == 0, one.err);
  three_nodes cluster{dir};
  auto many = run_conveyor({"run", write_file(dir + "/many.flow", graph_text(dir + "/many.csv")),
                            "--cluster", cluster.cluster_file});
  BOOST_TEST_REQUIRE(many.status == 0, many.err << cluster.logs());
  const auto expected = read_file(dir + "/one.csv");
  BOOST_TEST(std::count(expected.begin(), expected.end(), '\n') == 20481); // and the header
  BOOST_TEST((read_file(dir + "/many.csv") == expected));
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(a_training_graph_runs_its_replicas_on_different_nodes) {
  auto dir = scratch_dir("cluster-train");
  auto csv = dir + "/points.csv";
  {
    std::ofstream f(csv);
    f << "a,b,label\n";
    for (int i = 0; i < 2000; ++i) {
      float a = static_cast<float>(i % 50) / 10.0f, b = static_cast<float>(i % 37) / 7.0f;
      f << a << ',' << b << ',' << (a + 2 * b > 5 ? 1 : 0) << '\n';
    }
  }
  auto graph = write_file(
    dir + "/train.flow",
    "graph factory\n"
    "node data = csv_reader { path = \"" + csv + "\", label = \"label\", on = \"a\" }\n"
    "node eval = csv_reader { path = \"" + csv + "\", label = \"label\", on = \"b\" }\n"
    "node clean = cleaner { standardize = [\"*\"], on = \"b\" }\n"
    "node fit = trainer { model = \"logistic\", lr = 0.5, batch = 64, epochs = 5, "
    "devices = \"cpu:2\", name = \"points\" }\n"
    "node check = evaluator { metric = \"accuracy\", min = 0.5, on = \"c\" }\n"
    "node models = publisher { registry = \"" + dir + "/registry\", on = \"c\" }\n"
    "data -> clean -> fit\nfit.model -> check.model\neval -> check.data\ncheck -> models\n");
  three_nodes cluster{dir};
  auto r = run_conveyor({"run", graph, "--cluster", cluster.cluster_file, "--report",
                         dir + "/report.json"},
                        120s);
  BOOST_TEST_REQUIRE(r.status == 0, r.err << cluster.logs());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  // Each replica reads every row (a replica group); the hosts of the replicas differ.
  BOOST_TEST(step_of(report, "fit")["rows_in"] == 2 * 2000);
  int hosts_of_fit = 0;
  for (const auto& n : cluster.nodes) {
    auto log = n.process->err();
    hosts_of_fit += (log.find("hosting") != std::string::npos &&
                     std::regex_search(log, std::regex("hosting [^\\n]*\\bfit(#1)?\\b")));
  }
  BOOST_TEST(hosts_of_fit == 2, cluster.logs());
  BOOST_TEST(step_of(report, "check")["metrics"]["accuracy"].get<double>() >= 0.5);
  BOOST_TEST(std::filesystem::exists(dir + "/registry/points/1.model"), cluster.logs());
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(a_step_that_exhausts_its_restarts_on_a_node_fails_the_cluster_run) {
  auto dir = scratch_dir("cluster-failed");
  auto csv = write_numbered_csv(dir, 2000);
  auto graph = write_file(dir + "/g.flow",
                          "graph doomed\n"
                          "node read = csv_reader { path = \"" + csv + "\", batch = 100, on = \"a\" }\n"
                          "node flaky = chaos { fail_at = 3, times = 100, restart = \"never\", "
                          "on = \"b\" }\n"
                          "node write = csv_writer { path = \"" + dir + "/out.csv\", on = \"c\" }\n"
                          "read -> flaky -> write\n");
  three_nodes cluster{dir};
  auto r = run_conveyor({"run", graph, "--cluster", cluster.cluster_file, "--report",
                         dir + "/report.json"});
  BOOST_TEST(r.status == 1, r.err);
  BOOST_TEST(r.err.find("step 'flaky' failed") != std::string::npos, r.err);
  // The nodes keep serving: a second run on the same nodes completes.
  auto fine = write_file(dir + "/fine.flow",
                         "graph fine\n"
                         "node read = csv_reader { path = \"" + csv + "\", on = \"a\" }\n"
                         "node write = csv_writer { path = \"" + dir + "/fine.csv\", on = \"c\" }\n"
                         "read -> write\n");
  auto again = run_conveyor({"run", fine, "--cluster", cluster.cluster_file});
  BOOST_TEST(again.status == 0, again.err << cluster.logs());
  BOOST_TEST(ids_in(dir + "/fine.csv").size() == 2000u);
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(an_unreachable_node_is_named_with_its_address_and_a_bad_file_exits_2) {
  auto dir = scratch_dir("cluster-unreachable");
  auto graph = write_file(dir + "/g.flow", "graph g\nnode n = csv_reader { path = \"x.csv\" }\n"
                                           "node w = csv_writer { path = \"y.csv\" }\nn -> w\n");
  // A port nothing listens on: bind one, then close it.
  auto cluster = write_file(dir + "/cluster.toml",
                            "[[node]]\nname = \"gone\"\naddress = \"127.0.0.1:1\"\n");
  auto r = run_conveyor({"run", graph, "--cluster", cluster});
  BOOST_TEST(r.status == 1, r.err);
  BOOST_TEST(r.err.find("cannot reach node 'gone' at 127.0.0.1:1") != std::string::npos, r.err);

  auto bad = write_file(dir + "/bad.toml", "[cluster]\nheartbeat_interval_ms = -5\n");
  auto b = run_conveyor({"run", graph, "--cluster", bad});
  BOOST_TEST(b.status == 2, b.err);
  BOOST_TEST(b.err.find(dir + "/bad.toml:2:25: error: cluster.heartbeat_interval_ms") !=
               std::string::npos,
             b.err);
}

BOOST_AUTO_TEST_CASE(a_node_drains_on_sigterm_while_a_run_is_on_it_and_the_run_fails_naming_it) {
  auto dir = scratch_dir("cluster-drain");
  auto graph = slow_pipeline(dir, 200000, "slow", "b");
  three_nodes cluster{dir};
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--report",
                     dir + "/report.json"},
                    source_dir(), dir};
  // Wait until rows reach the writer on node c, then stop node b.
  BOOST_TEST_REQUIRE(wait_until([&] { return !ids_in(dir + "/out.csv").empty(); }, 60s),
                     "the rows waited for never reached the writer:\n" << run.err() << cluster.logs());
  cluster.nodes[1].process->signal(SIGTERM);
  BOOST_TEST(cluster.nodes[1].process->wait(10s) == 0, cluster.nodes[1].process->err());
  BOOST_TEST(run.wait(60s) == 1, run.err());
  BOOST_TEST(run.err().find("lost node 'b'") != std::string::npos, run.err());
  cluster.nodes[0].process->signal(SIGTERM);
  cluster.nodes[2].process->signal(SIGTERM);
  BOOST_TEST(cluster.nodes[0].process->wait(10s) == 0);
  BOOST_TEST(cluster.nodes[2].process->wait(10s) == 0);
}

BOOST_AUTO_TEST_CASE(sigint_to_the_coordinator_drains_the_run_on_every_node) {
  auto dir = scratch_dir("cluster-interrupt");
  auto graph = slow_pipeline(dir, 200000, "slow", "b");
  three_nodes cluster{dir};
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--report",
                     dir + "/report.json"},
                    source_dir(), dir};
  BOOST_TEST_REQUIRE(wait_until([&] { return !ids_in(dir + "/out.csv").empty(); }, 60s),
                     "the rows waited for never reached the writer:\n" << run.err() << cluster.logs());
  run.signal(SIGINT);
  BOOST_TEST_REQUIRE(run.wait(30s) == 0, run.err() << cluster.logs());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "interrupted");
  auto written = ids_in(dir + "/out.csv").size();
  BOOST_TEST(step_of(report, "write")["rows_in"] == written);
  BOOST_TEST(step_of(report, "read")["rows_out"] == written);
  BOOST_TEST(written < 200000u);
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(a_killed_nodes_step_moves_to_a_surviving_node_and_every_row_arrives_once) {
  auto dir = scratch_dir("cluster-move");
  // `slow` may run on b or c ("work"): placed on b, it moves to c when b is killed.
  auto graph = slow_pipeline(dir, 50000, "moving", "work");
  three_nodes cluster{dir};
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--report",
                     dir + "/report.json"},
                    source_dir(), dir};
  BOOST_TEST_REQUIRE(wait_until([&] { return ids_in(dir + "/out.csv").size() >= 1000; }, 60s),
                     "the rows waited for never reached the writer:\n" << run.err() << cluster.logs());
  BOOST_TEST_REQUIRE(cluster.nodes[1].process->err().find("hosting slow") != std::string::npos,
                     cluster.logs());
  cluster.nodes[1].process->signal(SIGKILL);
  BOOST_TEST_REQUIRE(run.wait(120s) == 0, run.err() << cluster.logs());
  BOOST_TEST(run.err().find("lost node 'b'") != std::string::npos, run.err());
  BOOST_TEST(run.err().find("moving slow to node 'c'") != std::string::npos, run.err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  BOOST_TEST(step_of(report, "read")["rows_out"] == 50000);
  BOOST_TEST(step_of(report, "write")["rows_in"] == 50000);
  auto ids = ids_in(dir + "/out.csv");
  BOOST_TEST(ids.size() == 50000u);
  BOOST_TEST(std::set<long>(ids.begin(), ids.end()).size() == 50000u);
  for (std::size_t i : {0u, 2u}) {
    cluster.nodes[i].process->signal(SIGTERM);
    BOOST_TEST(cluster.nodes[i].process->wait(10s) == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_killed_node_is_detected_by_its_closed_connection_and_named) {
  auto dir = scratch_dir("cluster-sigkill");
  auto graph = slow_pipeline(dir, 200000, "slow", "b");
  three_nodes cluster{dir};
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--report",
                     dir + "/report.json"},
                    source_dir(), dir};
  BOOST_TEST_REQUIRE(wait_until([&] { return !ids_in(dir + "/out.csv").empty(); }, 60s),
                     "the rows waited for never reached the writer:\n" << run.err() << cluster.logs());
  cluster.nodes[1].process->signal(SIGKILL);
  BOOST_TEST(run.wait(60s) == 1, run.err());
  BOOST_TEST(run.err().find("lost node 'b': exit_reason(remote_link_unreachable)") !=
               std::string::npos,
             run.err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "failed");
  // The surviving nodes stop the run's steps and keep serving.
  for (std::size_t i : {0u, 2u}) {
    auto& p = *cluster.nodes[i].process;
    BOOST_TEST_REQUIRE(
      wait_until([&] { return p.err().find(" ended") != std::string::npos; }, 30s), p.err());
    p.signal(SIGTERM);
    BOOST_TEST(p.wait(10s) == 0, p.err());
  }
}

BOOST_AUTO_TEST_CASE(a_frozen_node_is_declared_lost_and_after_sigcont_its_old_run_is_gone) {
  auto dir = scratch_dir("cluster-sigstop");
  auto graph = slow_pipeline(dir, 200000, "slow", "b");
  three_nodes cluster{dir};
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--report",
                     dir + "/report.json"},
                    source_dir(), dir};
  BOOST_TEST_REQUIRE(wait_until([&] { return !ids_in(dir + "/out.csv").empty(); }, 60s),
                     "the rows waited for never reached the writer:\n" << run.err() << cluster.logs());
  auto& b = *cluster.nodes[1].process;
  b.signal(SIGSTOP);
  // No connection closes: only the missing heartbeats can tell.
  BOOST_TEST(run.wait(60s) == 1, run.err());
  BOOST_TEST(run.err().find("lost node 'b'") != std::string::npos, run.err());
  b.signal(SIGCONT);
  // Back, node b finds its coordinator gone and ends that run's node and steps.
  BOOST_TEST_REQUIRE(wait_until(
                       [&] {
                         return b.err().find("] run slow-") != std::string::npos &&
                                b.err().find(" ended") != std::string::npos;
                       },
                       30s),
                     b.err());
  // And it serves the next run.
  auto fine = write_file(dir + "/fine.flow",
                         "graph fine\n"
                         "node read = csv_reader { path = \"" + dir + "/numbers.csv\", on = \"b\" }\n"
                         "node write = csv_writer { path = \"" + dir + "/fine.csv\", on = \"c\" }\n"
                         "read -> write\n");
  auto again = run_conveyor({"run", fine, "--cluster", cluster.cluster_file});
  BOOST_TEST(again.status == 0, again.err << cluster.logs());
  BOOST_TEST(ids_in(dir + "/fine.csv").size() == 200000u);
  cluster.stop();
}

BOOST_AUTO_TEST_SUITE_END()
