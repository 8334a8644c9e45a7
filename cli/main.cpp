// conveyor: run, check and draw graph files; list the actor kinds.
#include "actors/builtin_kinds.hpp"
#include "cli/graph_file.hpp"
#include "cli/interrupt.hpp"
#include "cli/infer_command.hpp"
#include "cli/keys_command.hpp"
#include "cli/models_command.hpp"
#include "cli/node_command.hpp"
#include "cli/status_command.hpp"
#include "cli/progress_line.hpp"
#include "cli/run_metrics.hpp"
#include "step/kind_registry.hpp"
#include "cluster/cluster_file.hpp"
#include "runtime/cluster_run.hpp"
#include "runtime/local_run.hpp"
#include "runtime/logging.hpp"
#include "runtime/state_journal.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <iostream>
#include <optional>

namespace {

using namespace conveyor;

constexpr int exit_failed_run = 1;
constexpr int exit_bad_input = 2;

/// True if `a` and `b` name the same file (or would: paths are compared after
/// resolving `.`, `..` and links as far as they exist).
bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec))
    return fs::equivalent(a, b, ec);
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

/// Writes the JSON report; false (with the reason on stderr) if any byte did not reach
/// the file, including at the final flush (a full disk, /dev/full).
bool write_report(const std::string& path, const std::string& json) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    std::cerr << "error: cannot write the report to '" << path << "': " << std::strerror(errno)
              << '\n';
    return false;
  }
  bool ok = std::fwrite(json.data(), 1, json.size(), out) == json.size() &&
            std::fputc('\n', out) != EOF && std::fflush(out) == 0;
  int error = errno;
  if (std::fclose(out) != 0 && ok) {
    ok = false;
    error = errno;
  }
  if (!ok)
    std::cerr << "error: cannot write the report to '" << path << "': " << std::strerror(error)
              << '\n';
  return ok;
}

struct run_state_options {
  std::string state_dir;
  std::string resume;
};

int run_command(const kind_registry& kinds, const std::string& file,
                const std::vector<std::string>& sets, const std::string& report_path,
                int threads, double drain_grace_seconds, const std::string& metrics_listen,
                const std::string& cluster_file, const run_state_options& state) {
  if (state.resume.empty() && file.empty()) {
    std::cerr << "error: run: a graph file is required (or --resume STATE_DIR)\n";
    return exit_bad_input;
  }
  if (!state.resume.empty() && (!file.empty() || !sets.empty())) {
    std::cerr << "error: run --resume takes the graph and its --set values from the state "
                 "directory; give no graph file or --set with it\n";
    return exit_bad_input;
  }
  std::optional<journal_contents> resumed;
  if (!state.resume.empty()) {
    if (!std::filesystem::is_directory(state.resume)) {
      std::cerr << "error: --resume '" << state.resume << "': no such directory\n";
      return exit_bad_input;
    }
    resumed = state_journal::load(state.resume);
    for (const auto& problem : resumed->problems)
      std::cerr << "warning: --resume: " << problem << " (left out)\n";
    if (!resumed->run) {
      std::cerr << "error: --resume '" << state.resume << "' holds no run record (run.rec): "
                << "not a state directory of conveyor run --state-dir\n";
      return exit_bad_input;
    }
  }
  if (!report_path.empty() && !file.empty() && same_file(report_path, file)) {
    std::cerr << "error: --report '" << report_path << "' names the graph file; the report "
              << "would overwrite it\n";
    return exit_bad_input;
  }
  if (!(drain_grace_seconds > 0)) {
    std::cerr << "error: --drain-timeout must be a positive number of seconds\n";
    return exit_bad_input;
  }
  std::optional<cluster::cluster_config> cluster;
  if (!cluster_file.empty()) {
    auto loaded = cluster::load_cluster_file(cluster_file);
    if (!loaded) {
      std::cerr << loaded.error << '\n';
      return exit_bad_input;
    }
    cluster = std::move(loaded.value);
  }
  auto overrides = cli::parse_overrides(sets);
  if (!overrides)
    return exit_bad_input;
  auto graph = resumed ? cli::compile_graph(resumed->run->file_name, resumed->run->graph_source,
                                            resumed->run->overrides, kinds)
                       : cli::load_graph(file, *overrides, kinds);
  if (!graph)
    return exit_bad_input;
  std::optional<cli::run_metrics> metrics;
  if (!metrics_listen.empty()) {
    try {
      metrics.emplace(metrics_listen, graph->spec, kinds);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << '\n';
      return exit_bad_input;
    }
    spdlog::info("metrics: {}", metrics->url());
  }
  cli::install_interrupt_handlers();
  std::error_code ec;
  spdlog::info("graph {}: relative paths resolve against the working directory {}",
               graph->spec.name, std::filesystem::current_path(ec).string());
  local_run_options options;
  options.file_name = graph->file_name;
  options.graph_source = graph->source;
  options.overrides = graph->overrides;
  options.interrupted = cli::interrupt_requested;
  options.threads = threads;
  if (metrics)
    options.live = metrics->counters();
  options.drain_grace = std::chrono::milliseconds(
    static_cast<std::int64_t>(std::min(drain_grace_seconds, 86400.0) * 1000));
  cli::progress_line progress;
  options.on_progress = [&](const progress_info& p) { progress.update(p); };
  // A resumed run goes on writing to the directory it resumes from, unless told otherwise.
  options.state_dir = state.state_dir.empty() ? state.resume : state.state_dir;
  if (resumed) {
    spdlog::info("graph {}: resuming from the state directory {} ({} instance state(s))",
                 graph->spec.name, state.resume, resumed->states.size());
    options.resume = std::move(resumed);
  }
  auto report = cluster ? run_on_cluster(graph->spec, kinds, options, *cluster)
                        : run_locally(graph->spec, kinds, options);
  progress.close();
  report.print(std::cerr);
  bool written = report_path.empty() || write_report(report_path, report.to_json());
  int status = report.status == run_status::failed || !report.abandoned.empty() || !written
                 ? exit_failed_run
                 : 0;
  if (!report.abandoned.empty()) {
    // Steps still inside a call hold threads that cannot be joined: end the process
    // without them (see run_locally).
    std::cerr << "conveyor: exiting without waiting for: ";
    for (std::size_t i = 0; i < report.abandoned.size(); ++i)
      std::cerr << (i ? ", " : "") << report.abandoned[i];
    std::cerr << std::endl;
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(status);
  }
  return status;
}

