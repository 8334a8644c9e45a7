// Percentiles are nearest-rank over every successful request's latency (no sampling, no
// histogram buckets): a run holds at most a few million numbers.
#include "bench/serving/load_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace conveyor::bench {

void load_stats::merge(const load_stats& o) {
  latency_ms.insert(latency_ms.end(), o.latency_ms.begin(), o.latency_ms.end());
  ok += o.ok;
  failed += o.failed;
  rows_ok += o.rows_ok;
  labelled_rows += o.labelled_rows;
  correct_labels += o.correct_labels;
  for (const auto& [code, n] : o.failures)
    failures[code] += n;
}

namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

} // namespace

load_summary summarize(load_stats& stats, double seconds) {
  load_summary s;
  s.seconds = seconds;
  auto& l = stats.latency_ms;
  std::sort(l.begin(), l.end());
  if (seconds > 0) {
    s.requests_per_s = static_cast<double>(stats.ok) / seconds;
    s.rows_per_s = static_cast<double>(stats.rows_ok) / seconds;
  }
  s.p50_ms = percentile(l, 50);
  s.p90_ms = percentile(l, 90);
  s.p99_ms = percentile(l, 99);
  s.max_ms = l.empty() ? 0 : l.back();
  s.mean_ms = l.empty() ? 0 : std::accumulate(l.begin(), l.end(), 0.0) / static_cast<double>(l.size());
  if (stats.labelled_rows > 0)
    s.accuracy = static_cast<double>(stats.correct_labels) / static_cast<double>(stats.labelled_rows);
  return s;
}

std::string to_text(const load_settings& s, const load_stats& st, const load_summary& sum) {
  std::string out;
  out += "loadgen: " + s.endpoint + ", model " + s.model +
         (s.version != 0 ? " v" + std::to_string(s.version) : std::string()) + ", " +
         std::to_string(s.sockets) + " socket(s), " + std::to_string(s.concurrency) +
         " in flight, " + std::to_string(s.rows_per_request) + " row(s)/request, " + s.encoding +
         "\n";
  out += "  requests   " + std::to_string(st.ok) + " ok, " + std::to_string(st.failed) +
         " failed in " + fixed(sum.seconds, 2) + " s\n";
  out += "  throughput " + fixed(sum.requests_per_s, 0) + " req/s, " + fixed(sum.rows_per_s, 0) +
         " rows/s\n";
  const auto answered = static_cast<double>(std::max<std::uint64_t>(1, st.ok + st.failed));
  out += "  own CPU    " + fixed(sum.cpu_seconds, 2) + " s (" +
         fixed(sum.cpu_seconds * 1e6 / answered, 1) + " us per request)\n";
  out += "  latency ms p50 " + fixed(sum.p50_ms, 3) + "  p90 " + fixed(sum.p90_ms, 3) + "  p99 " +
         fixed(sum.p99_ms, 3) + "  max " + fixed(sum.max_ms, 3) + "  mean " +
         fixed(sum.mean_ms, 3) + "\n";
  if (sum.accuracy >= 0)
    out += "  accuracy   " + fixed(sum.accuracy, 4) + " (" + std::to_string(st.labelled_rows) +
           " labelled rows)\n";
  else
    out += "  accuracy   n/a (no labels in the replies)\n";
  if (!st.failures.empty()) {
    out += "  failures  ";
    for (const auto& [code, n] : st.failures)
      out += " " + code + ": " + std::to_string(n);
    out += "\n";
  }
  return out;
}

std::string to_json(const load_settings& s, const load_stats& st, const load_summary& sum) {
  nlohmann::json j;
  j["endpoint"] = s.endpoint;
  j["model"] = s.model;
  j["version"] = s.version;
  j["sockets"] = s.sockets;
  j["concurrency"] = s.concurrency;
  j["rows_per_request"] = s.rows_per_request;
  j["encoding"] = s.encoding;
  j["ok"] = st.ok;
  j["failed"] = st.failed;
  j["seconds"] = sum.seconds;
  j["cpu_seconds"] = sum.cpu_seconds;
  j["requests_per_s"] = sum.requests_per_s;
  j["rows_per_s"] = sum.rows_per_s;
  j["latency_ms"] = {{"p50", sum.p50_ms}, {"p90", sum.p90_ms}, {"p99", sum.p99_ms},
                     {"max", sum.max_ms}, {"mean", sum.mean_ms}};
  j["accuracy"] = sum.accuracy >= 0 ? nlohmann::json(sum.accuracy) : nlohmann::json(nullptr);
  j["labelled_rows"] = st.labelled_rows;
  j["failures"] = nlohmann::json::object();
  for (const auto& [code, n] : st.failures)
    j["failures"][code] = n;
  return j.dump(2);
}

} // namespace conveyor::bench
