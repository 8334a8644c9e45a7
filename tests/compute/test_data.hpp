// Small seeded data sets for the compute tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace conveyor::compute::test {

inline std::vector<float> random_floats(std::size_t n, std::uint64_t seed, float lo = -1, float hi = 1) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

inline std::vector<float> random_labels(std::size_t n, int classes, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(gen() % static_cast<std::uint64_t>(classes));
  return v;
}

} // namespace conveyor::compute::test
