// An IDX image file and its label file (MNIST / Fashion-MNIST; plain or gzip), loaded
// whole as raw 0..255 float pixels: what a load generator sends as feature rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::bench {

struct idx_dataset {
  std::uint32_t count = 0;  ///< images
  std::uint32_t width = 0;  ///< pixels per image (rows x columns)
  std::vector<float> pixels; ///< count x width, row-major, 0..255
  std::vector<std::uint8_t> labels;

  const float* row(std::uint32_t i) const { return pixels.data() + std::size_t{i} * width; }
};

/// Loads both files; on failure returns nothing and sets `error` (naming the file).
std::optional<idx_dataset> load_idx(const std::string& images, const std::string& labels,
                                    std::string& error);

} // namespace conveyor::bench
