// Applies a fitted `preprocessing` to a batch: the one implementation shared by the
// cleaner (training data), the evaluator and serving (raw rows), so that all of them
// transform rows identically. Depends on nothing but the ops and the batch.
#pragma once

#include "data/batch.hpp"
#include "data/preprocessing.hpp"

#include <cmath>

namespace conveyor {

/// Applies `p.ops` in order to `b`, rewriting its schema, float block and
/// categorical columns. Rules:
/// - Elementwise ops (impute, standardize, min_max, scale, clip) work in place on a
///   float column; NaN stays NaN except under impute. Impute on a categorical column
///   replaces missing codes with `categories[0]`.
/// - drop removes a column; dropping a column the batch lacks is a no-op (serving
///   requests need not send columns the cleaner dropped).
/// - one_hot replaces a categorical column, in place, by one numeric column per
///   category named `column=category`; a missing or unseen value gives all zeros.
/// - Any other op naming a column the batch lacks, or an op on a column of the wrong
///   kind, throws std::invalid_argument naming the column.
/// `b.transform` is left as it is (the caller decides what travels with the batch).
void apply_preprocessing(const preprocessing& p, batch& b);

/// One elementwise op (impute, standardize, min_max, scale, clip) with its constants
/// prepared in float: the single definition of the arithmetic that every path applies
/// (apply_elementwise over a column, serving value by value), so that all of them
/// transform a value identically, bit for bit.
struct elementwise_op {
  /// Throws std::invalid_argument for drop and one_hot (not elementwise).
  explicit elementwise_op(const column_op& op);

  column_op::kind kind;
  float p = 0; ///< impute: the value; standardize: mean; min_max, clip: low; scale: factor
  float q = 0; ///< standardize, min_max: 1 / spread; clip: high

  template <column_op::kind K>
  float apply(float x) const noexcept {
    using k = column_op::kind;
    if constexpr (K == k::impute)
      return std::isnan(x) ? p : x;
    else if constexpr (K == k::standardize || K == k::min_max)
      return (x - p) * q;
    else if constexpr (K == k::scale)
      return x * p;
    else if constexpr (K == k::clip) {
      x = x < p ? p : x;
      return x > q ? q : x;
    } else
      return x;
  }

  float operator()(float x) const noexcept {
    using k = column_op::kind;
    switch (kind) {
      case k::impute: return apply<k::impute>(x);
      case k::standardize: return apply<k::standardize>(x);
      case k::min_max: return apply<k::min_max>(x);
      case k::scale: return apply<k::scale>(x);
      case k::clip: return apply<k::clip>(x);
      default: return x;
    }
  }
};

/// The numeric half of apply_preprocessing: one elementwise op on `n` floats of one
/// column, in place, exactly as apply_preprocessing applies it. drop and one_hot throw
/// std::invalid_argument.
void apply_elementwise(const column_op& op, float* x, std::size_t n);

} // namespace conveyor
