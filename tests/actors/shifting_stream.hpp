// A stream of labelled rows whose rule shifts: rows of keys "k0".."k{keys-1}" with two
// features; before the shift, key k labels a row 1 when x0 * c_k + x1 * s_k > 0 and the
// features are N(0, 1); after it, the rule's sign flips and x0 moves to N(shift, 1) (a
// change a drift check sees in the features and an evaluator in the accuracy).
#pragma once

#include "tests/data/batch_helpers.hpp"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace conveyor::test {

struct shifting_stream {
  int keys = 4;
  double shift = 2.0;
  std::mt19937_64 gen{7};
  std::uint64_t sequence = 0;
  std::uint64_t row = 0;

  /// One batch of `rows` rows, before (`shifted` false) or after the shift.
  batch next(std::uint32_t rows, bool shifted, bool with_key = true) {
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> x0, x1, y;
    std::vector<std::string> key;
    for (std::uint32_t r = 0; r < rows; ++r) {
      const int k = static_cast<int>(gen() % static_cast<std::uint64_t>(keys));
      const float a = normal(gen) + (shifted ? static_cast<float>(shift) : 0.0f);
      const float b = normal(gen);
      const double angle = 0.7 + k * 6.283 / keys;
      const double score = (a - (shifted ? shift : 0.0)) * std::cos(angle) + b * std::sin(angle);
      y.push_back((score > 0) != shifted ? 1.0f : 0.0f);
      x0.push_back(a);
      x1.push_back(b);
      key.push_back("k" + std::to_string(k));
    }
    auto b = with_key ? make_batch({{"x0", x0}, {"x1", x1}, {"y", y}}, {{"key", key}}, "y")
                      : make_batch({{"x0", x0}, {"x1", x1}, {"y", y}}, {}, "y");
    b.source = "stream";
    b.sequence = ++sequence;
    b.first_row = row;
    row += rows;
    return b;
  }
};

} // namespace conveyor::test
