// Supervision and durable state across nodes, with real processes: a restart strategy
// whose group spans two nodes; a trainer whose node is killed resuming from its
// checkpoint on another node; an inference step moved off a killed node serving the
// latest model at once; a run whose coordinator was killed continued with --resume.
// Nodes work in folders of their own where files matter (as on different machines), so
// nothing reaches a moved step through a shared filesystem. The `exited` message and
// the trainer's and the inference step's states cross process boundaries here.
#include "cluster_nodes.hpp"
#include "process.hpp"
#include "run_outputs.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

using namespace conveyor::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Two features; the label is 1 when a + 2 b > 5.
std::string write_points(const std::string& dir, int rows) {
  auto path = dir + "/points.csv";
  std::ofstream f(path);
  f << "a,b,label\n";
  for (int i = 0; i < rows; ++i) {
    float a = static_cast<float>(i % 50) / 10.0f, b = static_cast<float>(i % 37) / 7.0f;
    f << a << ',' << b << ',' << (a + 2 * b > 5 ? 1 : 0) << '\n';
  }
  return path;
}

bool has_checkpoint(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir + "/ckpt", ec))
    if (e.path().extension() == ".ckpt")
      return true;
  return false;
}

/// The other node of b and c (the "work" nodes).
node_process& other_worker(three_nodes& cluster, const node_process& n) {
  return n.name == "b" ? cluster.nodes[2] : cluster.nodes[1];
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_state)

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_the_steps_downstream_on_another_node_and_counts_stay_exact) {
  auto dir = scratch_dir("cluster-strategy");
  auto csv = write_numbered_csv(dir, 20000);
  auto graph = write_file(dir + "/g.flow",
                          "graph strategy\n"
                          "node read = csv_reader { path = \"" + csv + "\", batch = 500, on = \"a\" }\n"
                          "node flaky = chaos { fail_at = 7, times = 1, backoff = 20ms, "
                          "strategy = \"rest_for_one\", on = \"b\" }\n"
                          "node write = csv_writer { path = \"" + dir + "/out.csv\", on = \"c\" }\n"
                          "read -> flaky -> write\n");
  three_nodes cluster{dir};
  auto r = run_conveyor({"run", graph, "--cluster", cluster.cluster_file, "--report",
                         dir + "/report.json"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err << cluster.logs());
  // The coordinator decided over the whole graph: the writer on node c restarted with
  // the failed step on node b.
  BOOST_TEST(r.err.find("(rest_for_one: flaky on 'b', write on 'c')") != std::string::npos, r.err);
  BOOST_TEST(cluster.nodes[1].process->err().find("step flaky failed") != std::string::npos,
             cluster.logs());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  BOOST_TEST(step_of(report, "flaky")["restarts"] == 1);
  BOOST_TEST(step_of(report, "write")["restarts"] == 1);
  BOOST_TEST(step_of(report, "read")["restarts"] == 0);
  BOOST_TEST(step_of(report, "read")["rows_out"] == 20000);
  BOOST_TEST(step_of(report, "flaky")["rows_in"] == 20000);
  BOOST_TEST(step_of(report, "write")["rows_in"] == 20000);
  auto ids = ids_in(dir + "/out.csv");
  BOOST_TEST(ids.size() == 20000u);
  BOOST_TEST(std::set<long>(ids.begin(), ids.end()).size() == 20000u);
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(a_trainer_on_a_killed_node_resumes_from_its_checkpoint_on_another_node) {
  auto dir = scratch_dir("cluster-trainer-moves");
  auto csv = write_points(dir, 2000);
  // Relative checkpoint_dir: each node writes under its own folder.
  auto graph = write_file(
    dir + "/train.flow",
    "graph moving_trainer\n"
    "node data = csv_reader { path = \"" + csv + "\", label = \"label\", on = \"a\" }\n"
    "node fit = trainer { model = \"mlp\", layers = [2, 64, 64, 2], lr = 0.05, batch = 32, "
    "epochs = 400, checkpoint_every = 100, checkpoint_dir = \"ckpt\", name = \"points\", "
    "on = \"work\" }\n"
    "node models = publisher { registry = \"" + dir + "/registry\", on = \"a\" }\n"
    "data -> fit\nfit.model -> models\n");
  three_nodes cluster{dir, true};
  const auto state = dir + "/state";
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--state-dir", state,
                     "--report", dir + "/report.json"},
                    dir, dir};
  // The coordinator holds a checkpoint (its state record carries the bytes).
  BOOST_TEST_REQUIRE(wait_until(
                       [&] {
                         return read_file(state + "/state/fit.rec").find("\nbytes ") !=
                                std::string::npos;
                       },
                       120s),
                     "no checkpoint reached the coordinator:\n" << run.err() << cluster.logs());
  auto* host = cluster.host_of("fit");
  BOOST_TEST_REQUIRE(host != nullptr, cluster.logs());
  auto& other = other_worker(cluster, *host);
  BOOST_TEST_REQUIRE(!has_checkpoint(other.dir));
  host->process->signal(SIGKILL);
  BOOST_TEST_REQUIRE(run.wait(300s) == 0, run.err() << cluster.logs());
  BOOST_TEST(run.err().find("moving fit to node '" + other.name + "'") != std::string::npos,
             run.err());
  BOOST_TEST(other.process->err().find("resuming from checkpoint of step") != std::string::npos,
             other.process->err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  BOOST_TEST(step_of(report, "fit")["metrics"]["resumed_from_step"].get<double>() > 0);
  BOOST_TEST(step_of(report, "data")["rows_out"] == 2000);
  BOOST_TEST(step_of(report, "fit")["rows_in"] == 2000);
  BOOST_TEST(fs::exists(dir + "/registry/points/1.model"), cluster.logs());
  for (auto& n : cluster.nodes)
    if (&n != host) {
      n.process->signal(SIGTERM);
      BOOST_TEST(n.process->wait(10s) == 0, n.process->err());
    }
}

BOOST_AUTO_TEST_CASE(a_replica_group_that_loses_a_replica_restarts_together_from_its_checkpoint) {
  auto dir = scratch_dir("cluster-group-moves");
  auto csv = write_points(dir, 2000);
  // Two replicas on b and c ("work"); killing c moves fit#1 to b, where fit restarts
  // with it: the pair resumes from replica 0's checkpoint.
  auto graph = write_file(
    dir + "/group.flow",
    "graph moving_group\n"
    "node data = csv_reader { path = \"" + csv + "\", label = \"label\", on = \"a\" }\n"
    "node fit = trainer { model = \"mlp\", layers = [2, 64, 64, 2], lr = 0.05, batch = 32, "
    "epochs = 400, checkpoint_every = 100, checkpoint_dir = \"ckpt\", devices = \"cpu:2\", "
    "name = \"points\", on = \"work\" }\n"
    "node models = publisher { registry = \"" + dir + "/registry\", on = \"a\" }\n"
    "data -> fit\nfit.model -> models\n");
  three_nodes cluster{dir, true};
  const auto state = dir + "/state";
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--state-dir", state,
                     "--report", dir + "/report.json"},
                    dir, dir};
  BOOST_TEST_REQUIRE(wait_until(
                       [&] {
                         return read_file(state + "/state/fit.rec").find("\nbytes ") !=
                                std::string::npos;
                       },
                       120s),
                     "no checkpoint reached the coordinator:\n" << run.err() << cluster.logs());
  auto* first = cluster.host_of("fit");
  BOOST_TEST_REQUIRE(first != nullptr, cluster.logs());
  auto& lost = other_worker(cluster, *first); // the node of fit#1
  lost.process->signal(SIGKILL);
  BOOST_TEST_REQUIRE(run.wait(300s) == 0, run.err() << cluster.logs());
  BOOST_TEST(run.err().find("moving fit#1 to node '" + first->name + "'") != std::string::npos,
             run.err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  BOOST_TEST(step_of(report, "fit")["metrics"]["resumed_from_step"].get<double>() > 0);
  BOOST_TEST(step_of(report, "fit")["rows_in"] == 2 * 2000); // each replica every row, once
  BOOST_TEST(fs::exists(dir + "/registry/points/1.model"), cluster.logs());
  for (auto& n : cluster.nodes)
    if (&n != &lost) {
      n.process->signal(SIGTERM);
      BOOST_TEST(n.process->wait(10s) == 0, n.process->err());
    }
}

