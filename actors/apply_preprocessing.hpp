// Applies a fitted `preprocessing` to a batch: the one implementation shared by the
// cleaner (training data), the evaluator and serving (raw rows), so that all of them
// transform rows identically. Depends on nothing but the ops and the batch.
#pragma once

#include "runtime/batch.hpp"
#include "runtime/preprocessing.hpp"

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

/// The numeric half of apply_preprocessing: one elementwise op (impute, standardize,
/// min_max, scale, clip) on `n` floats of one column, in place, exactly as
/// apply_preprocessing applies it. For callers that hold plain float columns (serving).
/// drop and one_hot throw std::invalid_argument.
void apply_elementwise(const column_op& op, float* x, std::size_t n);

} // namespace conveyor
