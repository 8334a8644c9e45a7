// `conveyor run --metrics-listen HOST:PORT`: serves /metrics (Prometheus text) for the
// run: each step's counters (from the coordinator's live counters: the figures of the
// run report, so far), each edge's batches, and whatever the steps record in the
// process's registry (the inference server's requests and latencies). docs/metrics.md
// lists the metrics. The same port serves GET /status: the run's nodes, steps and edges
// as JSON, what `conveyor status` shows (docs/operator-guide.md).
#pragma once

#include "dsl/graph_spec.hpp"
#include "metrics/http_endpoint.hpp"
#include "runtime/live_counters.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <vector>
#include <string>

namespace conveyor {
class kind_registry;
}

namespace conveyor::cli {

class run_metrics {
public:
  /// Binds `listen` (HOST:PORT) at once. Throws std::runtime_error saying what is wrong
  /// with the address, or why it cannot be bound.
  run_metrics(const std::string& listen, const dsl::graph_spec& graph, const kind_registry& kinds);
  ~run_metrics();
  run_metrics(const run_metrics&) = delete;
  run_metrics& operator=(const run_metrics&) = delete;

  /// What the run's coordinator keeps up to date (local_run_options::live).
  std::shared_ptr<live_counters> counters() const { return counters_; }
  /// The URL scraped, with the bound port.
  std::string url() const;

private:
  /// Copies the live counters into the registry's step and edge metrics (a collect hook).
  void collect();
  /// The /status document.
  std::string status_json() const;

  struct edge {
    std::string from, to;          ///< "step.port"
    std::string producer;          ///< the producing step
    std::uint32_t out_port = 0;    ///< its output port's index
    std::string consumer;          ///< the consuming step
  };

  std::shared_ptr<live_counters> counters_ = std::make_shared<live_counters>();
  std::map<std::string, std::string> kinds_; ///< step -> kind
  std::vector<edge> edges_;
  std::string host_;
  metrics::family<metrics::counter>& rows_in_;
  metrics::family<metrics::counter>& rows_out_;
  metrics::family<metrics::counter>& rejected_;
  metrics::family<metrics::counter>& replayed_;
  metrics::family<metrics::counter>& restarts_;
  metrics::family<metrics::counter>& busy_;
  metrics::family<metrics::counter>& batches_;
  metrics::family<metrics::counter>& credit_wait_;
  std::string graph_name_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::size_t hook_ = 0;
  metrics::http_endpoint endpoint_;
};

} // namespace conveyor::cli
