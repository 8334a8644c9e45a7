// Runs small graphs of the test kinds through the real coordinator, node and step
// actors (one process, as `conveyor run` does) and checks delivery, backpressure and
// supervision.
#include "dsl/front_end.hpp"
#include "step/kind_registry.hpp"
#include "runtime/local_run.hpp"
#include "test_kinds.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <fstream>
#include <set>
#include <string>

#include <cerrno>
#include <sys/wait.h>
#include <unistd.h>

using namespace conveyor;
using conveyor::testing::observed;

namespace {

const kind_registry& test_registry() {
  static kind_registry r = [] {
    kind_registry k;
    testing::register_test_kinds(k);
    return k;
  }();
  return r;
}

run_report run_text(const std::string& text, std::function<bool()> interrupted = {},
                    std::chrono::milliseconds drain_grace = std::chrono::seconds(10),
                    std::shared_ptr<live_counters> live = nullptr) {
  observed().reset();
  dsl::compile_options copts;
  copts.file_name = "test.flow";
  auto compiled = dsl::compile(text, test_registry(), copts);
  BOOST_TEST_REQUIRE(compiled.ok(), dsl::format_diagnostics(compiled.diagnostics, text));
  local_run_options options;
  options.file_name = "test.flow";
  options.graph_source = text;
  options.interrupted = std::move(interrupted);
  options.threads = 2;
  options.drain_grace = drain_grace;
  options.live = std::move(live);
  return run_locally(*compiled.spec, test_registry(), options);
}

/// True `after` the first call: an interruption that comes while the run is going.
std::function<bool()> interrupt_after(std::chrono::milliseconds after) {
  auto start = std::chrono::steady_clock::now();
  return [start, after] { return std::chrono::steady_clock::now() - start > after; };
}

const step_summary& summary(const run_report& r, const std::string& step) {
  for (const auto& s : r.steps)
    if (s.step == step)
      return s;
  BOOST_FAIL("no step " + step + " in the report");
  return r.steps.front();
}

/// Starts measuring this process's peak resident memory afresh (Linux resets VmHWM to
/// the current resident size when "5" is written to clear_refs).
void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  BOOST_TEST_REQUIRE(bool(clear), "cannot reset the peak RSS through /proc/self/clear_refs");
}

/// A field of /proc/self/status in KiB: "VmHWM:" (the peak since reset_peak_rss) or
/// "VmRSS:" (now).
long status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == field) {
      long kib = 0;
      status >> kib;
      return kib;
    }
    std::getline(status, key);
  }
  return 0;
}

/// Every value in [0, n) appears at least once; returns how many values there were.
std::size_t check_every_row_arrived(const std::vector<std::uint64_t>& got, std::uint64_t n) {
  std::set<std::uint64_t> distinct(got.begin(), got.end());
  BOOST_TEST(distinct.size() == n);
  if (!distinct.empty()) {
    BOOST_TEST(*distinct.begin() == 0u);
    BOOST_TEST(*distinct.rbegin() == n - 1);
  }
  return got.size();
}

} // namespace

BOOST_AUTO_TEST_SUITE(local_run_suite)

BOOST_AUTO_TEST_CASE(a_graph_runs_to_its_end_and_reports_rows_per_step) {
  auto r = run_text(R"(graph g
node src = numbers { count = 1000, batch = 64 }
node p = pass
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "src").rows_out == 1000u);
  BOOST_TEST(summary(r, "p").rows_in == 1000u);
  BOOST_TEST(summary(r, "sink").rows_in == 1000u);
  auto got = observed().collected["sink"];
  BOOST_TEST(check_every_row_arrived(got, 1000) == 1000u);
}

