// drift: compares the live distribution of a model's features with the one the served
// model was trained on, and asks for a retrain when they differ too much.
//
// The served model is the newest version of `model` in `registry` (what an inference
// step serving that registry answers with); its file holds the training rows' histogram
// of every feature column (compute/feature_distribution, `feature_distribution` in the
// model file). The step keeps the newest `window_rows` raw rows it receives; after every
// `check_every` new rows it applies the served model's own preprocessing to them (as
// serving does), bins each feature column into that model's bins and computes, per
// feature, the population stability index (PSI) and the binned Kolmogorov-Smirnov
// distance. It reports them as metrics (`psi.COLUMN`, `ks.COLUMN`, and over the
// features `psi_max`, `psi_mean`, `ks_max`), and when the chosen `statistic`'s largest
// value exceeds `threshold` it emits the served model on its `retrain` output (a model
// port, for a trainer's `retrain` input: retrain now, warm-starting from this model) and
// empties its window. It asks again for the same served version only after `cooldown`
// (a retrained model the gate refused leaves the old one served and drifting).
//
// A served model without histograms (a file written before they existed) is not
// compared: the step logs it once per version and waits for a newer one.
#pragma once

#include "compute/model_file.hpp"
#include "serving/registry.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace conveyor {

struct drift_options {
  std::string registry;
  std::string model;
  std::string statistic = "psi"; ///< psi or ks
  double threshold = 0.25;
  std::int64_t window_rows = 2000;
  std::int64_t check_every = 500;
  std::int64_t cooldown_ns = 60'000'000'000;

  static drift_options from(const step_params& params);
};

/// One check's figures.
struct drift_report {
  std::uint64_t version = 0; ///< the served version compared with
  std::uint64_t rows = 0;    ///< live rows compared
  std::map<std::string, compute::drift_figures> per_feature;
  double psi_max = 0, psi_mean = 0, ks_max = 0;
  std::string worst; ///< the feature with the largest chosen statistic
};

class drift : public step {
public:
  explicit drift(drift_options options);

  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume(std::size_t port, batch b, emitter& out) override;

  /// Compares the window with the served model now (nullopt: nothing to compare with).
  std::optional<drift_report> check();

private:
  bool refresh_served();

  drift_options options_;
  serving::registry registry_;
  step_context* ctx_ = nullptr;
  std::deque<batch> window_;
  std::uint64_t rows_ = 0, since_check_ = 0;
  std::uint64_t served_version_ = 0;
  std::shared_ptr<const std::string> served_bytes_;
  std::optional<compute::model_artifact> served_;
  std::uint64_t asked_for_ = 0; ///< the served version a retrain was asked for
  std::chrono::steady_clock::time_point asked_at_{};
};

kind_entry drift_kind();

} // namespace conveyor
