// The trainer's parameters, read and checked from the graph, and its `devices`.
#pragma once

#include "compute/precision.hpp"
#include "step/kind_registry.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace conveyor {

/// The data-parallel replicas of `devices`: one per CPU replica or one per GPU.
struct trainer_devices {
  std::string kind = "cpu"; ///< "cpu" or "cuda"
  int count = 1;
  std::vector<int> gpus; ///< kind "cuda": the GPU of each replica
  /// "auto" on a machine without a usable GPU: why (the trainer logs it); else empty.
  std::string cpu_fallback;
  /// The backend device of `replica`: "cpu" for every CPU replica, "cuda:G" for GPUs.
  std::string device_of(int replica) const;
};

/// Parses `devices`: "cpu:N" (N replicas), "gpu:all" (one replica per GPU present),
/// "gpu:0,1" (one per GPU listed; "cuda:" is the same), "auto" (gpu:all when a GPU is
/// usable, else cpu:1). Throws step_failure for anything else, and for GPUs that this
/// build or this machine lacks, saying which and why.
trainer_devices parse_devices(const std::string& devices);

struct trainer_options {
  std::string model = "mlp";
  std::vector<int> layers;
  std::string activation = "relu";
  std::string optimizer = "sgd";
  double lr = 0.01;
  double momentum = 0;
  double weight_decay = 0;
  std::int64_t batch = 128;
  std::int64_t epochs = 1;
  /// Also emit the model after every `emit_every` epochs (0: only at the end).
  std::int64_t emit_every = 0;
  /// Each replica of a group holds only its shard of the rows (training_data::shard).
  bool shard = false;
  std::int64_t seed = 42;
  trainer_devices devices;
  /// GPU matrix products (compute/precision.hpp); fp32 on the CPU.
  compute::precision precision = compute::precision::fp32;
  std::int64_t checkpoint_every = 0;
  std::string checkpoint_dir = "checkpoints";
  /// A checkpoint to start from when the group starts afresh (a drained run leaves one).
  std::string resume_from;
  std::string name;
  /// The graph's name, for the model's provenance (set from step_config, not a param).
  std::string graph;
  /// A fleet: one model per value of this categorical column (empty: one model).
  std::string by;
  /// Fleet segments with fewer rows answer with the shared model (trained on all rows).
  std::int64_t min_rows = 100;
  /// A key the fleet does not know: "shared" (the shared model answers) or "error".
  std::string unknown_key = "shared";
  /// Fleets: the share of each segment's rows held out for early stopping (0: none).
  double validation = 0.1;
  /// Fleets: epochs without a better validation loss before a segment stops (0: never).
  std::int64_t patience = 3;
  /// A replica group's watchdog: an all-reduce (or a GPU group's joining) that has not
  /// completed this long after this replica started it aborts the group's collective and
  /// fails the group, which restarts from its last checkpoint (a hung replica).
  std::int64_t collective_timeout_ms = 60'000;
  /// Device replicas: each step's forward and backward pass recorded once as a CUDA graph
  /// and replayed (compute/replayed_step.hpp); ignored on the CPU.
  bool cuda_graphs = true;
  std::int64_t fail_at_step = 0;
  std::int64_t fail_times = 1;
  /// Testing: the group's last replica stops taking part at this step (once per run,
  /// counted in its durable state), as a hung replica would (0: never).
  std::int64_t hang_at_step = 0;
  /// Retraining on a never-ending input (actors/retraining.hpp): on when a window is set.
  std::int64_t window_rows = 0;          ///< the window: the newest rows, at most this many
  std::int64_t window_ns = 0;            ///< the window: rows at most this old
  std::int64_t retrain_every_rows = 0;   ///< trigger: after this many new rows (0: off)
  std::int64_t retrain_every_ns = 0;     ///< trigger: after this long (0: off)
  bool warm_start = false;               ///< start from the previous model's weights

  bool retraining() const { return window_rows > 0 || window_ns > 0; }

  /// The classes the parameters imply for a classifier (logistic: 2; softmax or mlp with
  /// layers: the output width, 2 for one output); 0 when the data must tell.
  int implied_classes() const;

  /// Reads and validates the graph parameters; throws step_failure.
  static trainer_options from(const step_params& params);
};

} // namespace conveyor