BOOST_AUTO_TEST_CASE(an_inference_step_moved_off_a_killed_node_serves_the_latest_model_at_once) {
  auto dir = scratch_dir("cluster-inference-moves");
  auto csv = write_points(dir, 2000);
  // The registry is relative: it exists on node a only; the inference step reads none.
  auto graph = write_file(
    dir + "/serve.flow",
    "graph moving_api\n"
    "node data = csv_reader { path = \"" + csv + "\", label = \"label\", on = \"a\" }\n"
    "node fit = trainer { model = \"logistic\", lr = 0.5, batch = 64, epochs = 5, "
    "name = \"points\", on = \"a\" }\n"
    "node models = publisher { registry = \"registry\", on = \"a\" }\n"
    "node api = inference { endpoint = \"tcp://127.0.0.1:*\", on = \"work\" }\n"
    "data -> fit\nfit.model -> models -> api\n");
  three_nodes cluster{dir, true};
  child_process run{conveyor_binary(),
                    {"run", graph, "--cluster", cluster.cluster_file, "--report",
                     dir + "/report.json"},
                    dir, dir};
  node_process* host = nullptr;
  BOOST_TEST_REQUIRE(wait_until(
                       [&] {
                         host = cluster.host_of("api");
                         return host != nullptr &&
                                host->process->err().find("now serving 'points' version 1") !=
                                  std::string::npos;
                       },
                       120s),
                     run.err() << cluster.logs());
  auto& other = other_worker(cluster, *host);
  BOOST_TEST_REQUIRE(!fs::exists(other.dir + "/registry"));
  host->process->signal(SIGKILL);
  BOOST_TEST_REQUIRE(!wait_for_log(*other.process,
                                   "(serving 'points' version 1 from its saved state)", 60s)
                        .empty(),
                     run.err() << cluster.logs());
  auto endpoint = wait_for_endpoint(*other.process);
  write_file(dir + "/ask.csv", "a,b\n4.5,3\n0.1,0.1\n");
  auto asked = run_conveyor({"infer", "--endpoint", endpoint, "--model", "points", "--csv",
                             dir + "/ask.csv"});
  BOOST_TEST(asked.status == 0, asked.err);
  BOOST_TEST(asked.out.find("(points v1)") != std::string::npos, asked.out);
  run.signal(SIGINT);
  BOOST_TEST(run.wait(60s) == 0, run.err() << cluster.logs());
  BOOST_TEST(load_report(dir + "/report.json")["status"] == "interrupted");
  for (auto& n : cluster.nodes)
    if (&n != host) {
      n.process->signal(SIGTERM);
      BOOST_TEST(n.process->wait(10s) == 0, n.process->err());
    }
}

