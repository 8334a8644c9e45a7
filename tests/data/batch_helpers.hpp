// Batches for tests: built by hand, read by column name and row, compared as text;
// printers so that Boost.Test can show data values in failed checks.
#pragma once

#include "data/batch.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

// Printers so that Boost.Test can show the values in failed checks.
inline std::ostream& operator<<(std::ostream& os, column_kind k) { return os << to_string(k); }
inline std::ostream& operator<<(std::ostream& os, const column_spec& c) {
  return os << c.name << ":" << to_string(c.kind);
}
inline std::ostream& operator<<(std::ostream& os, const table_schema& s) {
  os << "[";
  for (const auto& c : s.columns)
    os << c << " ";
  return os << "]";
}
inline std::ostream& operator<<(std::ostream& os, const source_position& p) {
  return os << "{byte " << p.byte_offset << ", line " << p.line << ", row " << p.row << "}";
}
inline std::ostream& operator<<(std::ostream& os, const preprocessing& p) {
  os << "[";
  for (const auto& op : p.ops)
    os << static_cast<int>(op.op) << ":" << op.column << "(" << op.a << "," << op.b << ") ";
  return os << "]";
}

} // namespace conveyor


namespace conveyor::test {


/// A float cell by column name and row (numeric or label column).
inline float cell(const batch& b, const std::string& column, std::size_t row) {
  std::size_t k = 0;
  for (const auto& c : b.schema->columns) {
    if (c.name == column)
      return b.float_column(k)[row];
    if (c.kind != column_kind::categorical)
      ++k;
  }
  throw std::out_of_range("no float column " + column);
}

/// A categorical cell by column name and row; nullopt where missing.
inline std::optional<std::string> category(const batch& b, const std::string& column,
                                           std::size_t row) {
  std::size_t k = 0;
  for (const auto& c : b.schema->columns) {
    if (c.name == column) {
      auto code = b.categoricals[k].codes[row];
      if (code < 0)
        return std::nullopt;
      return b.categoricals[k].dictionary[static_cast<std::size_t>(code)];
    }
    if (c.kind == column_kind::categorical)
      ++k;
  }
  throw std::out_of_range("no categorical column " + column);
}

/// All rows of `batches` as strings ("1.5|x|" per row), for whole-table comparisons.
inline std::vector<std::string> rows_as_text(const std::vector<batch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (std::size_t r = 0; r < b.rows; ++r) {
      std::string row;
      for (const auto& c : b.schema->columns) {
        if (c.kind == column_kind::categorical) {
          auto v = category(b, c.name, r);
          row += v ? *v : "<NA>";
        } else {
          float v = cell(b, c.name, r);
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
          row += buf;
        }
        row += '|';
      }
      out.push_back(row);
    }
  }
  return out;
}

/// A batch built by hand: numeric columns (name -> values), categorical columns.
inline batch make_batch(const std::vector<std::pair<std::string, std::vector<float>>>& numeric,
                        const std::vector<std::pair<std::string, std::vector<std::string>>>&
                          categorical = {},
                        const std::string& label = "") {
  batch b;
  auto schema = std::make_shared<table_schema>();
  std::size_t rows = !numeric.empty() ? numeric[0].second.size()
                                      : (!categorical.empty() ? categorical[0].second.size() : 0);
  b.rows = static_cast<std::uint32_t>(rows);
  for (const auto& [name, values] : numeric) {
    schema->columns.push_back({name, name == label ? column_kind::label : column_kind::numeric});
    b.floats.insert(b.floats.end(), values.begin(), values.end());
  }
  for (const auto& [name, values] : categorical) {
    schema->columns.push_back({name, column_kind::categorical});
    categorical_column col;
    for (const auto& v : values) {
      if (v == "<NA>") {
        col.codes.push_back(-1);
        continue;
      }
      auto it = std::find(col.dictionary.begin(), col.dictionary.end(), v);
      if (it == col.dictionary.end()) {
        col.dictionary.push_back(v);
        it = col.dictionary.end() - 1;
      }
      col.codes.push_back(static_cast<std::int32_t>(it - col.dictionary.begin()));
    }
    b.categoricals.push_back(std::move(col));
  }
  b.schema = std::move(schema);
  return b;
}

} // namespace conveyor::test
