// trainer: trains a model (linear, logistic, softmax, mlp) on the batches it consumes
// and emits it, with the preprocessing that came with the batches, on its `model` port.
//
// Data: the whole dataset is cached in memory (features row-major, labels); the trainer
// acknowledges its input only once it has ended its stream, so after a restart the
// runtime replays the data from the source. Each epoch reshuffles the cached rows with
// std::mt19937_64 seeded by (seed, epoch).
//
// Data parallel (`devices = "cpu:N"`): N replicas form a replica group; every replica
// receives every batch, sorts the cache by (source, sequence) so all see identical
// data, and takes its contiguous share of each global batch. Replicas all-reduce
// (gradient * rows, loss * rows) over peer messages tagged with the global step, so all
// apply the same update and end with the same weights. Replica 0 emits the model.
//
// Checkpoints (`checkpoint_every` > 0): after every N-th optimizer step replica 0 writes
// `checkpoint_dir/<step>.ckpt` atomically (model file + optimizer state + epoch, step)
// (keeping the newest two) and records the step in its durable state, so a stale file
// from an earlier run is never resumed. A restarted group (state present) resumes
// from it once the replayed data has arrived: replica 0 tells the other replicas which
// checkpoint to load (the directory must be visible to every replica).
#pragma once

#include "compute/model.hpp"
#include "compute/optimizer.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

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
  std::int64_t seed = 42;
  int replicas = 1;
  std::int64_t checkpoint_every = 0;
  std::string checkpoint_dir = "checkpoints";
  std::string name;
  /// The graph's name, for the model's provenance (set from step_config, not a param).
  std::string graph;
  std::int64_t fail_at_step = 0;
  std::int64_t fail_times = 1;

  /// Reads and validates the graph parameters; throws step_failure.
  static trainer_options from(const step_params& params);
};

/// Parses `devices` ("cpu:N"); throws step_failure for anything else (GPU included).
int parse_devices(const std::string& devices);

class trainer : public step {
public:
  trainer(trainer_options options, std::string step_name, int replica, int replicas);

  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;
  void finish(emitter& out) override;
  bool produce(emitter& out) override;
  bool blocked() const override;
  void consume_peer(peer_message m) override;
  bool acknowledge_on_consume() const override { return false; }

private:
  struct cached {
    std::uint64_t first_row = 0;
    std::uint32_t rows = 0;
    std::vector<float> x; // rows x features
    std::vector<float> y; // rows
  };
  struct peer_sum {
    std::vector<std::shared_ptr<const std::string>> parts; // by replica
    int count = 0;
  };

  void save_state();
  void prepare();
  void shuffle_epoch(std::uint64_t epoch);
  void write_checkpoint();
  void load_checkpoint(std::uint64_t step);
  void emit_model(emitter& out);

  trainer_options options_;
  std::string step_name_;
  int replica_ = 0;
  int replicas_ = 1;
  step_context* ctx_ = nullptr;

  // durable state
  std::int64_t failures_ = 0;
  std::uint64_t checkpoint_step_ = 0;

  // cache
  std::map<std::pair<std::string, std::uint64_t>, cached> cache_;
  std::vector<std::string> feature_columns_;
  std::shared_ptr<const preprocessing> transform_;
  std::string data_source_;
  int classes_known_ = 0; // classes implied by the parameters (0: unknown/regression)
  bool classifier_ = false;

  // training
  bool finished_ = false;
  bool done_ = false;
  int blas_threads_before_ = 1;
  int blas_threads_set_ = 1;
  bool started_ = false;
  bool resume_known_ = false;
  std::uint64_t resumed_from_ = 0;
  std::chrono::steady_clock::time_point start_time_;
  std::vector<float> sum_;
  std::uint64_t resume_step_ = 0;
  std::vector<float> x_, y_;
  std::size_t rows_ = 0;
  std::size_t features_ = 0;
  std::unique_ptr<compute::model> model_;
  std::unique_ptr<compute::optimizer> optimizer_;
  std::vector<std::uint32_t> order_;
  std::int64_t shuffled_epoch_ = -1;
  std::uint64_t steps_per_epoch_ = 0;
  std::uint64_t total_steps_ = 0;
  std::uint64_t step_ = 0; // global optimizer steps done
  bool local_sent_ = false;
  std::vector<float> local_; // gradient*rows..., loss*rows
  std::vector<float> part_;  // a peer's local_, decoded
  std::map<std::uint64_t, peer_sum> peers_;
  std::vector<float> xb_, yb_;
  double epoch_loss_sum_ = 0;
  double epoch_rows_ = 0;
  double last_epoch_loss_ = 0;
  double last_loss_ = 0;
  std::uint64_t samples_ = 0;
  double train_seconds_ = 0;
};

kind_entry trainer_kind();

} // namespace conveyor
