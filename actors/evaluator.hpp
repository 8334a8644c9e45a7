// evaluator: scores models on raw evaluation data and forwards those that pass a gate.
//
// Models arrive on `model`, raw rows (straight from a reader) on `data`. The data is
// cached in memory (acknowledged once the step ends its stream: replayed from the source
// after a restart); models are held until the data has ended. Each model is then
// evaluated exactly as serving will use it: its artifact's preprocessing is applied to
// the raw rows with apply_preprocessing, its feature columns are picked by name, and
// `metric` is computed on its predictions. The metric appears in the run report; a model
// inside [min, max] is forwarded on `out` with the metric added to its metrics, any
// other is logged with the reason and dropped. A model that cannot be decoded or does
// not fit the data is logged and skipped; it never stops the step.
//
// A fleet (a model file with one model per key) is evaluated row by row with the model of
// the row's key (the raw data's categorical column `by`; a key the fleet does not know
// gets the shared model, or is left out and counted when the fleet answers unknown keys
// with an error). `metric` is then the row-weighted figure over all rows (for accuracy:
// the share of rows right), computed alongside each segment's own; the gate takes both:
// the aggregate inside [min, max] and every segment inside [segment_min, segment_max].
// The `worst` worst segments are logged by name, and each segment's figure is written
// into the fleet's per-segment metrics.
//
// Streams (`window_rows` > 0): the data is a window of the newest rows (acknowledged as
// consumed), and a model is evaluated as soon as it arrives once the window is full.
// `against_served`: the served model (the last one this step forwarded; before that, the
// newest version of the model's name in `registry`) is scored on the same rows, and a
// model worse than it (by more than `margin`) is held back; both figures are reported.
#pragma once

#include "compute/model_file.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

struct evaluator_options {
  std::string metric = "accuracy";
  double min = -1e300;
  double max = 1e300;
  double segment_min = -1e300; ///< fleets: every segment's metric at least this
  double segment_max = 1e300;
  std::int64_t worst = 5;      ///< fleets: how many of the worst segments to name
  std::int64_t window_rows = 0; ///< streams: the newest rows evaluated on (0: all, at the end)
  bool against_served = false;  ///< forward only models not worse than the served one
  std::string registry;         ///< against_served: the served model until one is forwarded
  double margin = 0;            ///< against_served: how much worse a model may be

  static evaluator_options from(const step_params& params);
};

class evaluator : public step {
public:
  explicit evaluator(evaluator_options options);

  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume(std::size_t port, batch b, emitter& out) override;
  void consume_model(std::size_t port, model_message m, emitter& out) override;
  void finish(emitter& out) override;
  /// Evaluates the held models, one per call.
  bool produce(emitter& out) override;
  bool acknowledge_on_consume() const override { return options_.window_rows > 0; }

  /// Evaluates one model on the cached data; returns the metric (nullopt: skipped).
  std::optional<double> evaluate(const model_message& m, emitter& out);

private:
  void load_served(const std::string& name);

  evaluator_options options_;
  step_context* ctx_ = nullptr;
  std::map<std::pair<std::string, std::uint64_t>, batch> data_;
  std::deque<model_message> held_;
  bool data_done_ = false;
  // Windows: batches in arrival order, and their rows.
  std::deque<std::pair<std::string, std::uint64_t>> arrival_;
  std::uint64_t window_rows_ = 0;
  // against_served: the model serving answers with (the last one forwarded, else the
  // registry's newest), and how the log names it.
  std::optional<compute::model_artifact> served_;
  std::string served_label_;
};

kind_entry evaluator_kind();

} // namespace conveyor
