// The trainer with `by = "COLUMN"`: a fleet, one model per distinct value of a categorical
// column, trained together by compute::fleet_trainer (one batched kernel call per step
// over every segment), and emitted as ONE model file (format version 2) holding the key
// index, every segment's weights and metrics, and a shared model trained on all rows.
//
// Segments with fewer than `min_rows` rows have no model of their own: they answer with
// the shared model (their rows still train it). The shared model is trained only when
// something uses it (such a segment, or unknown_key = "shared"); without it the file's
// weights are zeros and its fleet says `shared: false`. Each segment holds out `validation` of
// its rows (at least one row when that share rounds to zero but the segment has 10 or
// more) to stop on its own after `patience` epochs without a better validation loss,
// keeping its best epoch's weights; the shared model holds out the union of those, and
// takes as many steps per epoch as the largest segment (in larger batches).
//
// A warm start (a retraining trainer's `warm_start`, warm_start_from): each key with its
// own model in the previous fleet starts from that model's weights, and the shared model
// from the previous shared model; keys new to the window (or without their own model
// before) start from zero. When the previous fleet's model shape, feature columns or
// preprocessing differ from this data's (the cleaner refitted, another column came), its
// weights would mean other things: every key starts from zero, and the log says why.
//
// Like the trainer, the data is cached and acknowledged once the stream ends; a drain
// (SIGINT/SIGTERM) stops training between epochs and emits nothing. No replicas, no
// checkpoints: a fleet's epochs take seconds, not hours.
#pragma once

#include "actors/trainer_options.hpp"
#include "actors/training_data.hpp"
#include "compute/fleet_training.hpp"
#include "compute/model_file.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

class fleet_training : public step {
public:
  fleet_training(trainer_options options, std::string step_name);
  ~fleet_training() override;

  /// Starts the keys from `previous` (a decoded fleet; see above). Before finish().
  void warm_start_from(std::shared_ptr<const compute::model_artifact> previous) {
    warm_ = std::move(previous);
  }

  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume(std::size_t port, batch b, emitter& out) override;
  void consume_model(std::size_t port, model_message m, emitter& out) override;
  void finish(emitter& out) override;
  bool produce(emitter& out) override;
  bool acknowledge_on_consume() const override { return false; }

private:
  void start();
  /// Fills the slots' initial parameters from warm_ (own: the slot of each key, or the
  /// shared slot); returns the number of keys warm-started.
  std::size_t apply_warm_start(std::vector<compute::fleet_slot_rows>& slots,
                               const std::vector<bool>& own);
  void emit_fleet(emitter& out);
  void end();

  trainer_options options_;
  std::string step_name_;
  step_context* ctx_ = nullptr;
  bool retrain_warned_ = false;
  training_data data_;
  compute::model_spec spec_;
  std::vector<std::uint32_t> own_slot_; ///< per key: its slot, or the shared slot when it has none
  std::size_t shared_slot_ = 0;
  bool has_shared_ = true; ///< false: every key has its own model and unknown keys are errors
  std::shared_ptr<const compute::model_artifact> warm_;
  std::size_t warm_keys_ = 0; ///< keys whose model started from the previous fleet
  std::unique_ptr<compute::fleet_trainer> trainer_;
  std::unique_ptr<compute::backend> device_;
  int threads_before_ = 1;
  bool started_ = false, done_ = false;
  std::chrono::steady_clock::time_point start_time_;
};

} // namespace conveyor
