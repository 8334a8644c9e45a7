// cleaner: fits a preprocessing (drop, impute, standardize, min_max, scale, clip,
// one_hot) on the first `fit_rows` rows (all rows when it is 0), then transforms
// every batch with it.
//
// Algorithm: batches are held until `fit_rows` rows have arrived (or the inputs
// end; with `fit_rows` 0, until the inputs end, so memory grows with the input).
// The ops are fitted stage by stage in application order, each stage on the held
// rows as the previous stages left them, and applied to the held rows with
// apply_preprocessing; so held and later batches are transformed identically. The
// fitted preprocessing is saved as durable state: a restarted cleaner reloads it
// and does not refit. Rows with missing values are removed before fitting when
// `missing = "drop"` (a row filter, not an op of the preprocessing).
//
// Refitting on a stream (`refit_every_rows`, `refit_every` or `refit_on_drift`): the
// cleaner also keeps the newest `fit_rows` raw rows (after the missing-value filter) and
// refits the same operations on them when a trigger fires: that many new rows, that much
// time (both checked as rows arrive), or a model on its `refit` input (a drift step's
// request: the window is emptied, since older rows come from another distribution, and
// the refit waits until `fit_rows` new rows have come). Batches after a refit carry the
// new preprocessing; a retraining trainer downstream sees it change and retrains on rows
// transformed by it alone.
#pragma once

#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

struct cleaner_options {
  enum class missing_policy { keep, drop, impute };
  double scale = 1;
  std::vector<std::string> standardize;
  std::vector<std::string> min_max;
  std::vector<double> clip; // empty or [lo, hi]
  std::vector<std::string> one_hot;
  std::vector<std::string> drop;
  missing_policy missing = missing_policy::keep;
  std::uint64_t fit_rows = 100000; // 0: every row of the input
  std::uint64_t refit_every_rows = 0; ///< refit after this many new rows (0: never)
  std::int64_t refit_every_ns = 0;    ///< refit this often (0: never)
  bool refit_on_drift = false;        ///< refit after a model arrives on `refit`

  bool refits() const { return refit_every_rows > 0 || refit_every_ns > 0 || refit_on_drift; }

  /// True when an operation needs statistics of the data (standardize, min_max,
  /// one_hot categories, imputed values). Without one, the first batch (its schema) is
  /// all the fit needs, and batches stream through without being held.
  bool needs_statistics() const;

  /// Reads and validates the graph parameters; throws step_failure.
  static cleaner_options from(const step_params& params);
};

class cleaner : public step {
public:
  explicit cleaner(cleaner_options options);

  /// Loads a preprocessing saved by an earlier instance of this step, if any.
  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;
  /// Fits on what is held if that has not happened yet, and emits the held batches.
  void finish(emitter& out) override;
  /// A drift step's request on `refit`: empty the window, refit once it is full again.
  void consume_model(std::size_t port, model_message m, emitter& out) override;

  /// The fitted preprocessing (null before fitting).
  const std::shared_ptr<const preprocessing>& fitted() const { return fitted_; }

private:
  void filter_missing(batch& b);
  void fit();
  /// Fits the options' operations on `rows` (transforming them stage by stage).
  preprocessing fit_on(std::deque<batch>& rows) const;
  void keep_recent(const batch& b);
  void refit();
  void emit_transformed(batch b, emitter& out, bool already_transformed);

  cleaner_options options_;
  step_context* ctx_ = nullptr;
  std::shared_ptr<const preprocessing> fitted_;
  std::deque<batch> held_;
  std::uint64_t held_rows_ = 0;
  // The output transform for the last upstream transform seen (cached).
  std::shared_ptr<const preprocessing> last_upstream_;
  std::shared_ptr<const preprocessing> combined_;
  // Refitting on a stream: the newest raw rows, and what triggers the next refit.
  std::deque<batch> recent_;
  std::uint64_t recent_rows_ = 0;
  std::uint64_t rows_since_fit_ = 0;
  std::chrono::steady_clock::time_point fitted_at_{};
  bool drift_pending_ = false;
  std::uint64_t refits_ = 0;
};

kind_entry cleaner_kind();

} // namespace conveyor
