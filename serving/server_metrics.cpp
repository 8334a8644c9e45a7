#include "serving/server_metrics.hpp"

namespace conveyor::serving {

namespace {

/// 100 us to 10 s: a prediction on the CPU takes from tens of microseconds (one row, a
/// small model) to seconds (a deep queue).
const std::vector<double> latency_bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                         1,      2.5,     5,      10};

} // namespace

server_metrics::server_metrics(metrics::registry& r, std::string s)
    : step(std::move(s)),
      requests(r.counter_family("conveyor_inference_requests_total",
                                "Requests answered, by model and outcome (ok or the error code)",
                                {"step", "model", "outcome"})),
      latency(r.histogram_family("conveyor_inference_latency_seconds",
                                 "Predictions from accepted to answered, in seconds",
                                 {"step", "model"}, latency_bounds)),
      shed(r.counter_family("conveyor_inference_shed_total",
                            "Waiting requests answered overloaded to admit another client's",
                            {"step"})
             .with({step})),
      dropped(r.counter_family("conveyor_inference_dropped_replies_total",
                               "Replies ZeroMQ refused (client gone, or 10,000 unread)", {"step"})
                .with({step})),
      unread_refused(r.counter_family("conveyor_inference_unread_refused_total",
                                      "Requests discarded unanswered: their client was not "
                                      "reading its replies",
                                      {"step"})
                       .with({step})),
      refused_handshakes(r.counter_family("conveyor_inference_refused_handshakes_total",
                                          "CurveZMQ handshakes of clients not in the allowed list",
                                          {"step"})
                           .with({step})),
      queue_depth(r.gauge_family("conveyor_inference_queue_depth", "Requests waiting", {"step"})
                    .with({step})),
      queued_bytes(r.gauge_family("conveyor_inference_queued_bytes",
                                  "What the waiting requests hold (values and replies-to-be)",
                                  {"step"})
                     .with({step})),
      computing(r.gauge_family("conveyor_inference_computing",
                               "Requests taken by a worker, not yet answered", {"step"})
                  .with({step})),
      unread_bytes(r.gauge_family("conveyor_inference_unread_bytes",
                                  "Reply bytes ZeroMQ holds, not yet written to sockets",
                                  {"step"})
                     .with({step})) {}

} // namespace conveyor::serving
