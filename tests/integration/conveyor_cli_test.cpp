// Starts the real `conveyor` binary as a separate process (the way users and
// operators do), with real files, signals and exit codes.
#include "process.hpp"
#include "run_outputs.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

using namespace conveyor::testing;
using namespace std::chrono_literals;

namespace {

/// A CSV with an `id` column 0..rows-1 and two numeric columns.
std::string write_numbered_csv(const std::string& dir, int rows) {
  auto path = dir + "/numbers.csv";
  std::ofstream out(path);
  out << "id,a,b\n";
  for (int i = 0; i < rows; ++i)
    out << i << ',' << (i % 97) * 0.5 << ',' << (i % 13) << '\n';
  return path;
}

/// Lines of a CSV file after its header (0 if it does not exist yet).
std::size_t rows_in(const std::string& csv) {
  std::ifstream in(csv);
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);)
    ++lines;
  return lines > 0 ? lines - 1 : 0;
}

/// A graph that copies a CSV through a chaos step to another CSV.
std::string chaos_graph(const std::string& dir, const std::string& csv, const std::string& chaos,
                        int batch) {
  return write_file(dir + "/g.flow", "graph chaos_run\n"
                                     "node read = csv_reader { path = \"" + csv +
                                       "\", batch = " + std::to_string(batch) + " }\n"
                                       "node flaky = chaos { " + chaos + " }\n"
                                       "node write = csv_writer { path = \"" + dir +
                                       "/out.csv\" }\n"
                                       "read -> flaky -> write\n");
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

BOOST_AUTO_TEST_CASE(check_accepts_the_factory_and_refuses_retraining_without_a_window_at_the_parameter) {
  auto ok = run_conveyor({"check", "examples/factory.flow"}, std::chrono::seconds(20));
  BOOST_TEST(ok.status == 0, ok.err);
  auto dir = scratch_dir("retrain-check");
  auto file = write_file(dir + "/g.flow",
                         "graph retrain\n"
                         "node r = csv_reader { path = \"x.csv\", label = \"y\" }\n"
                         "node t = trainer { model = \"logistic\", retrain_every_rows = 500 }\n"
                         "r -> t\n");
  auto r = run_conveyor({"check", file}, std::chrono::seconds(20));
  BOOST_TEST(r.status == 2, r.err);
  BOOST_TEST(r.err.find("g.flow:3:") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("set window_rows or window as well") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(dot_prints_a_graphviz_digraph_with_kinds_and_ports) {
  auto r = run_conveyor({"dot", "examples/houses.flow"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out.rfind("digraph", 0) == 0u);
  BOOST_TEST(r.out.find("csv_reader") != std::string::npos);
  BOOST_TEST(r.out.find("eval") != std::string::npos);
  // The instance count comes from the kind's rule (a trainer's devices), not only from the
  // replicas attribute: examples/fashion.flow's trainer runs on devices = "cpu:2".
  auto fashion = run_conveyor({"dot", "examples/fashion.flow"});
  BOOST_TEST(fashion.status == 0, fashion.err);
  BOOST_TEST(fashion.out.find("\"fit\" [label=\"fit\\ntrainer\\nx2\"];") != std::string::npos,
             fashion.out);
}

BOOST_AUTO_TEST_CASE(kinds_lists_every_kind_and_names_the_files_a_parameter_reads_or_writes) {
  auto all = run_conveyor({"kinds"});
  BOOST_TEST(all.status == 0, all.err);
  for (const char* kind : {"csv_reader", "csv_writer", "cleaner", "trainer", "inference"})
    BOOST_TEST(all.out.find(kind) != std::string::npos, kind);
  auto writer = run_conveyor({"kinds", "csv_writer"});
  BOOST_TEST(writer.status == 0, writer.err);
  BOOST_TEST(writer.out.find("[writes this file]") != std::string::npos, writer.out);
  auto reader = run_conveyor({"kinds", "csv_reader"});
  BOOST_TEST(reader.out.find("[reads this file]") != std::string::npos, reader.out);
  auto unknown = run_conveyor({"kinds", "csv_wrtier"});
  BOOST_TEST(unknown.status == 2);
  BOOST_TEST(unknown.err.find("no actor kind named 'csv_wrtier'") != std::string::npos);
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

BOOST_AUTO_TEST_CASE(after_two_restarts_the_report_counts_each_row_once_and_the_replays_apart) {
  auto dir = scratch_dir("counts");
  auto csv = write_numbered_csv(dir, 200000);
  auto graph = chaos_graph(dir, csv, "fail_at = 50, times = 2, backoff = 20ms", 1000);
  auto r = run_conveyor({"run", graph, "--report", dir + "/report.json"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(rows_in(dir + "/out.csv") == 200000u);
  BOOST_TEST(step_of(report, "flaky")["restarts"] == 2);
  BOOST_TEST(step_of(report, "read")["rows_out"] == 200000);
  BOOST_TEST(step_of(report, "flaky")["rows_in"] == 200000);
  BOOST_TEST(step_of(report, "flaky")["rows_out"] == 200000);
  BOOST_TEST(step_of(report, "write")["rows_in"] == 200000);
  BOOST_TEST(step_of(report, "read")["rows_replayed"].get<long>() > 0);
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
  // Interrupt once rows are flowing: some have reached the output file.
  BOOST_TEST_REQUIRE(wait_until([&] { return rows_in(dir + "/out.csv") > 0; }, 30s), p.err());
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

BOOST_AUTO_TEST_CASE(a_drain_that_outlasts_its_grace_exits_1_without_the_step_that_is_stuck) {
  // A chaos step sleeping a minute in one call stands for a call that never returns.
  auto dir = scratch_dir("stuck");
  auto csv = write_numbered_csv(dir, 1000);
  auto graph = chaos_graph(dir, csv, "times = 0, delay = 60s", 100);
  child_process p{conveyor_binary(),
                  {"run", graph, "--drain-timeout", "1", "--report", dir + "/report.json"},
                  dir, dir};
  BOOST_TEST_REQUIRE(
    wait_until([&] { return p.err().find("step instance(s) running") != std::string::npos; }, 30s),
    p.err());
  p.signal(SIGTERM);
  auto status = p.wait(30s); // the grace period and the exit, not the minute
  BOOST_TEST(status == 1, p.err());
  BOOST_TEST(p.err().find("exiting without waiting for: ") != std::string::npos, p.err());
  auto report = load_report(dir + "/report.json");
  BOOST_TEST(report["status"] == "interrupted");
  auto abandoned = report["abandoned"].get<std::vector<std::string>>();
  BOOST_TEST((std::find(abandoned.begin(), abandoned.end(), "flaky") != abandoned.end()));
  BOOST_TEST(report["error"].get<std::string>().find("grace period ran out") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_takes_log_level_after_the_subcommand_as_the_guide_says) {
  auto dir = scratch_dir("log_level");
  auto r = run_conveyor({"run", "examples/houses.flow", "--set", "out=" + dir, "--log-level", "warn"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.err.find(" info ") == std::string::npos, r.err); // info lines are off
  BOOST_TEST(r.err.find("completed") != std::string::npos);    // the report is not a log line
}

BOOST_AUTO_TEST_CASE(a_param_set_twice_is_refused_naming_both_values) {
  auto r = run_conveyor({"check", "examples/houses.flow", "--set", "out=a", "--set", "out=b"});
  BOOST_TEST(r.status == 2);
  BOOST_TEST(r.err.find("--set out is given twice ('a' and 'b')") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(relative_paths_in_a_graph_resolve_against_the_working_directory) {
  // The graph lives in one folder, the run starts in another: its relative paths are
  // the working directory's, not the graph file's.
  auto graphs = scratch_dir("graphs");
  auto work = scratch_dir("work");
  write_numbered_csv(work, 10);
  auto graph = write_file(graphs + "/copy.flow", "graph copy\n"
                                                 "node read = csv_reader { path = \"numbers.csv\" }\n"
                                                 "node write = csv_writer { path = \"copy.csv\" }\n"
                                                 "read -> write\n");
  child_process p{conveyor_binary(), {"run", graph}, work, work};
  BOOST_TEST_REQUIRE(p.wait(60s) == 0, p.err());
  BOOST_TEST(rows_in(work + "/copy.csv") == 10u);
  BOOST_TEST(!std::filesystem::exists(graphs + "/copy.csv"));
  BOOST_TEST(p.err().find("relative paths resolve against the working directory " + work) !=
               std::string::npos,
             p.err());
}

BOOST_AUTO_TEST_CASE(a_report_that_cannot_be_written_exits_1_with_the_reason) {
  auto dir = scratch_dir("full");
  auto r = run_conveyor({"run", "examples/houses.flow", "--set", "out=" + dir, "--report",
                         "/dev/full"});
  BOOST_TEST(r.status == 1, r.err);
  BOOST_TEST(r.err.find("cannot write the report to '/dev/full': No space left on device") !=
               std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_CASE(a_report_naming_the_graph_file_is_refused_before_the_run) {
  auto dir = scratch_dir("self_report");
  auto graph = write_file(dir + "/g.flow", read_file(source_dir() + "/examples/houses.flow"));
  auto before = read_file(graph);
  // The same file, named another way.
  auto r = run_conveyor({"run", graph, "--set", "out=" + dir, "--report", dir + "/./g.flow"});
  BOOST_TEST(r.status == 2, r.err);
  BOOST_TEST(r.err.find("names the graph file") != std::string::npos, r.err);
  BOOST_TEST(read_file(graph) == before);
  BOOST_TEST(!std::filesystem::exists(dir + "/houses.train.csv")); // it did not run
}

/// Runs `graph` with `sets` until its log shows every line of `expected`, then drains it
/// (a serving run does not end by itself); returns its log.
std::string serve_until(const std::string& dir, const std::string& graph,
                        const std::vector<std::string>& sets,
                        const std::vector<std::string>& expected) {
  std::vector<std::string> args{"run", graph};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  child_process p{conveyor_binary(), args, source_dir(), dir};
  bool seen = wait_until(
    [&] {
      auto err = p.err();
      for (const auto& e : expected)
        if (err.find(e) == std::string::npos)
          return false;
      return true;
    },
    60s);
  p.signal(SIGTERM);
  auto status = p.wait(30s);
  BOOST_TEST(seen, p.err());
  BOOST_TEST(status == 0, p.err());
  return p.err();
}

BOOST_AUTO_TEST_CASE(a_model_the_gate_holds_back_is_logged_with_its_metric_and_what_is_served) {
  auto dir = scratch_dir("gate");
  {
    std::ofstream csv(dir + "/line.csv");
    csv << "x,y\n";
    for (int i = 0; i < 200; ++i)
      csv << i * 0.01 << ',' << 3 * i * 0.01 + 1 << '\n';
  }
  auto graph = write_file(dir + "/gate.flow", "graph gate\n"
    "param min = 2.0\n"
    "param registry = \"" + dir + "/models\"\n"
    "node rows = csv_reader { path = \"" + dir + "/line.csv\", label = \"y\" }\n"
    "node fit = trainer { model = \"linear\", epochs = 2, name = \"line\" }\n"
    "node held_out = csv_reader { path = \"" + dir + "/line.csv\", label = \"y\" }\n"
    "node check = evaluator { metric = \"r2\", min = $min }\n"
    "node models = publisher { registry = $registry, name = \"line\" }\n"
    "node api = inference { endpoint = \"ipc://" + dir + "/api\", registry = $registry }\n"
    "rows -> fit\n"
    "fit.model -> check.model\n"
    "held_out -> check.data\n"
    "check -> models -> api\n");
  // An empty registry and a gate no model passes (r2 >= 2): nothing to serve.
  serve_until(dir, graph, {}, {"held back by the gate: r2 ", " is below min 2",
                               "serving nothing yet"});
  // A gate it passes: version 1 is published and served.
  serve_until(dir, graph, {"min=-1e9"}, {"serving line version 1"});
  // Held back again: the registry's version 1 is what is served.
  auto log = serve_until(dir, graph, {}, {"held back by the gate",
                                          "its inputs have ended; serving line version 1"});
  BOOST_TEST(log.find("serving nothing yet") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
