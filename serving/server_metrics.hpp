// What an inference server records in a metrics registry (docs/metrics.md), labeled by
// `step` (the inference step's name): requests by model and outcome (`ok` or the error
// code), latency of predictions (accepted to answered, seconds) by model, and the counts
// of shed requests, dropped replies, requests discarded from clients not reading, and
// refused CurveZMQ handshakes. Queue depth and the bytes held are gauges the owner sets
// (at scrape time: collect hooks). The `model` label holds only served models' names (a
// request for an unknown model counts under `model=""`), so clients cannot grow the
// label set. Counters survive a restart of the step (the registry keeps them).
#pragma once

#include "metrics/registry.hpp"

#include <string>

namespace conveyor::serving {

struct server_metrics {
  server_metrics(metrics::registry& r, std::string step);

  /// Counts `n` requests of `model` ("" when none was resolved) with this outcome.
  void count(const std::string& model, const std::string& outcome, double n = 1) {
    requests.with({step, model, outcome}).add(n);
  }
  /// The latency histogram of `model`: look it up once per batch, observe per request.
  metrics::histogram& latency_of(const std::string& model) { return latency.with({step, model}); }

  std::string step;
  metrics::family<metrics::counter>& requests;
  metrics::family<metrics::histogram>& latency;
  metrics::counter& shed;
  metrics::counter& dropped;
  metrics::counter& unread_refused;
  metrics::counter& refused_handshakes;
  metrics::gauge& queue_depth;
  metrics::gauge& queued_bytes;
  metrics::gauge& computing;
  metrics::gauge& unread_bytes;
};

} // namespace conveyor::serving