BOOST_AUTO_TEST_CASE(a_run_whose_coordinator_was_killed_continues_with_resume_and_loses_no_row) {
  auto dir = scratch_dir("cluster-resume");
  auto graph = slow_pipeline(dir, 20000, "resumed", "b");
  three_nodes cluster{dir};
  const auto state = dir + "/state";
  {
    child_process first{conveyor_binary(),
                        {"run", graph, "--cluster", cluster.cluster_file, "--state-dir", state},
                        source_dir(), dir};
    BOOST_TEST_REQUIRE(wait_until(
                         [&] {
                           return ids_in(dir + "/out.csv").size() >= 2000 &&
                                  fs::exists(state + "/ledger.rec");
                         },
                         60s),
                       first.err() << cluster.logs());
    first.signal(SIGKILL);
    first.wait(10s);
  }
  auto written_before = ids_in(dir + "/out.csv").size();
  BOOST_TEST_REQUIRE(written_before < 20000u);
  auto resumed = run_conveyor({"run", "--resume", state, "--cluster", cluster.cluster_file,
                               "--report", dir + "/report.json"},
                              120s);
  BOOST_TEST_REQUIRE(resumed.status == 0, resumed.err << cluster.logs());
  BOOST_TEST(resumed.err.find("resuming from the state directory") != std::string::npos,
             resumed.err);
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  // The reader resumed after what the writer had acknowledged, not from the start.
  BOOST_TEST(step_of(report, "read")["rows_out"].get<long>() < 20000);
  auto ids = ids_in(dir + "/out.csv");
  std::set<long> distinct(ids.begin(), ids.end());
  BOOST_TEST(distinct.size() == 20000u); // every row
  // Once: the writer cut the file back to the length its journaled state recorded, so
  // rows written after the last journal flush before the crash are not there twice.
  BOOST_TEST(ids.size() == 20000u);
  BOOST_TEST(*distinct.begin() == 0);
  BOOST_TEST(*distinct.rbegin() == 19999);
  // The header was written once: the writer appended, as its saved state said.
  BOOST_TEST(read_file(dir + "/out.csv").find("\nid,") == std::string::npos);
  cluster.stop();
}

