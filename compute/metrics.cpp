#include "compute/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace conveyor::compute {

namespace {
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

int predicted_class(const float* row, int width) {
  if (width == 1) return row[0] >= 0.5f ? 1 : 0;
  return static_cast<int>(std::max_element(row, row + width) - row);
}
} // namespace

double accuracy(const float* pred, const float* labels, std::size_t rows, int width) {
  if (rows == 0) return nan;
  std::size_t hits = 0;
  for (std::size_t r = 0; r < rows; ++r)
    hits += predicted_class(pred + r * width, width) == static_cast<int>(labels[r]);
  return static_cast<double>(hits) / rows;
}

double log_loss(const float* pred, const float* labels, std::size_t rows, int width) {
  if (rows == 0) return nan;
  constexpr double lo = 1e-15, hi = 1 - 1e-15;
  double total = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    double p;
    if (width == 1)
      p = labels[r] >= 0.5f ? pred[r] : 1.0 - pred[r];
    else {
      const int k = static_cast<int>(labels[r]);
      p = (k >= 0 && k < width) ? pred[r * width + k] : 0.0;
    }
    total -= std::log(std::clamp(p, lo, hi));
  }
  return total / rows;
}

double auc(const float* scores, const float* labels, std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // NaN scores rank lowest (a total order, so sorting and tie grouping stay well-defined).
  auto key = [&](std::size_t i) {
    return std::isnan(scores[i]) ? -std::numeric_limits<float>::infinity() : scores[i];
  };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  // Sum of the positives' ranks, tied groups sharing their average rank.
  double rank_sum = 0, positives = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && key(order[j]) == key(order[i])) ++j;
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k)
      if (labels[order[k]] >= 0.5f) {
        rank_sum += avg_rank;
        positives += 1;
      }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return nan;
  return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

double rmse(const float* pred, const float* target, std::size_t n) {
  if (n == 0) return nan;
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - target[i];
    s += d * d;
  }
  return std::sqrt(s / n);
}

double mae(const float* pred, const float* target, std::size_t n) {
  if (n == 0) return nan;
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(pred[i]) - target[i]);
  return s / n;
}

double r2(const float* pred, const float* target, std::size_t n) {
  if (n == 0) return nan;
  double mean = 0;
  for (std::size_t i = 0; i < n; ++i) mean += target[i];
  mean /= n;
  double res = 0, tot = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - target[i];
    const double t = static_cast<double>(target[i]) - mean;
    res += d * d;
    tot += t * t;
  }
  return tot == 0 ? nan : 1.0 - res / tot;
}

std::optional<double> metric_by_name(std::string_view name, const float* pred,
                                     const float* labels, std::size_t rows, int width) {
  const std::size_t n = rows * static_cast<std::size_t>(width);
  if (name == "accuracy") return accuracy(pred, labels, rows, width);
  if (name == "log_loss") return log_loss(pred, labels, rows, width);
  if (name == "auc") return width == 1 ? auc(pred, labels, rows) : nan;
  if (name == "rmse") return rmse(pred, labels, n);
  if (name == "mae") return mae(pred, labels, n);
  if (name == "r2") return r2(pred, labels, n);
  return std::nullopt;
}

bool higher_is_better(std::string_view name) {
  return name == "accuracy" || name == "auc" || name == "r2";
}

} // namespace conveyor::compute
