// keyed_load: drives a fleet served over protocol v1 with predict requests by key (one
// row each, random features, keys s0 .. s{keys-1}) from several DEALER sockets with a fixed
// number of requests in flight each, for a fixed time, and prints requests per second,
// failures and latency percentiles (client-measured, send to receipt) as one JSON line.
//
// With --probe FILE.csv (rows `amount,items,hour,segment,fraud`, a header first) it
// instead asks the fleet for every row of the file, by its segment, every --interval
// seconds for --seconds, and prints one JSON line per round: the time (Unix seconds), the
// share of rows answered right and the versions that answered.
#include "client/client.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct result {
  std::uint64_t ok = 0, failed = 0;
  std::vector<double> latency_ms;
};

struct probe_row {
  std::vector<float> values;
  std::string key;
  int label = 0;
};

std::vector<probe_row> read_probe(const std::string& path, int columns) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("cannot open '" + path + "'");
  std::vector<probe_row> rows;
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line)) {
    std::stringstream cells(line);
    std::string cell;
    probe_row r;
    for (int c = 0; c < columns; ++c) {
      std::getline(cells, cell, ',');
      r.values.push_back(std::stof(cell));
    }
    std::getline(cells, r.key, ',');
    std::getline(cells, cell, ',');
    r.label = std::stof(cell) > 0.5f ? 1 : 0;
    rows.push_back(std::move(r));
  }
  return rows;
}

int probe(const std::string& endpoint, const std::string& model, const std::string& path,
          int columns, double seconds, double interval) {
  const auto rows = read_probe(path, columns);
  std::map<std::string, std::vector<std::size_t>> by_key;
  for (std::size_t i = 0; i < rows.size(); ++i)
    by_key[rows[i].key].push_back(i);
  conveyor::client::client c(endpoint);
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < end) {
    const auto round = std::chrono::steady_clock::now();
    std::size_t right = 0, answered = 0;
    std::set<std::uint64_t> versions;
    for (const auto& [key, members] : by_key) {
      std::vector<std::vector<float>> batch;
      for (auto i : members)
        batch.push_back(rows[i].values);
      auto r = c.predict(model, batch, 0, {}, key);
      if (!r.ok || r.labels.size() != members.size())
        continue;
      versions.insert(r.version);
      answered += members.size();
      for (std::size_t j = 0; j < members.size(); ++j)
        right += r.labels[j] == rows[members[j]].label ? 1 : 0;
    }
    std::string vs;
    for (auto v : versions)
      vs += (vs.empty() ? "" : ",") + std::to_string(v);
    const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    std::printf("{\"t\": %.3f, \"accuracy\": %.4f, \"answered\": %zu, \"versions\": [%s]}\n", now,
                answered ? static_cast<double>(right) / static_cast<double>(answered) : -1.0,
                answered, vs.c_str());
    std::fflush(stdout);
    std::this_thread::sleep_until(round + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                            std::chrono::duration<double>(interval)));
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string endpoint = "tcp://127.0.0.1:5557", model = "fleet";
  int keys = 20, columns = 3, sockets = 2, in_flight = 32;
  double seconds = 10;
  CLI::App app{"keyed_load: predict requests by key against a served fleet"};
  app.add_option("--endpoint", endpoint)->capture_default_str();
  app.add_option("--model", model)->capture_default_str();
  app.add_option("--keys", keys, "keys s0 .. s{keys-1}")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--columns", columns, "values per row")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--sockets", sockets, "DEALER sockets, one thread each")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--in-flight", in_flight, "requests in flight per socket")->capture_default_str()->check(CLI::Range(1, 65536));
  app.add_option("--seconds", seconds, "how long to send")->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  std::string probe_file;
  double interval = 0.5;
  app.add_option("--probe", probe_file, "probe mode: rows to ask for every --interval seconds");
  app.add_option("--interval", interval, "probe mode: seconds between rounds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!probe_file.empty()) {
    try {
      return probe(endpoint, model, probe_file, columns, seconds, interval);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "keyed_load: %s\n", e.what());
      return 1;
    }
  }

  std::vector<result> results(static_cast<std::size_t>(sockets));
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(seconds));
  for (int t = 0; t < sockets; ++t)
    threads.emplace_back([&, t] {
      auto& r = results[static_cast<std::size_t>(t)];
      conveyor::client::client c(endpoint);
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      std::normal_distribution<float> normal(0, 1);
      std::vector<float> row(static_cast<std::size_t>(columns));
      std::vector<std::string> names;
      for (int k = 0; k < keys; ++k)
        names.push_back("s" + std::to_string(k));
      auto send = [&] {
        for (auto& v : row)
          v = normal(rng);
        c.send_predict(model, row.data(), 1, static_cast<std::uint32_t>(columns), 0, {},
                       names[rng() % names.size()]);
      };
      for (int i = 0; i < in_flight; ++i)
        send();
      while (std::chrono::steady_clock::now() < end) {
        auto reply = c.receive(std::chrono::milliseconds(100));
        if (!reply)
          continue;
        if (reply->ok) {
          ++r.ok;
          r.latency_ms.push_back(std::chrono::duration<double, std::milli>(reply->latency).count());
        } else {
          ++r.failed;
        }
        send();
      }
    });
  for (auto& t : threads)
    t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result all;
  for (auto& r : results) {
    all.ok += r.ok;
    all.failed += r.failed;
    all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
  }
  std::sort(all.latency_ms.begin(), all.latency_ms.end());
  auto pct = [&](double p) {
    if (all.latency_ms.empty())
      return 0.0;
    return all.latency_ms[std::min(all.latency_ms.size() - 1,
                                   static_cast<std::size_t>(p * static_cast<double>(all.latency_ms.size())))];
  };
  std::printf("{\"requests_per_second\": %.1f, \"ok\": %llu, \"failed\": %llu, \"seconds\": %.2f, "
              "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f}\n",
              static_cast<double>(all.ok) / elapsed, static_cast<unsigned long long>(all.ok),
              static_cast<unsigned long long>(all.failed), elapsed, pct(0.5), pct(0.99), pct(0.999));
  return all.failed > 0 && all.ok == 0 ? 1 : 0;
}
