// Raw request rows -> a model's inputs, exactly as training prepared them: the model's
// fitted preprocessing, compiled once per model into one chain of elementwise ops per
// feature (elementwise_op: the arithmetic the cleaner and evaluator use), applied in one
// row-major pass, so that serving a row costs no name lookups and no allocation.
#pragma once

#include "data/apply_preprocessing.hpp"
#include "compute/model_file.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::serving {

/// True when none of the `n` values is a NaN or an infinity (one pass, no branches: the
/// cheap test that spares almost every batch the search of find_unusable).
bool all_finite(const float* values, std::size_t n) noexcept;

class feature_builder {
public:
  /// Compiles `a`'s preprocessing against its input and feature columns. Throws
  /// std::invalid_argument naming the column when the model cannot be served over
  /// protocol v1 (which carries numbers only): a one-hot or categorical input, or a
  /// feature that its preprocessing does not produce.
  explicit feature_builder(const compute::model_artifact& a);

  /// Values per raw row in a request (the model's input columns).
  std::uint32_t input_width() const noexcept { return input_width_; }
  /// Values per row the model consumes.
  std::uint32_t feature_width() const noexcept {
    return static_cast<std::uint32_t>(features_.size());
  }

  /// `raw`: rows x input_width, row-major. Writes rows x feature_width, row-major, into
  /// `out` (resized). Thread-safe (const).
  void build(const float* raw, std::uint32_t rows, std::vector<float>& out) const;
  /// The same into `out`, which holds rows x feature_width floats.
  void build(const float* raw, std::uint32_t rows, float* out) const;

  /// The first value of `raw` (rows x input_width) the model cannot compute with, given
  /// the features `build` made of it (rows x feature_width), as "row R, column C ('name'):
  /// why" (R and C from 0); nothing when every row is usable. Unusable: an infinity; a
  /// NaN (a missing value) that the model's preprocessing does not impute; a number that
  /// the preprocessing turns into an infinity. Columns the model does not use (dropped)
  /// are not looked at. Thread-safe (const).
  std::optional<std::string> find_unusable(const float* raw, const float* features,
                                           std::uint32_t rows) const;

private:
  struct feature {
    std::uint32_t source = 0;               ///< input column index
    std::vector<elementwise_op> ops;        ///< applied in order
  };
  template <column_op::kind K>
  void build_single(const float* raw, std::uint32_t rows, float* out) const;

  std::string column_text(std::uint32_t column) const;
  /// Some row of `raw` holds an infinity in a clipped column (which its features hide).
  bool clipped_infinity(const float* raw, std::uint32_t rows) const;

  std::uint32_t input_width_ = 0;
  std::vector<std::string> names_;           ///< input column names (empty: unnamed)
  std::vector<bool> used_;                   ///< per input column: some feature reads it
  std::vector<std::uint32_t> clipped_;       ///< input columns some feature clips
  std::vector<feature> features_;
  bool identity_ = true;                     ///< no ops, features == inputs in order
  /// The common case (a cleaner that scaled or standardized every column): every
  /// feature has exactly one op, all of one kind. Then `sources_` and `single_` hold
  /// them flat, and one loop specialised for that kind builds the rows; when the
  /// features are the inputs in order (`in_order_`), that loop reads the ops' parameters
  /// as arrays (`params_p_`, `params_q_`) and the compiler vectorizes it.
  std::optional<column_op::kind> single_kind_;
  std::vector<std::uint32_t> sources_;
  std::vector<elementwise_op> single_;
  bool in_order_ = false;
  std::vector<float> params_p_, params_q_;
};

} // namespace conveyor::serving