BOOST_AUTO_TEST_CASE(a_fast_source_into_a_slow_sink_keeps_queues_and_memory_bounded) {
  // 2000 batches of 256 KiB (500 MiB in all) into a sink that takes 0.5 ms each:
  // without credit the source would race ahead and buffer most of it. The peak is
  // measured from this test's start, not over the process's life (an earlier test may
  // have peaked higher).
  reset_peak_rss();
  auto before = status_kib("VmRSS:");
  auto r = run_text(R"(graph g
defaults { buffer = 4 }
node src = numbers { count = 2000, batch = 1, payload = 65535 }
node p = pass
node sink = collect { delay_us = 500 }
src -> p -> sink
)");
  auto growth_mib = (status_kib("VmHWM:") - before) / 1024;
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(observed().collected["sink"].size() == 2000u);
  // Two edges of credit 4, one waiting batch per outbox, one batch in each step's hands.
  BOOST_TEST(observed().max_lag <= 2u * (4u + 1u) + 2u);
  BOOST_TEST_MESSAGE("max rows in flight: " << observed().max_lag << ", peak RSS growth: "
                                            << growth_mib << " MiB");
  BOOST_TEST(growth_mib < 64);
}

BOOST_AUTO_TEST_CASE(a_failure_mid_stream_is_restarted_and_every_row_reaches_the_sink_once) {
  auto r = run_text(R"(graph g
node src = numbers { count = 10000, batch = 100 }
node p = pass { fail_at = 30, fail_times = 1, backoff = 10ms }
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "p").restarts == 1);
  auto got = observed().collected["sink"];
  BOOST_TEST(check_every_row_arrived(got, 10000) == 10000u);
  BOOST_TEST(observed().opens["p"] == 2);
  BOOST_TEST(observed().opens["sink"] == 1); // one_for_one: only the failed step
}

BOOST_AUTO_TEST_CASE(after_restarts_every_step_reports_each_row_once_and_the_replays_apart) {
  auto r = run_text(R"(graph g
node src = numbers { count = 10000, batch = 100 }
node p = pass { fail_at = 30, fail_times = 2, backoff = 10ms }
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "p").restarts == 2);
  check_every_row_arrived(observed().collected["sink"], 10000);
  BOOST_TEST(summary(r, "src").rows_out == 10000u);
  BOOST_TEST(summary(r, "p").rows_in == 10000u);
  BOOST_TEST(summary(r, "p").rows_out == 10000u);
  BOOST_TEST(summary(r, "sink").rows_in == 10000u);
  // The batch p failed on was sent, not acknowledged, and sent again: a replay. (The
  // sink may see replays too: acknowledgements still on their way when p failed.)
  BOOST_TEST(summary(r, "src").rows_replayed >= 100u);
  BOOST_TEST(r.to_json().find("\"rows_replayed\": ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(live_counters_follow_the_run_and_end_with_the_reports_figures) {
  auto live = std::make_shared<live_counters>();
  auto r = run_text(R"(graph g
node src = numbers { count = 10000, batch = 100 }
node p = pass { fail_at = 30, fail_times = 1, backoff = 10ms }
node sink = collect
src -> p -> sink
)", {}, std::chrono::seconds(10), live);
  BOOST_TEST(to_string(r.status) == "completed");
  const auto steps = live->steps();
  BOOST_REQUIRE_EQUAL(steps.size(), 3u);
  for (const auto& reported : r.steps) {
    const auto& seen = steps.at(reported.step);
    BOOST_TEST(seen.rows_in == reported.rows_in, reported.step);
    BOOST_TEST(seen.rows_out == reported.rows_out, reported.step);
    BOOST_TEST(seen.restarts == reported.restarts, reported.step);
  }
  BOOST_TEST(steps.at("p").restarts == 1);
  BOOST_TEST(steps.at("src").batches_out.at(0) == 100u); // each batch once, replays apart
  BOOST_TEST(steps.at("p").batches_out.at(0) == 100u);
}

BOOST_AUTO_TEST_CASE(a_restarted_source_resumes_after_the_last_acknowledged_batch) {
  // 1 ms per batch: the sink's acknowledgements (grouped within 10 ms) reach the ledger
  // before the failure at batch 60, so the restart resumes after some of them.
  auto r = run_text(R"(graph g
node src = numbers { count = 5000, batch = 50, fail_at = 60, fail_times = 1, backoff = 10ms, delay_us = 1000 }
node sink = collect
src -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "src").restarts == 1);
  BOOST_TEST_REQUIRE(observed().resumed_after_rows.size() >= 1u);
  BOOST_TEST(observed().resumed_after_rows.front() > 0u);
  BOOST_TEST(observed().resumed_after_rows.front() <= 59u * 50u);
  BOOST_TEST(check_every_row_arrived(observed().collected["sink"], 5000) == 5000u);
}

