// inference: serves models to other services over ZeroMQ + MessagePack (protocol v1,
// docs/inference-protocol.md). A service step: it keeps serving after its inputs end,
// until the run is drained.
//
// On open it binds `endpoint`, loads the latest version of every model in `registry`
// (when set) and starts `replicas` worker threads (the node's `replicas` attribute: one
// socket, N workers, so the instance count stays 1). Models arriving on `model` (from a
// publisher: with their registry version) are loaded and swapped in: requests already
// accepted finish on the version they resolved, new ones get the new version. A model
// that cannot be decoded or served is logged and counted as rejected; the server keeps
// serving what it had. Pinned versions not in memory are loaded from `registry`.
// The latest model of each name that arrives on `model` is its durable state (the node
// and the coordinator keep it): an instance restarted or moved to another node serves
// those models at once, before and without any registry.
// Every second it loads versions that appeared in `registry` meanwhile (published by
// another process) the same way, reports its counters and latency as metrics, and fails
// (to be restarted by supervision) if one of its threads died.
// With `curve_secret_key_file` and `curve_allowed_clients_file` the socket is a CurveZMQ
// server admitting only the listed client keys; each refused key is logged once.
// It records requests, latencies and drops in the process's metrics registry
// (metrics::default_registry(), labeled by its step name: docs/metrics.md).
// `device` ("cpu", "gpu:N", "auto") says where batches are computed: the models'
// parameters live on that device in one shared backend (compute::locked_backend, whose
// size is the `model_bytes` metric), and each computing thread computes with a backend
// of its own there (on a GPU, its own stream), through the same protocol, batching,
// pinning and hot swap. Many models, and many servers of a process, share one GPU (the
// CUDA runtime's one context per device).
#pragma once

#include "compute/locked_backend.hpp"
#include "serving/model_catalog.hpp"
#include "serving/server.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace conveyor {

struct inference_options {
  serving::server_options server;
  std::string registry;
  std::size_t keep_loaded = 4;
  std::size_t max_model_bytes = std::size_t{256} << 20;
  /// CurveZMQ (both or neither): read at open, so that a missing or malformed key file
  /// fails the step at start naming the file and line.
  std::string curve_secret_key_file;
  std::string curve_allowed_clients_file;
  /// Where models are computed: "cpu", or "cuda:N" (`device = "gpu:N"`, checked against
  /// the machine when the graph is checked). "auto" becomes "cuda:0" where a GPU is
  /// usable, else "cpu" with `cpu_fallback` saying why.
  std::string device = "cpu";
  std::string cpu_fallback;

  static inference_options from(const step_config& config);
};

class inference : public step {
public:
  explicit inference(inference_options options);
  ~inference() override;

  void open(step_context& ctx) override;
  void consume_model(std::size_t port, model_message m, emitter& out) override;
  bool is_service() const override { return true; }
  /// Its inputs have ended: says what it serves from now on (nothing yet, or which
  /// versions), so that a run that goes on serving does not look stuck.
  void finish(emitter& out) override;
  void tick() override;


private:
  /// Loads the models of its saved state into the catalog.
  void restore_models(const std::string& state);

  inference_options options_;
  step_context* ctx_ = nullptr;
  /// Holds the served models' parameters on `device` (before the catalog: it outlives
  /// every model).
  std::unique_ptr<compute::locked_backend> device_;
  std::shared_ptr<serving::model_catalog> catalog_;
  std::unique_ptr<serving::server> server_;
  /// The latest model of each name that reached it (its durable state).
  std::map<std::string, std::pair<std::uint64_t, std::shared_ptr<const std::string>>> latest_;
  /// The registry's collect hook that reads the server's queue gauges (0: none).
  std::size_t metrics_hook_ = 0;
};

kind_entry inference_kind();

} // namespace conveyor
