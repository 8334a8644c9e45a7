// A trainer on a never-ending input (window_rows or window set): it keeps a window of the
// newest rows and retrains on it whenever a trigger fires, emitting each new model (or
// fleet) on its `model` port, while its input keeps flowing.
//
// The window holds the newest batches, at most `window_rows` rows (oldest whole batches
// dropped first, so it may hold up to one batch fewer) and none older than `window`;
// memory is bounded by the window (4 bytes per cell of a row, as the cleaner's output).
// Every row of the window went through the same preprocessing: a batch with another
// upstream transform (the cleaner refitted) empties it first, and counts as a trigger.
//
// The first model is trained as soon as the window is first full. Then triggers:
// `retrain_every_rows` new rows, `retrain_every` elapsed (both checked as rows
// arrive), a model on the `retrain` input (from a drift step: the served model, which
// `warm_start` then starts from; the window is emptied, since the rows before a drift
// come from another distribution), and a new upstream preprocessing. A trigger fires once
// the window is full (`window_rows` rows, or `window` elapsed since it was emptied); till
// then it waits.
//
// Each retrain runs the ordinary trainer step (actors/trainer, or actors/fleet_training
// with `by`) on the window, inside the call that fired it, with the same parameters:
// the step's compute is the trainer's. With `warm_start` it starts from the previous
// model's weights (the one this step emitted last, or the one a drift step sent): a
// single model through a step-0 checkpoint in `checkpoint_dir`, a fleet key by key
// (actors/fleet_training.hpp: keys new to the window start from zero). A retrain that fails (a window
// the trainer refuses) is logged and counted; the step keeps its window and carries on.
//
// Input rows are acknowledged as they are consumed: after a restart the window refills
// from live rows (nothing is replayed into it).
#pragma once

#include "actors/trainer_options.hpp"
#include "compute/model_file.hpp"
#include "step/step.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace conveyor {

class retraining : public step {
public:
  using clock_type = std::chrono::steady_clock;

  retraining(trainer_options options, std::string step_name);

  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume(std::size_t port, batch b, emitter& out) override;
  void consume_model(std::size_t port, model_message m, emitter& out) override;
  bool acknowledge_on_consume() const override { return true; }

  /// Rows in the window now; retrains done (models emitted).
  std::uint64_t window_rows() const noexcept { return rows_; }
  std::uint64_t retrains() const noexcept { return retrains_; }

  /// Tests: the clock the window and `retrain_every` read.
  void set_clock(std::function<clock_type::time_point()> now) { now_ = std::move(now); }

private:
  struct held {
    batch rows;
    clock_type::time_point arrived;
  };

  void trim(clock_type::time_point now);
  void clear(clock_type::time_point now, const char* why);
  bool full(clock_type::time_point now) const;
  void retrain(emitter& out, clock_type::time_point now);
  /// Trains once on the window, single models from the checkpoint at `warm_path` (empty:
  /// afresh), fleets from `warm_fleet` (null: afresh); the emitted model's bytes, or null
  /// when it failed.
  std::shared_ptr<const std::string>
  train_once(emitter& out, const std::string& warm_path,
             std::shared_ptr<const compute::model_artifact> warm_fleet);
  /// previous_ decoded (null, logged, when it cannot be).
  std::shared_ptr<const compute::model_artifact> decode_previous();
  std::string write_warm_start();

  trainer_options options_;
  std::string step_name_;
  step_context* ctx_ = nullptr;
  std::function<clock_type::time_point()> now_ = [] { return clock_type::now(); };
  std::deque<held> window_;
  std::uint64_t rows_ = 0;
  std::shared_ptr<const preprocessing> transform_;
  bool seen_transform_ = false;
  clock_type::time_point cleared_at_{};
  clock_type::time_point last_retrain_{};
  bool started_ = false;
  std::uint64_t rows_since_ = 0;
  bool pending_ = false;
  std::string pending_why_;
  std::shared_ptr<const std::string> previous_; ///< model file bytes: warm start's origin
  std::uint64_t retrains_ = 0, failures_ = 0;
};

} // namespace conveyor