int check_command(const kind_registry& kinds, const std::string& file,
                  const std::vector<std::string>& sets) {
  auto overrides = cli::parse_overrides(sets);
  if (!overrides)
    return exit_bad_input;
  auto graph = cli::load_graph(file, *overrides, kinds);
  if (!graph)
    return exit_bad_input;
  std::cout << fmt::format("{}: ok: graph '{}', {} node(s), {} edge(s)\n", file,
                           graph->spec.name, graph->spec.nodes.size(), graph->spec.edges.size());
  return 0;
}

int dot_command(const kind_registry& kinds, const std::string& file,
                const std::vector<std::string>& sets, const std::string& output) {
  auto overrides = cli::parse_overrides(sets);
  if (!overrides)
    return exit_bad_input;
  auto graph = cli::load_graph(file, *overrides, kinds);
  if (!graph)
    return exit_bad_input;
  auto dot = dsl::to_dot(graph->spec, kinds);
  if (output.empty() || output == "-") {
    std::cout << dot;
    return 0;
  }
  std::ofstream out(output);
  out << dot;
  if (!out) {
    std::cerr << "error: cannot write '" << output << "'\n";
    return exit_bad_input;
  }
  return 0;
}

void print_kind(const dsl::kind_schema& k) {
  std::cout << k.name << ": " << k.doc << '\n';
  auto ports = [](const std::vector<dsl::port_schema>& ps) {
    std::string s;
    for (const auto& p : ps)
      s += (s.empty() ? "" : ", ") + p.name + " (" + p.message_type + ")";
    return s.empty() ? std::string{"none"} : s;
  };
  std::cout << "  inputs:  " << ports(k.inputs) << '\n';
  std::cout << "  outputs: " << ports(k.outputs) << '\n';
  for (const auto& p : k.params) {
    std::string def = p.required ? "required"
                      : p.default_value ? "default " + dsl::to_source(*p.default_value)
                                        : "optional";
    // File roles: conveyor check refuses two steps of a graph colliding on one file.
    std::string role = p.role == dsl::param_role::reads_file    ? " [reads this file]"
                       : p.role == dsl::param_role::writes_file ? " [writes this file]"
                                                                : "";
    std::cout << fmt::format("  {:<14} {:<16} {:<22} {}{}\n", p.name, dsl::to_string(p.type), def,
                             p.doc, role);
  }
}

