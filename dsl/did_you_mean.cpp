// Did-you-mean: edit distance (with neighbour swaps) over a three-row table, skipping candidates whose length
// alone rules them out; bounded by limits::max_hint_candidates and max_hint_length.
#include "dsl/did_you_mean.hpp"

#include "dsl/limits.hpp"

#include <algorithm>
#include <cstdlib>

namespace conveyor::dsl {

namespace {

/// Optimal string alignment distance: edits plus swaps of two neighbours ("cuont").
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> before(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], before[j - 2] + 1);
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

} // namespace

std::string closest_name(std::string_view name, const std::vector<std::string>& candidates) {
  if (name.empty() || name.size() > limits::max_hint_length) return {};
  std::size_t limit = std::min<std::size_t>(3, std::max<std::size_t>(1, name.size() / 3));
  std::size_t best = limit + 1;
  std::string best_name;
  std::size_t seen = 0;
  for (const auto& c : candidates) {
    if (++seen > limits::max_hint_candidates) break;
    if (c == name || c.size() > limits::max_hint_length) continue;
    std::size_t diff = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (diff >= best) continue;
    std::size_t d = distance(name, c);
    if (d < best) {
      best = d;
      best_name = c;
    }
  }
  return best_name;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  auto c = closest_name(name, candidates);
  return c.empty() ? std::string{} : "did you mean '" + c + "'?";
}

} // namespace conveyor::dsl
