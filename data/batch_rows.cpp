#include "data/batch_rows.hpp"

#include <cmath>

namespace conveyor {

batch select_rows(const batch& b, const std::vector<std::uint32_t>& rows) {
  batch out = empty_like(b);
  const std::size_t n = rows.size();
  out.rows = static_cast<std::uint32_t>(n);
  const std::size_t width = b.rows > 0 ? b.floats.size() / b.rows : 0;
  out.floats.resize(width * n);
  for (std::size_t k = 0; k < width; ++k) {
    const float* src = b.float_column(k);
    float* dst = out.floats.data() + k * n;
    for (std::size_t i = 0; i < n; ++i)
      dst[i] = src[rows[i]];
  }
  for (std::size_t c = 0; c < b.categoricals.size(); ++c) {
    const auto& src = b.categoricals[c];
    auto& dst = out.categoricals[c];
    dst.dictionary = src.dictionary;
    dst.codes.resize(n);
    for (std::size_t i = 0; i < n; ++i)
      dst.codes[i] = src.codes[rows[i]];
  }
  return out;
}

std::vector<std::uint8_t> missing_rows(const batch& b, const std::vector<bool>& consider) {
  std::vector<std::uint8_t> missing(b.rows, 0);
  std::size_t f = 0, c = 0;
  for (std::size_t i = 0; i < b.schema->columns.size(); ++i) {
    bool categorical = b.schema->columns[i].kind == column_kind::categorical;
    bool use = i < consider.size() && consider[i];
    if (categorical) {
      if (use) {
        const auto& codes = b.categoricals[c].codes;
        for (std::size_t r = 0; r < b.rows; ++r)
          missing[r] |= codes[r] < 0;
      }
      ++c;
    } else {
      if (use) {
        const float* x = b.float_column(f);
        for (std::size_t r = 0; r < b.rows; ++r)
          missing[r] |= std::isnan(x[r]);
      }
      ++f;
    }
  }
  return missing;
}

} // namespace conveyor