int kinds_command(const kind_registry& kinds, const std::string& name) {
  if (!name.empty()) {
    auto k = kinds.find_kind(name);
    if (k == nullptr) {
      std::cerr << "error: no actor kind named '" << name << "'\n";
      return exit_bad_input;
    }
    print_kind(*k);
    return 0;
  }
  for (const auto& n : kinds.kind_names())
    print_kind(*kinds.find_kind(n));
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // A write to a socket whose peer is gone (a NATS server, a scraper, a node) must be an
  // error return in the library that wrote, never the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  kind_registry kinds;
  register_builtin_kinds(kinds);

  CLI::App app{"conveyor: an AI factory runtime. Graph files (*.flow) describe dataflow "
               "graphs of supervised actors that read, clean, train, publish and serve."};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
    ->capture_default_str();
  // Options of `conveyor` itself (--log-level) may also follow the subcommand.
  app.fallthrough();

  std::string file;
  std::vector<std::string> sets;
  std::string report_path;
  std::string metrics_listen;
  std::string output;
  std::string kind_name;
  int threads = 0;
  double drain_grace = 10;

  std::string cluster_file;
  auto run = app.add_subcommand("run", "Run a graph file on an embedded node in this process, "
                                       "or with --cluster on runtime nodes");
  run->add_option("file", file, "graph file (*.flow); not with --resume");
  run_state_options run_state;
  run->add_option("--state-dir", run_state.state_dir,
                  "write the run's durable state (ledger, step states) to this directory, "
                  "so that --resume can continue the run after a crash of this process");
  run->add_option("--resume", run_state.resume,
                  "continue the run whose --state-dir this is (its graph and --set values)");
  run->add_option("--set", sets, "override a graph param: NAME=VALUE (once per param)");
  run->add_option("--report", report_path,
                  "write the run report as JSON to this file (not the graph file)");
  run->add_option("--threads", threads, "actor system worker threads (0: one per core)");
  run->add_option("--drain-timeout", drain_grace,
                  "seconds a drain (SIGINT/SIGTERM) may take before steps still running are "
                  "abandoned and the process exits")
    ->capture_default_str();
  run->add_option("--metrics-listen", metrics_listen,
                  "serve Prometheus metrics of the run on http://HOST:PORT/metrics");

  run->add_option("--cluster", cluster_file,
                  "cluster file (TOML): the nodes to run on, TLS files, timeouts "
                  "(docs/operator-guide.md); without it the run is embedded in this process");

  auto check = app.add_subcommand("check", "Validate a graph file; exit 0 or print diagnostics");
  check->add_option("file", file, "graph file (*.flow)")->required();
  check->add_option("--set", sets, "override a graph param: NAME=VALUE (once per param)");

  auto dot = app.add_subcommand("dot", "Print the graph as Graphviz DOT");
  dot->add_option("file", file, "graph file (*.flow)")->required();
  dot->add_option("--set", sets, "override a graph param: NAME=VALUE (once per param)");
  dot->add_option("-o,--output", output, "write to this file instead of stdout");

  auto list = app.add_subcommand("kinds", "List the actor kinds with their ports and parameters");
  list->add_option("name", kind_name, "show only this kind");

  cli::models_command models{app};
  cli::infer_command infer{app};
  cli::keys_command keys{app};
  cli::node_command node{app};
  cli::status_command status{app};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_bad_input;
  }
  if (!setup_logging(log_level))
    std::cerr << "warning: unknown log level '" << log_level << "', using info\n";

  if (run->parsed())
    return run_command(kinds, file, sets, report_path, threads, drain_grace, metrics_listen,
                       cluster_file, run_state);
  if (check->parsed())
    return check_command(kinds, file, sets);
  if (dot->parsed())
    return dot_command(kinds, file, sets, output);
  if (models.parsed())
    return models.run();
  if (infer.parsed())
    return infer.run();
  if (keys.parsed())
    return keys.run();
  if (node.parsed())
    return node.run(kinds);
  if (status.parsed())
    return status.run();
  return kinds_command(kinds, kind_name);
}
