#include "compute/feature_distribution.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace conveyor::compute {

namespace {

/// The histograms of the rows `row(0..count)` picks (row-major, columns.size() wide).
/// The cut points come from nth_element at the quantile positions in turn (each on what
/// is right of the previous one): the values a full sort would put there, at a fraction
/// of its cost, which matters for a fleet's thousand segments.
template <typename RowAt>
feature_distribution describe(const float* x, std::size_t count, RowAt row,
                              const std::vector<std::string>& columns, int bins,
                              std::size_t sample) {
  if (bins < 2 || bins > 64)
    throw std::invalid_argument("describe_features: bins must be in 2..64");
  feature_distribution d;
  const std::size_t f = columns.size();
  const std::size_t stride = count > sample && sample > 0 ? (count + sample - 1) / sample : 1;
  std::vector<float> values;
  d.rows = (count + stride - 1) / stride;
  for (std::size_t j = 0; j < f; ++j) {
    feature_histogram h;
    h.column = columns[j];
    values.clear();
    for (std::size_t r = 0; r < count; r += stride) {
      const float v = x[row(r) * f + j];
      if (!std::isnan(v))
        values.push_back(v);
    }
    if (!values.empty()) {
      auto from = values.begin();
      for (int i = 1; i < bins; ++i) {
        const auto at = values.begin() + static_cast<std::ptrdiff_t>(
                                           std::min(values.size() - 1, values.size() * i / bins));
        if (at >= from) {
          std::nth_element(from, at, values.end());
          from = at;
        }
        const double cut = *at;
        if (h.edges.empty() || cut > h.edges.back())
          h.edges.push_back(cut);
      }
    }
    h.counts.assign(h.edges.size() + 1, 0);
    for (float v : values)
      ++h.counts[bin_of(h, v)];
    d.features.push_back(std::move(h));
  }
  return d;
}

} // namespace

feature_distribution describe_features(const float* x, std::size_t rows,
                                       const std::vector<std::string>& columns, int bins,
                                       std::size_t sample) {
  return describe(x, rows, [](std::size_t r) { return r; }, columns, bins, sample);
}

feature_distribution describe_rows(const float* x, const std::uint32_t* rows, std::size_t count,
                                   const std::vector<std::string>& columns, int bins,
                                   std::size_t sample) {
  return describe(x, count, [rows](std::size_t r) { return std::size_t{rows[r]}; }, columns,
                  bins, sample);
}

std::size_t bin_of(const feature_histogram& h, double v) {
  if (std::isnan(v))
    return SIZE_MAX;
  return static_cast<std::size_t>(std::lower_bound(h.edges.begin(), h.edges.end(), v) -
                                  h.edges.begin());
}

drift_figures compare_counts(const std::vector<std::uint64_t>& reference,
                             const std::vector<std::uint64_t>& live) {
  drift_figures d;
  double rt = 0, lt = 0;
  for (auto c : reference)
    rt += static_cast<double>(c);
  for (auto c : live)
    lt += static_cast<double>(c);
  if (rt <= 0 || lt <= 0 || reference.size() != live.size())
    return d;
  constexpr double smooth = 1e-4;
  double rc = 0, lc = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const double r = std::max(static_cast<double>(reference[i]) / rt, smooth);
    const double l = std::max(static_cast<double>(live[i]) / lt, smooth);
    d.psi += (l - r) * std::log(l / r);
    rc += static_cast<double>(reference[i]) / rt;
    lc += static_cast<double>(live[i]) / lt;
    d.ks = std::max(d.ks, std::abs(rc - lc));
  }
  return d;
}

} // namespace conveyor::compute
