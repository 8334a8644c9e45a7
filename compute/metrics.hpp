// Model quality metrics as free functions over predictions and labels (host memory).
// Predictions follow model::predict: classifiers give probabilities (binary: one column,
// P(y = 1); multiclass: `classes` columns), regressors give values.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace conveyor::compute {

/// Fraction of rows whose predicted class equals the label. `width` 1: class 1 when
/// p >= 0.5; otherwise the arg-max column (first of equal maxima).
double accuracy(const float* pred, const float* labels, std::size_t rows, int width);
/// Mean negative log-likelihood of the labels; probabilities clipped to [1e-15, 1 - 1e-15].
double log_loss(const float* pred, const float* labels, std::size_t rows, int width);
/// Area under the ROC curve for binary labels (0/1) and scores: the Mann-Whitney
/// statistic with tied scores counted one half. NaN when only one class is present.
double auc(const float* scores, const float* labels, std::size_t n);
/// Over all n values (rows x targets).
double rmse(const float* pred, const float* target, std::size_t n);
double mae(const float* pred, const float* target, std::size_t n);
/// 1 - SS_res / SS_tot; NaN when the targets are constant.
double r2(const float* pred, const float* target, std::size_t n);

/// Metric by its DSL name (accuracy, log_loss, auc, rmse, mae, r2); nullopt for an unknown
/// name. For value metrics `width` is the number of columns per row.
std::optional<double> metric_by_name(std::string_view name, const float* pred,
                                     const float* labels, std::size_t rows, int width);
/// True when larger is better (accuracy, auc, r2), for gates such as `min = 0.85`.
bool higher_is_better(std::string_view name);

} // namespace conveyor::compute
