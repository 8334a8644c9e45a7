#include "compute/feature_distribution.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace conveyor::compute {

namespace {

/// The rows per bin of `v`: v's bin is how many of the ascending `edges` lie below it
/// (v <= edges[i] falls in bin i, as bin_of says), counted one pass per edge without
/// branches (edges are float values, so comparing in float is exact).
void count_bins(const std::vector<float>& v, const std::vector<double>& edges,
                std::vector<std::uint64_t>& counts) {
  thread_local std::vector<std::uint8_t> bins;
  bins.assign(v.size(), 0);
  const std::size_t n = v.size();
  for (double e : edges) {
    const float edge = static_cast<float>(e);
    for (std::size_t r = 0; r < n; ++r)
      bins[r] = static_cast<std::uint8_t>(bins[r] + (v[r] > edge ? 1 : 0));
  }
  counts.assign(edges.size() + 1, 0);
  for (std::size_t r = 0; r < n; ++r)
    ++counts[bins[r]];
}

/// The histograms of the rows `row(0..count)` picks (row-major, columns.size() wide):
/// cut points from the sorted values of at most `edge_sample` of them, counts over at
/// most `sample` (both at even strides).
template <typename RowAt>
feature_distribution describe(const float* x, std::size_t count, RowAt row,
                              const std::vector<std::string>& columns, int bins,
                              std::size_t sample, std::size_t edge_sample) {
  if (bins < 2 || bins > 64)
    throw std::invalid_argument("describe_features: bins must be in 2..64");
  feature_distribution d;
  const std::size_t f = columns.size();
  const std::size_t stride = count > sample && sample > 0 ? (count + sample - 1) / sample : 1;
  std::vector<float> values, cuts;
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
    const std::size_t every = values.size() > edge_sample && edge_sample > 0
                                ? (values.size() + edge_sample - 1) / edge_sample : 1;
    cuts.clear();
    for (std::size_t r = 0; r < values.size(); r += every)
      cuts.push_back(values[r]);
    std::sort(cuts.begin(), cuts.end());
    if (!cuts.empty())
      for (int i = 1; i < bins; ++i) {
        const double cut = cuts[std::min(cuts.size() - 1, cuts.size() * i / bins)];
        if (h.edges.empty() || cut > h.edges.back())
          h.edges.push_back(cut);
      }
    count_bins(values, h.edges, h.counts);
    d.features.push_back(std::move(h));
  }
  return d;
}

} // namespace

feature_distribution describe_features(const float* x, std::size_t rows,
                                       const std::vector<std::string>& columns, int bins,
                                       std::size_t sample) {
  return describe(x, rows, [](std::size_t r) { return r; }, columns, bins, sample, sample);
}

feature_distribution describe_rows(const float* x, const std::uint32_t* rows, std::size_t count,
                                   const std::vector<std::string>& columns, int bins,
                                   std::size_t sample) {
  return describe(x, count, [rows](std::size_t r) { return std::size_t{rows[r]}; }, columns,
                  bins, sample, segment_edge_sample);
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
