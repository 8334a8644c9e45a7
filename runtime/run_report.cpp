#include "runtime/run_report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace conveyor {

std::string to_string(run_status s) {
  switch (s) {
    case run_status::completed:
      return "completed";
    case run_status::interrupted:
      return "interrupted";
    case run_status::failed:
      return "failed";
  }
  return "unknown";
}

void run_report::print(std::ostream& out) const {
  out << fmt::format("graph {}: {} in {:.2f} s\n", graph, to_string(status), wall_seconds);
  out << fmt::format("  {:<16} {:<12} {:>12} {:>12} {:>10} {:>8} {:>10} {:>9}\n", "step", "kind",
                     "rows in", "rows out", "rejected", "restarts", "replayed", "busy s");
  for (const auto& s : steps)
    out << fmt::format("  {:<16} {:<12} {:>12} {:>12} {:>10} {:>8} {:>10} {:>9.2f}\n", s.step,
                       s.kind, s.rows_in, s.rows_out, s.rows_rejected, s.restarts,
                       s.rows_replayed, s.busy_seconds);
  for (const auto& s : steps)
    for (const auto& [name, value] : s.metrics)
      out << fmt::format("  {}: {} = {:.6g}\n", s.step, name, value);
  for (const auto& f : failures)
    out << fmt::format("  step '{}' failed after {} restart(s): {}\n", f.step, f.restarts,
                       f.last_error);
  if (!error.empty())
    out << "  error: " << error << '\n';
}

std::string run_report::to_json() const {
  nlohmann::json doc;
  doc["graph"] = graph;
  doc["status"] = to_string(status);
  doc["wall_seconds"] = wall_seconds;
  doc["steps"] = nlohmann::json::array();
  for (const auto& s : steps)
    doc["steps"].push_back({{"step", s.step},
                            {"kind", s.kind},
                            {"replicas", s.replicas},
                            {"rows_in", s.rows_in},
                            {"rows_out", s.rows_out},
                            {"rows_rejected", s.rows_rejected},
                            {"bytes_in", s.bytes_in},
                            {"rows_replayed", s.rows_replayed},
                            {"restarts", s.restarts},
                            {"busy_seconds", s.busy_seconds},
                            {"metrics", s.metrics}});
  doc["failures"] = nlohmann::json::array();
  for (const auto& f : failures)
    doc["failures"].push_back({{"step", f.step},
                               {"instance", f.instance},
                               {"restarts", f.restarts},
                               {"last_error", f.last_error}});
  if (!error.empty())
    doc["error"] = error;
  if (!abandoned.empty())
    doc["abandoned"] = abandoned;
  return doc.dump(2);
}

} // namespace conveyor