BOOST_AUTO_TEST_CASE(a_failing_sink_is_restarted_and_skips_what_it_already_acknowledged) {
  auto r = run_text(R"(graph g
node src = numbers { count = 3000, batch = 30 }
node sink = collect { fail_at = 40, fail_times = 2, backoff = 10ms }
src -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "sink").restarts == 2);
  BOOST_TEST(check_every_row_arrived(observed().collected["sink"], 3000) == 3000u);
  BOOST_TEST(summary(r, "sink").rows_in == 3000u);
  BOOST_TEST(summary(r, "src").rows_out == 3000u);
}

BOOST_AUTO_TEST_CASE(rest_for_one_also_restarts_the_steps_downstream) {
  auto r = run_text(R"(graph g
node src = numbers { count = 2000, batch = 20 }
node p = pass { fail_at = 10, fail_times = 1, backoff = 10ms, strategy = "rest_for_one" }
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(observed().opens["p"] == 2);
  BOOST_TEST(observed().opens["sink"] == 2);
  BOOST_TEST(observed().opens["src"] >= 1);
  check_every_row_arrived(observed().collected["sink"], 2000);
}

BOOST_AUTO_TEST_CASE(one_for_all_restarts_every_step) {
  auto r = run_text(R"(graph g
node src = numbers { count = 2000, batch = 20 }
node p = pass { fail_at = 10, fail_times = 1, backoff = 10ms, strategy = "one_for_all" }
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(observed().opens["p"] == 2);
  BOOST_TEST(observed().opens["sink"] == 2);
  BOOST_TEST(observed().opens["src"] >= 2);
  check_every_row_arrived(observed().collected["sink"], 2000);
}

BOOST_AUTO_TEST_CASE(past_max_restarts_the_run_fails_naming_the_step_and_its_last_error) {
  auto r = run_text(R"(graph g
node src = numbers { count = 100000, batch = 10 }
node p = pass { fail_at = 2, fail_times = 100, max_restarts = 2, backoff = 5ms }
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "failed");
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  BOOST_TEST(r.failures[0].step == "p");
  BOOST_TEST(r.failures[0].restarts == 2);
  BOOST_TEST(r.failures[0].last_error == "injected failure 3");
  BOOST_TEST(r.to_json().find("\"last_error\": \"injected failure 3\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(restart_never_fails_the_run_at_the_first_failure) {
  auto r = run_text(R"(graph g
node src = numbers { count = 1000, batch = 10 }
node sink = collect { fail_at = 5, fail_times = 1, restart = "never" }
src -> sink
)");
  BOOST_TEST(to_string(r.status) == "failed");
  BOOST_TEST_REQUIRE(r.failures.size() == 1u);
  BOOST_TEST(r.failures[0].step == "sink");
  BOOST_TEST(r.failures[0].restarts == 0);
}

BOOST_AUTO_TEST_CASE(a_restart_waits_for_the_backoff) {
  auto r = run_text(R"(graph g
node src = numbers { count = 200, batch = 10 }
node sink = collect { fail_at = 3, fail_times = 1, backoff = 300ms }
src -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  auto& times = observed().open_times["sink"];
  BOOST_TEST_REQUIRE(times.size() == 2u);
  auto waited_ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(times[1] - times[0]).count();
  BOOST_TEST(waited_ms >= 300);
}

BOOST_AUTO_TEST_CASE(an_interrupt_drains_the_graph_and_everything_produced_reaches_the_sink) {
  auto start = std::chrono::steady_clock::now();
  auto r = run_text(
    R"(graph g
node src = numbers { count = 0, batch = 10, delay_us = 1000 }
node p = pass
node sink = collect
src -> p -> sink
)",
    [start] { return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(300); });
  BOOST_TEST(to_string(r.status) == "interrupted");
  auto produced = summary(r, "src").rows_out;
  BOOST_TEST(produced > 0u);
  BOOST_TEST(summary(r, "sink").rows_in == produced);
  BOOST_TEST(observed().collected["sink"].size() == produced);
}

BOOST_AUTO_TEST_CASE(an_interrupt_is_noticed_while_progress_reports_keep_arriving,
                     *boost::unit_test::timeout(60)) {
  // Progress reports reach the runner far more often than every 100 ms: it must still
  // look at the interruption.
  auto r = run_text(R"(graph g
node src = numbers { count = 0, batch = 10, delay_us = 100, progress = 1 }
node sink = collect
src -> sink
)",
                    interrupt_after(std::chrono::milliseconds(300)));
  BOOST_TEST(to_string(r.status) == "interrupted");
  BOOST_TEST(summary(r, "sink").rows_in == summary(r, "src").rows_out);
}

BOOST_AUTO_TEST_CASE(a_drain_sets_stop_requested_for_a_step_blocked_inside_a_call,
                     *boost::unit_test::timeout(60)) {
  auto r = run_text(R"(graph g
node src = numbers { count = 0, batch = 10, delay_us = 1000 }
node w = wait_for_drain
src -> w
)",
                    interrupt_after(std::chrono::milliseconds(200)));
  BOOST_TEST(to_string(r.status) == "interrupted");
  BOOST_TEST(observed().saw_stop_requested == 1);
  BOOST_TEST(r.abandoned.empty());
}

// An abandoned step's actor system is left to the process's end (run_locally cannot join
// a thread stuck in a call), so this case runs in a child process of its own: a leaked
// system must not outlive the test binary's static objects.
BOOST_AUTO_TEST_CASE(a_step_whose_call_never_returns_is_abandoned_when_the_drain_grace_runs_out,
                     *boost::unit_test::timeout(120)) {
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto r = run_text(R"(graph g
node src = numbers { count = 0, batch = 10, delay_us = 1000 }
node stuck = hang
src -> stuck
)",
                      [] {
                        std::lock_guard<std::mutex> guard{observed().mutex};
                        return observed().hung;
                      },
                      std::chrono::milliseconds(500));
    std::string problems;
    if (to_string(r.status) != "interrupted")
      problems += "status " + to_string(r.status) + "; ";
    // The source, whose last batch waits for credit from `stuck`, had not ended either.
    if (r.abandoned != std::vector<std::string>{"src", "stuck"})
      problems += "abandoned steps are not src, stuck; ";
    if (r.error.find("grace period ran out: src, stuck") == std::string::npos)
      problems += "error: " + r.error + "; ";
    if (r.to_json().find("\"abandoned\"") == std::string::npos)
      problems += "no \"abandoned\" in the JSON report; ";
    if (::write(pipe_fds[1], problems.data(), problems.size()) < 0)
      std::_Exit(3);
    std::_Exit(problems.empty() ? 0 : 1); // the stuck thread stays stuck; nothing to join
  }
  ::close(pipe_fds[1]);
  std::string problems;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR)
      continue;
    BOOST_TEST_REQUIRE(n > 0);
    problems.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST(problems.empty(), problems);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

