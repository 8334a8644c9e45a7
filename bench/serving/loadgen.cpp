// loadgen: drives an inference server (protocol v1) with Fashion-MNIST test images and
// reports req/s, rows/s, latency percentiles, failures by code and label accuracy.
//
// Closed loop: --concurrency requests are kept in flight in total, spread over --sockets
// DEALER sockets, one sender thread each; a reply (or its timeout) frees a slot for the
// next request. A sender reads every reply already waiting before it sends their
// replacements, so that a reply's latency ends when it arrives rather than after the
// sends of the replies read before it. Request k carries rows [k * rows_per_request, ...)
// of the test set (mod its size), as raw 0..255 pixels; the server's model applies its
// own preprocessing. A warm-up phase on the same sockets is run first and not counted.
// The report includes the generator's own CPU time: it shares the machine with the
// server.
#include "bench/serving/idx_dataset.hpp"
#include "bench/serving/load_report.hpp"
#include "client/client.hpp"

#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <limits>
#include <thread>
#include <unordered_map>

namespace {

using namespace conveyor;
using clock_type = std::chrono::steady_clock;

constexpr int exit_bad_usage = 2;

struct config {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string model = "fashion";
  std::uint64_t version = 0;
  std::uint32_t concurrency = 16;
  std::uint32_t sockets = 1;
  std::uint64_t requests = 10000;
  double duration_s = 0; // > 0: run for this long instead of --requests
  std::uint64_t warmup = 200;
  std::uint32_t rows_per_request = 1;
  std::uint32_t timeout_ms = 5000;
  std::uint64_t deadline_ms = 0; // 0: none
  bool inputs = false;
  bool json = false;
  std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
};

/// Hands out request numbers to the sender threads until the phase's budget or time ends.
class budget {
public:
  budget(std::uint64_t requests, clock_type::time_point until) : limit_(requests), until_(until) {}
  bool take(std::uint64_t& k) {
    if (exhausted_.load(std::memory_order_relaxed))
      return false;
    k = next_.fetch_add(1, std::memory_order_relaxed);
    if (k < limit_ && clock_type::now() < until_)
      return true;
    exhausted_ = true;
    return false;
  }

private:
  std::atomic<std::uint64_t> next_{0};
  std::atomic<bool> exhausted_{false};
  std::uint64_t limit_;
  clock_type::time_point until_;
};

void record(const client::reply& r, std::uint32_t first_row, const config& cfg,
            const bench::idx_dataset& data, bench::load_stats& st) {
  if (!r.ok) {
    ++st.failed;
    ++st.failures[r.error.code + (r.error.client_side ? " (client)" : "")];
    return;
  }
  if (r.rows != cfg.rows_per_request) {
    ++st.failed;
    ++st.failures["wrong_row_count (client)"];
    return;
  }
  ++st.ok;
  st.rows_ok += r.rows;
  st.latency_ms.push_back(std::chrono::duration<double, std::milli>(r.latency).count());
  for (std::size_t i = 0; i < r.labels.size(); ++i) {
    ++st.labelled_rows;
    if (r.labels[i] == data.labels[first_row + i])
      ++st.correct_labels;
  }
}

/// One sender thread: keeps `window` requests in flight on `c` while the budget lasts.
bench::load_stats drive(client::client& c, std::uint32_t window, budget& b, const config& cfg,
                        const bench::idx_dataset& data) {
  bench::load_stats st;
  const std::uint64_t span = data.count - cfg.rows_per_request + 1;
  const std::optional<std::uint64_t> deadline =
    cfg.deadline_ms != 0 ? std::optional<std::uint64_t>(cfg.deadline_ms) : std::nullopt;
  std::unordered_map<std::uint64_t, std::uint32_t> first_row_of; // id -> first dataset row
  std::uint64_t k = 0;
  for (;;) {
    while (first_row_of.size() < window && b.take(k)) {
      const auto first = static_cast<std::uint32_t>((k * cfg.rows_per_request) % span);
      const auto id = c.send_predict(cfg.model, data.row(first), cfg.rows_per_request,
                                     data.width, cfg.version, deadline);
      first_row_of.emplace(id, first);
    }
    if (first_row_of.empty())
      return st;
    // Every reply already waiting is read (and its latency taken) before any replacement
    // is sent: sending one costs the sender thread a wake-up of ZeroMQ's I/O thread, and
    // the replies behind it would count that wait as the server's latency.
    for (auto r = c.receive(std::chrono::milliseconds(1000)); r;
         r = c.receive(std::chrono::milliseconds(0))) {
      auto it = first_row_of.find(r->id);
      if (it == first_row_of.end())
        continue; // unanswered requests come back as timeouts
      record(*r, it->second, cfg, data, st);
      first_row_of.erase(it);
    }
  }
}

/// CPU time of this process so far (all threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

/// Runs one phase on all sockets; returns the merged stats and the phase's wall time.
std::pair<bench::load_stats, double> run_phase(std::vector<client::client>& clients,
                                               std::uint64_t requests, double duration_s,
                                               const config& cfg,
                                               const bench::idx_dataset& data) {
  const auto start = clock_type::now();
  const auto until =
    duration_s > 0 ? start + std::chrono::duration_cast<clock_type::duration>(
                               std::chrono::duration<double>(duration_s))
                   : clock_type::time_point::max();
  budget b(duration_s > 0 ? std::numeric_limits<std::uint64_t>::max() : requests, until);
  std::vector<bench::load_stats> per_thread(clients.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto n = static_cast<std::uint32_t>(clients.size());
    const std::uint32_t window = cfg.concurrency / n + (i < cfg.concurrency % n ? 1 : 0);
    threads.emplace_back([&, i, window] {
      per_thread[i] = drive(clients[i], window, b, cfg, data);
    });
  }
  for (auto& t : threads)
    t.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  bench::load_stats all;
  for (const auto& s : per_thread)
    all.merge(s);
  return {std::move(all), seconds};
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  CLI::App app{"loadgen: drive an inference server (protocol v1) with Fashion-MNIST test rows "
               "and report throughput, latency, failures and accuracy"};
  app.add_option("--endpoint", cfg.endpoint, "server endpoint")->capture_default_str();
  app.add_option("--model", cfg.model, "model name")->capture_default_str();
  app.add_option("--version", cfg.version, "model version (0: the latest)")->capture_default_str();
  app.add_option("-c,--concurrency", cfg.concurrency, "requests in flight, in total")
    ->capture_default_str()->check(CLI::Range(1u, 1u << 20));
  app.add_option("--sockets", cfg.sockets, "DEALER sockets (one sender thread each)")
    ->capture_default_str()->check(CLI::Range(1u, 1024u));
  auto requests = app.add_option("-n,--requests", cfg.requests, "requests to send")
    ->capture_default_str();
  app.add_option("-d,--duration", cfg.duration_s, "seconds to run instead of --requests")
    ->excludes(requests)->check(CLI::PositiveNumber);
  app.add_option("--warmup", cfg.warmup, "requests sent first and not counted")
    ->capture_default_str();
  app.add_option("-r,--rows-per-request", cfg.rows_per_request, "rows in each request")
    ->capture_default_str()->check(CLI::Range(1u, 10000u));
  app.add_option("--timeout-ms", cfg.timeout_ms, "a request unanswered this long fails")
    ->capture_default_str()->check(CLI::Range(1u, 3600000u));
  app.add_option("--deadline-ms", cfg.deadline_ms, "the requests' deadline_ms (0: none)");
  app.add_flag("--inputs", cfg.inputs, "send rows as `inputs` arrays instead of a float32 tensor");
  app.add_flag("--json", cfg.json, "print the report as JSON");
  std::string curve_server_key, curve_secret_key;
  auto server_key = app.add_option("--curve-server-key", curve_server_key,
                                   "CurveZMQ: the server's public key file");
  auto secret_key = app.add_option("--curve-secret-key", curve_secret_key,
                                   "CurveZMQ: this client's secret key file");
  server_key->needs(secret_key);
  secret_key->needs(server_key);
  app.add_option("--images", cfg.images, "IDX image file (gzip or plain)")->capture_default_str();
  app.add_option("--labels", cfg.labels, "IDX label file (gzip or plain)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_bad_usage;
  }

  std::string error;
  auto data = bench::load_idx(cfg.images, cfg.labels, error);
  if (!data) {
    std::cerr << "loadgen: " << error << '\n';
    return exit_bad_usage;
  }
  if (cfg.rows_per_request > data->count) {
    std::cerr << "loadgen: --rows-per-request " << cfg.rows_per_request << " exceeds the "
              << data->count << " images of '" << cfg.images << "'\n";
    return exit_bad_usage;
  }
  cfg.sockets = std::min(cfg.sockets, cfg.concurrency);

  client::options options;
  options.timeout = std::chrono::milliseconds(cfg.timeout_ms);
  options.encoding = cfg.inputs ? client::input_encoding::inputs : client::input_encoding::tensor;
  if (!curve_server_key.empty()) {
    auto keys = client::load_curve_keys(curve_server_key, curve_secret_key);
    if (!keys) {
      std::cerr << "loadgen: " << keys.error << '\n';
      return exit_bad_usage;
    }
    options.curve = *keys.value;
  }
  std::vector<client::client> clients;
  try {
    for (std::uint32_t i = 0; i < cfg.sockets; ++i)
      clients.emplace_back(cfg.endpoint, options);
  } catch (const std::invalid_argument& e) {
    std::cerr << "loadgen: " << e.what() << '\n';
    return exit_bad_usage;
  }

  if (cfg.warmup > 0)
    run_phase(clients, cfg.warmup, 0, cfg, *data);
  const double cpu_before = cpu_seconds();
  auto [stats, seconds] = run_phase(clients, cfg.requests, cfg.duration_s, cfg, *data);
  const double cpu = cpu_seconds() - cpu_before;

  bench::load_settings settings{cfg.endpoint, cfg.model, cfg.version, cfg.sockets,
                                cfg.concurrency, cfg.rows_per_request,
                                cfg.inputs ? "inputs" : "tensor"};
  auto summary = bench::summarize(stats, seconds);
  summary.cpu_seconds = cpu;
  if (cfg.json)
    std::cout << bench::to_json(settings, stats, summary) << '\n';
  else
    std::cout << bench::to_text(settings, stats, summary);
  return stats.ok == 0 ? 1 : 0;
}