BOOST_AUTO_TEST_CASE(resume_refuses_a_graph_file_a_set_and_a_directory_without_a_run_record) {
  auto dir = scratch_dir("resume-refused");
  fs::create_directories(dir + "/empty");
  auto no_graph = run_conveyor({"run"});
  BOOST_TEST(no_graph.status == 2);
  BOOST_TEST(no_graph.err.find("a graph file is required (or --resume STATE_DIR)") !=
               std::string::npos,
             no_graph.err);
  auto both = run_conveyor({"run", "examples/houses.flow", "--resume", dir + "/empty"});
  BOOST_TEST(both.status == 2);
  BOOST_TEST(both.err.find("give no graph file or --set with it") != std::string::npos, both.err);
  auto empty = run_conveyor({"run", "--resume", dir + "/empty"});
  BOOST_TEST(empty.status == 2);
  BOOST_TEST(empty.err.find("holds no run record") != std::string::npos, empty.err);
  auto missing = run_conveyor({"run", "--resume", dir + "/nothing"});
  BOOST_TEST(missing.status == 2);
  BOOST_TEST(missing.err.find("no such directory") != std::string::npos, missing.err);
}

BOOST_AUTO_TEST_CASE(an_embedded_run_writes_its_state_directory_and_resume_of_a_finished_run_completes) {
  auto dir = scratch_dir("embedded-state");
  auto csv = write_numbered_csv(dir, 3000);
  auto graph = write_file(dir + "/g.flow",
                          "graph embedded\n"
                          "node read = csv_reader { path = \"" + csv + "\", batch = 100 }\n"
                          "node write = csv_writer { path = \"" + dir + "/out.csv\" }\n"
                          "read -> write\n");
  auto first = run_conveyor({"run", graph, "--state-dir", dir + "/state"});
  BOOST_TEST_REQUIRE(first.status == 0, first.err);
  BOOST_TEST(fs::exists(dir + "/state/run.rec"));
  BOOST_TEST(read_file(dir + "/state/ledger.rec").find("upto read write 30 ") !=
               std::string::npos,
             read_file(dir + "/state/ledger.rec"));
  BOOST_TEST(fs::exists(dir + "/state/state/write.rec"));
  // Everything was delivered: the resumed run reads nothing again and writes nothing twice.
  auto again = run_conveyor({"run", "--resume", dir + "/state", "--report", dir + "/r.json"});
  BOOST_TEST_REQUIRE(again.status == 0, again.err);
  BOOST_TEST(step_of(load_report(dir + "/r.json"), "read")["rows_out"] == 0);
  BOOST_TEST(ids_in(dir + "/out.csv").size() == 3000u);
}

BOOST_AUTO_TEST_CASE(sharded_trainer_replicas_on_two_nodes_hold_disjoint_shards_that_cover_the_data) {
  auto dir = scratch_dir("cluster-shards");
  auto csv = write_points(dir, 2000);
  auto graph = write_file(
    dir + "/shards.flow",
    "graph shards\n"
    "node data = csv_reader { path = \"" + csv + "\", label = \"label\", on = \"a\" }\n"
    "node fit = trainer { model = \"logistic\", lr = 0.5, batch = 64, epochs = 3, "
    "devices = \"cpu:2\", shard = true, name = \"points\", on = \"work\" }\n"
    "node models = publisher { registry = \"" + dir + "/registry\", on = \"a\" }\n"
    "data -> fit\nfit.model -> models\n");
  three_nodes cluster{dir};
  auto r = run_conveyor({"run", graph, "--cluster", cluster.cluster_file, "--report",
                         dir + "/report.json"},
                        120s);
  BOOST_TEST_REQUIRE(r.status == 0, r.err << cluster.logs());
  // Replica r holds the rows whose number is r mod 2: 1,000 each, numbers summing to
  // 0 + 2 + ... + 1998 and 1 + 3 + ... + 1999.
  const std::regex held("\\[(fit(#1)?)\\] replica ([01]) of 2 holds its shard: ([0-9]+) of "
                        "([0-9]+) rows \\(row number sum ([0-9]+)\\)");
  std::set<std::string> hosts;
  std::map<int, std::pair<long, long>> shards;
  for (const auto& n : cluster.nodes) {
    const auto log = n.process->err();
    for (std::sregex_iterator m(log.begin(), log.end(), held), end; m != end; ++m) {
      hosts.insert(n.name);
      BOOST_TEST((*m)[5].str() == "2000");
      shards[std::stoi((*m)[3].str())] = {std::stol((*m)[4].str()), std::stol((*m)[6].str())};
    }
  }
  BOOST_TEST(hosts.size() == 2u, cluster.logs()); // one replica on each of b and c
  BOOST_TEST_REQUIRE(shards.size() == 2u, cluster.logs());
  BOOST_TEST(shards[0].first == 1000);
  BOOST_TEST(shards[1].first == 1000);
  BOOST_TEST(shards[0].second == 999000);
  BOOST_TEST(shards[1].second == 1000000);
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  BOOST_TEST(fs::exists(dir + "/registry/points/1.model"));
  cluster.stop();
}

BOOST_AUTO_TEST_SUITE_END()