BOOST_AUTO_TEST_CASE(a_service_keeps_the_run_going_after_its_inputs_end_until_it_is_drained) {
  std::atomic<bool> asked{false};
  auto start = std::chrono::steady_clock::now();
  auto r = run_text(
    R"(graph g
node src = numbers { count = 50, batch = 10 }
node api = service
src -> api
)",
    [&] {
      // Interrupt only once every row has arrived and the service has ticked: a run
      // that ended by itself at the end of its input would report `completed`.
      std::lock_guard<std::mutex> guard{observed().mutex};
      if (observed().collected["api"].size() == 50 && observed().ticks["api"] >= 1)
        asked = true;
      return asked.load() || std::chrono::steady_clock::now() - start > std::chrono::seconds(20);
    });
  BOOST_TEST(asked.load());
  BOOST_TEST(to_string(r.status) == "interrupted");
  BOOST_TEST(observed().collected["api"].size() == 50u);
  BOOST_TEST(summary(r, "api").rows_in == 50u);
}

BOOST_AUTO_TEST_CASE(replicas_share_the_work_and_every_row_arrives_once) {
  auto r = run_text(R"(graph g
node src = numbers { count = 4000, batch = 40 }
node p = pass { replicas = 3 }
node sink = collect
src -> p -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "p").rows_in == 4000u);
  BOOST_TEST(check_every_row_arrived(observed().collected["sink"], 4000) == 4000u);
  BOOST_TEST(observed().opens["p#2"] == 1);
}

