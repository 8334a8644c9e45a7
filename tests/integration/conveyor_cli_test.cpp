// Starts the real `conveyor` binary as a separate process (the way users and
// operators do), with real files, signals and exit codes.
#include "process.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

using namespace conveyor::testing;
using namespace std::chrono_literals;

namespace {

nlohmann::json load_report(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

const nlohmann::json& step_of(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["steps"])
    if (s["step"] == name)
      return s;
  throw std::runtime_error("no step " + name);
}

/// A CSV with an `id` column 0..rows-1 and two numeric columns.
std::string write_numbered_csv(const std::string& dir, int rows) {
  auto path = dir + "/numbers.csv";
  std::ofstream out(path);
  out << "id,a,b\n";
  for (int i = 0; i < rows; ++i)
    out << i << ',' << (i % 97) * 0.5 << ',' << (i % 13) << '\n';
  return path;
}

std::multiset<long> ids_in(const std::string& csv) {
  std::multiset<long> ids;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line))
    ids.insert(std::stol(line.substr(0, line.find(','))));
  return ids;
}

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

} // namespace

BOOST_AUTO_TEST_SUITE(conveyor_cli)

BOOST_AUTO_TEST_CASE(check_accepts_every_example_graph) {
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() + "/examples")) {
    if (entry.path().extension() != ".flow")
      continue;
    auto r = run_conveyor({"check", entry.path().string()});
    BOOST_TEST(r.status == 0, entry.path() << ": " << r.err);
    BOOST_TEST(r.out.find(": ok") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(check_prints_positioned_diagnostics_and_exits_2) {
  auto dir = scratch_dir("check");
  auto file = write_file(dir + "/bad.flow", "graph bad\n"
                                            "node r = csv_reader { path = \"x.csv\", batchh = 10 }\n"
                                            "node c = countr\n"
                                            "r -> c\n");
  auto r = run_conveyor({"check", file});
  BOOST_TEST(r.status == 2);
  BOOST_TEST(r.err.find("bad.flow:2:39: error: unknown parameter 'batchh'") != std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("did you mean 'batch'?") != std::string::npos);
  BOOST_TEST(r.err.find("bad.flow:3:10: error:") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("did you mean 'counter'?") != std::string::npos);
  BOOST_TEST(r.err.find('^') != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_graph_file_or_a_bad_override_exits_2_with_a_message) {
  auto missing = run_conveyor({"run", "/nonexistent/g.flow"});
  BOOST_TEST(missing.status == 2);
  BOOST_TEST(missing.err.find("cannot open graph file '/nonexistent/g.flow'") != std::string::npos);
  auto bad_set = run_conveyor({"check", "examples/houses.flow", "--set", "inptu=x.csv"});
  BOOST_TEST(bad_set.status == 2);
  BOOST_TEST(bad_set.err.find("inptu") != std::string::npos, bad_set.err);
}

BOOST_AUTO_TEST_CASE(a_value_a_kind_refuses_fails_check_and_run_with_a_diagnostic_at_the_parameter) {
  auto dir = scratch_dir("refused");
  auto file = write_file(dir + "/g.flow", "graph refused\n"
                                          "node r = csv_reader { path = \"x.csv\", label = \"y\" }\n"
                                          "node t = trainer { model = \"linear\", devices = \"cpu:0\" }\n"
                                          "r -> t\n");
  for (const auto* command : {"check", "run"}) {
    auto r = run_conveyor({command, file}, std::chrono::seconds(20));
    BOOST_TEST(r.status == 2, command << ": " << r.err);
    BOOST_TEST(r.err.find("g.flow:3:48: error: trainer: devices \"cpu:0\"") != std::string::npos,
               command << ": " << r.err);
  }
  // A value of the right type out of the kind's range, set with --set, is reported the
  // same way (not by the node once the run has started).
  auto bad_set = run_conveyor({"run", "examples/fashion.flow", "--set", "batch=0"},
                              std::chrono::seconds(20));
  BOOST_TEST(bad_set.status == 2, bad_set.err);
  BOOST_TEST(bad_set.err.find("fashion.flow:25:11: error: idx_reader: parameter 'batch' must be") !=
               std::string::npos,
             bad_set.err);
  BOOST_TEST(bad_set.err.find("the value comes from param 'batch'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(dot_prints_a_graphviz_digraph_with_kinds_and_ports) {
  auto r = run_conveyor({"dot", "examples/houses.flow"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out.rfind("digraph", 0) == 0u);
  BOOST_TEST(r.out.find("csv_reader") != std::string::npos);
  BOOST_TEST(r.out.find("eval") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_csv_example_runs_quarantines_malformed_rows_and_writes_a_report) {
  auto dir = scratch_dir("houses");
  auto r = run_conveyor({"run", "examples/houses.flow", "--set", "out=" + dir, "--report",
                         dir + "/report.json"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "completed");
  BOOST_TEST(step_of(report, "listings")["rows_out"] == 300);
  BOOST_TEST(step_of(report, "listings")["rows_rejected"] == 2);
  auto kept = step_of(report, "clean")["rows_out"].get<int>();
  BOOST_TEST(step_of(report, "clean")["rows_rejected"] == 300 - kept);
  BOOST_TEST(step_of(report, "train_csv")["rows_in"].get<int>() +
               step_of(report, "eval_csv")["rows_in"].get<int>() ==
             kept);
  auto quarantine = read_file(dir + "/houses.quarantine.csv");
  BOOST_TEST(quarantine.find("121,") != std::string::npos, quarantine);
  BOOST_TEST(quarantine.find("201,") != std::string::npos, quarantine);
  BOOST_TEST(r.err.find("completed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_injected_failure_in_a_real_process_loses_and_doubles_no_rows) {
  auto dir = scratch_dir("chaos");
  auto csv = write_numbered_csv(dir, 20000);
  auto graph = write_file(dir + "/g.flow", "graph chaos_run\n"
                                           "node read = csv_reader { path = \"" + csv +
                                             "\", batch = 500 }\n"
                                             "node flaky = chaos { fail_at = 7, times = 1, backoff = 20ms }\n"
                                             "node write = csv_writer { path = \"" + dir +
                                             "/out.csv\" }\n"
                                             "read -> flaky -> write\n");
  auto r = run_conveyor({"run", graph, "--report", dir + "/report.json"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(step_of(report, "flaky")["restarts"] == 1);
  auto ids = ids_in(dir + "/out.csv");
  BOOST_TEST(ids.size() == 20000u);
  BOOST_TEST(std::set<long>(ids.begin(), ids.end()).size() == 20000u);
}

BOOST_AUTO_TEST_CASE(a_step_past_its_restart_limit_fails_the_run_with_exit_1_and_names_it) {
  auto dir = scratch_dir("limit");
  auto csv = write_numbered_csv(dir, 5000);
  auto graph = write_file(dir + "/g.flow",
                          "graph limit\n"
                          "node read = csv_reader { path = \"" + csv + "\", batch = 100 }\n"
                          "node flaky = chaos { fail_at = 1, times = 10, max_restarts = 2, backoff = 10ms }\n"
                          "node count = counter\n"
                          "read -> flaky -> count\n");
  auto r = run_conveyor({"run", graph, "--report", dir + "/report.json"});
  BOOST_TEST(r.status == 1, r.err);
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "failed");
  BOOST_TEST_REQUIRE(report["failures"].size() == 1u);
  BOOST_TEST(report["failures"][0]["step"] == "flaky");
  BOOST_TEST(report["failures"][0]["restarts"] == 2);
  BOOST_TEST(report["failures"][0]["last_error"].get<std::string>().find("chaos") !=
             std::string::npos);
  BOOST_TEST(r.err.find("step 'flaky' failed after 2 restart(s)") != std::string::npos, r.err);
}

void interrupt_drains(int sig) {
  auto dir = scratch_dir("drain");
  auto csv = write_numbered_csv(dir, 200000);
  auto graph = write_file(dir + "/g.flow",
                          "graph drain\n"
                          "node read = csv_reader { path = \"" + csv + "\", batch = 100 }\n"
                          "node slow = chaos { times = 0, delay = 2ms }\n"
                          "node write = csv_writer { path = \"" + dir + "/out.csv\" }\n"
                          "read -> slow -> write\n");
  child_process p{conveyor_binary(), {"run", graph, "--report", dir + "/report.json"}, dir, dir};
  std::this_thread::sleep_for(700ms);
  p.signal(sig);
  auto status = p.wait(30s);
  BOOST_TEST_REQUIRE(status == 0, p.err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "interrupted");
  auto produced = step_of(report, "read")["rows_out"].get<long>();
  BOOST_TEST(produced > 0);
  BOOST_TEST(produced < 200000);
  BOOST_TEST(step_of(report, "write")["rows_in"].get<long>() == produced);
  BOOST_TEST(ids_in(dir + "/out.csv").size() == static_cast<std::size_t>(produced));
}

BOOST_AUTO_TEST_CASE(sigint_drains_flushes_and_exits_0_with_an_interrupted_report) {
  interrupt_drains(SIGINT);
}

BOOST_AUTO_TEST_CASE(sigterm_drains_the_same_way) {
  interrupt_drains(SIGTERM);
}

BOOST_AUTO_TEST_SUITE_END()
