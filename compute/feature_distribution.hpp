// What a model was trained on, per feature: a histogram of each feature column (after
// preprocessing: the model's inputs) over the training rows, stored in the model file
// (`feature_distribution`, docs/model-format.md), so that a drift check can compare live
// rows with it. Bins are cut at the training values' quantiles (deciles by default,
// repeated cut points merged), so each bin starts with about the same share of rows;
// bin i holds values v with edges[i-1] < v <= edges[i] (the first from minus infinity,
// the last to plus infinity). Missing (NaN) cells are not counted.
//
// Statistics (compare): the population stability index, PSI = sum over bins of
// (live - ref) * ln(live / ref), shares smoothed by 1e-4 so an empty bin stays finite;
// and the Kolmogorov-Smirnov distance on the bins (the largest gap between the two
// cumulative shares at the cut points: a lower bound on the exact KS statistic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace conveyor::compute {

struct feature_histogram {
  std::string column;
  std::vector<double> edges;          ///< ascending cut points, distinct
  std::vector<std::uint64_t> counts;  ///< edges.size() + 1 bins

  friend bool operator==(const feature_histogram& a, const feature_histogram& b) {
    return a.column == b.column && a.edges == b.edges && a.counts == b.counts;
  }
};

struct feature_distribution {
  std::uint64_t rows = 0; ///< training rows described (the sample)
  std::vector<feature_histogram> features;

  friend bool operator==(const feature_distribution& a, const feature_distribution& b) {
    return a.rows == b.rows && a.features == b.features;
  }
};

/// The histograms of `columns.size()` feature columns of `x` (row-major, rows x columns),
/// with at most `bins` bins each (2..64), over a sample of at most `sample` rows taken at
/// even strides (cut points and counts alike: a few thousand rows fix shares to about a
/// percent, and a wide model's emit stays cheap).
feature_distribution describe_features(const float* x, std::size_t rows,
                                       const std::vector<std::string>& columns, int bins = 10,
                                       std::size_t sample = 4096);

/// describe_features over the rows `rows[0..count)` of `x` (row-major, columns.size()
/// wide) only: one segment's rows of a fleet. The sample of at most `sample` rows is
/// taken at even strides through the list; the cut points come from at most 128 of them
/// (every bin holds about a tenth of the rows, give or take a few percent, and the counts
/// over the whole sample say exactly how many): sorting is most of the cost, and a fleet
/// describes a thousand keys.
constexpr std::size_t segment_edge_sample = 128;
feature_distribution describe_rows(const float* x, const std::uint32_t* rows, std::size_t count,
                                   const std::vector<std::string>& columns, int bins = 10,
                                   std::size_t sample = 4096);

/// Which bin of `h` holds `v` (NaN: none, returns SIZE_MAX).
std::size_t bin_of(const feature_histogram& h, double v);

struct drift_figures {
  double psi = 0;
  double ks = 0;
};

/// PSI and binned KS of `live` counts against `reference` counts (same bins). Either side
/// without counts gives zeros.
drift_figures compare_counts(const std::vector<std::uint64_t>& reference,
                             const std::vector<std::uint64_t>& live);

} // namespace conveyor::compute