BOOST_AUTO_TEST_CASE(a_placement_no_node_satisfies_fails_the_run_with_a_reason) {
  auto r = run_text(R"(graph g
node src = numbers { count = 10, gpus = 1 }
node sink = collect
src -> sink
)");
  BOOST_TEST(to_string(r.status) == "failed");
  BOOST_TEST(r.error.find("no node can run step 'src'") != std::string::npos, r.error);
}

BOOST_AUTO_TEST_CASE(the_embedded_node_hosts_steps_whatever_their_on_label_says) {
  auto r = run_text(R"(graph g
node src = numbers { count = 10, on = "gpu-box" }
node sink = collect { on = "b" }
src -> sink
)");
  BOOST_TEST(to_string(r.status) == "completed", r.error);
}

BOOST_AUTO_TEST_CASE(a_model_goes_out_after_the_work_that_follows_finish_with_its_metrics) {
  std::vector<progress_info> progress;
  observed().reset();
  auto r = run_text(R"(graph g
node src = numbers { count = 1000, batch = 100 }
node train = model_maker { work_slices = 4 }
node out = model_sink
src -> train
train.model -> out
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST_REQUIRE(observed().models["out"].size() == 1u);
  BOOST_TEST(observed().models["out"][0] == "rows=1000");
  BOOST_TEST(summary(r, "train").metrics.at("rows") == 1000.0);
  BOOST_TEST(r.to_json().find("\"rows\": 1000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_step_acknowledging_at_its_end_gets_all_its_data_again_after_a_restart) {
  auto r = run_text(R"(graph g
node src = numbers { count = 1000, batch = 100 }
node train = model_maker { work_slices = 4, fail_at = 2, fail_times = 1, backoff = 10ms }
node out = model_sink
src -> train
train.model -> out
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "train").restarts == 1);
  BOOST_TEST_REQUIRE(observed().models["out"].size() == 1u);
  BOOST_TEST(observed().models["out"][0] == "rows=1000");
}

BOOST_AUTO_TEST_CASE(a_replica_group_gets_every_batch_and_its_replicas_exchange_messages) {
  auto r = run_text(R"(graph g
node src = numbers { count = 999, batch = 10 }
node sum = group_sum { workers = 3 }
src -> sum
)");
  BOOST_TEST(to_string(r.status) == "completed");
  BOOST_TEST(summary(r, "sum").replicas == 3);
  BOOST_TEST(summary(r, "sum").rows_in == 3u * 999u);
  auto expected = 999.0 * 998.0 / 2.0;
  BOOST_TEST_REQUIRE(observed().group_totals.size() == 3u);
  for (const auto& [name, total] : observed().group_totals)
    BOOST_TEST(total == expected, name);
}

BOOST_AUTO_TEST_SUITE_END()
