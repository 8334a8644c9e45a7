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
//
// Per key: when the served model is a fleet whose file holds each key's own histograms
// (model_fleet::distributions) and the rows carry its `by` column, the step also judges
// every key on its own rows of the window: a key with at least `segment_min_rows` of
// them is compared with its own training histograms (PSI and KS per feature, as above),
// and when any judged key's largest statistic exceeds `threshold` the step asks for a
// retrain as for the whole fleet (the same cooldown), so that a shift in one segment
// that is a small share of all rows is not averaged away. Older fleet files (no per-key
// histograms) and rows without the key column: the whole fleet only, logged once per
// served version.
//
// Rows are preprocessed and binned once, as they arrive (again for the whole window when
// a newer version is served), and the step keeps live histograms: of the whole window,
// and of each key with rows in it, at most `max_segments` keys at a time (a key beyond
// that is counted only in the whole window's until one leaves). Memory: the window's raw
// rows, two bytes per feature and four per row for their bins and keys, and
// features x bins x 4 bytes per tracked key.
#pragma once

#include "compute/model_file.hpp"
#include "serving/registry.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
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
  /// Per key: a key with fewer live rows in the window is not judged.
  std::int64_t segment_min_rows = 500;
  /// Per key: live histograms are kept for at most this many keys at a time.
  std::int64_t max_segments = 10'000;

  static drift_options from(const step_params& params);
};

/// One check's figures.
struct drift_report {
  std::uint64_t version = 0; ///< the served version compared with
  std::uint64_t rows = 0;    ///< live rows compared
  std::map<std::string, compute::drift_figures> per_feature;
  double psi_max = 0, psi_mean = 0, ks_max = 0;
  std::string worst; ///< the feature with the largest chosen statistic

  /// Per key (a fleet with per-key histograms, rows with its key column; else false).
  bool per_segment = false;
  std::size_t segments_judged = 0;  ///< keys with at least segment_min_rows live rows
  std::size_t segments_drifted = 0; ///< judged keys whose chosen statistic passes threshold
  /// The judged key with the largest chosen statistic (empty key: none judged): its
  /// index among the fleet's segments, live rows, largest PSI and KS over the features,
  /// and the feature with the largest chosen statistic.
  std::string worst_segment;
  std::size_t worst_segment_index = 0;
  std::uint64_t worst_segment_rows = 0;
  double worst_segment_psi = 0, worst_segment_ks = 0;
  std::string worst_segment_feature;
};

class drift : public step {
public:
  explicit drift(drift_options options);

  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume(std::size_t port, batch b, emitter& out) override;

  /// Compares the window with the served model now (nullopt: nothing to compare with).
  std::optional<drift_report> check();

private:
  /// A batch of the window, with what binning it against the served model found.
  struct held {
    batch rows; ///< raw, as received
    bool binned = false; ///< counted in the live histograms
    /// rows x features: each cell's bin in the served model's histograms, and in its
    /// key's (per key only); no_bin where missing.
    std::vector<std::uint8_t> bins, key_bins;
    /// per row: the fleet segment whose live histograms count it, or -1 (per key only)
    std::vector<std::int32_t> segment;
  };
  /// A tracked key's live histograms: its rows, every feature's bins one after another.
  struct key_live {
    std::uint64_t rows = 0;
    std::vector<std::uint32_t> counts;
  };
  static constexpr std::uint8_t no_bin = 255;

  bool refresh_served();
  /// Bins `h` against the served model and adds it to the live histograms.
  void bin(held& h);
  /// Takes a binned `h` out of the live histograms.
  void unbin(const held& h);
  /// Empties the live histograms and bins the window again (a newer version served).
  void rebin();
  void clear_window();
  /// Per key: judges the tracked keys into `r`.
  void judge_segments(drift_report& r, std::map<std::string, double>& metrics) const;

  drift_options options_;
  serving::registry registry_;
  step_context* ctx_ = nullptr;
  std::deque<held> window_;
  std::uint64_t rows_ = 0, since_check_ = 0;
  std::uint64_t binned_rows_ = 0;
  std::vector<std::vector<std::uint64_t>> live_; ///< whole window: per feature, per bin
  /// Per key (served fleet with per-key histograms): segment index by key, each
  /// segment's offsets of its features' bins (features + 1), the tracked keys.
  bool per_segment_ = false;
  std::map<std::string, std::uint32_t> segment_of_;
  std::vector<std::vector<std::uint32_t>> segment_offsets_;
  std::map<std::uint32_t, key_live> keys_live_;
  bool said_no_key_column_ = false, said_untracked_ = false, said_unfit_ = false;
  std::uint64_t served_version_ = 0;
  std::shared_ptr<const std::string> served_bytes_;
  std::optional<compute::model_artifact> served_;
  std::uint64_t asked_for_ = 0; ///< the served version a retrain was asked for
  std::chrono::steady_clock::time_point asked_at_{};
};

kind_entry drift_kind();

} // namespace conveyor
