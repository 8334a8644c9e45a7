// Row selection on columnar batches, shared by the steps that route or filter rows
// (splitter, cleaner's missing-value filter).
#pragma once

#include "data/batch.hpp"

#include <cstdint>
#include <vector>

namespace conveyor {

/// A batch with the same identity, position, schema and transform as `b` holding the
/// rows `rows` (ascending indices into `b`), in that order. Categorical dictionaries
/// are copied whole, codes per selected row. `first_row` stays `b.first_row`.
batch select_rows(const batch& b, const std::vector<std::uint32_t>& rows);

/// One flag per row of `b`: 1 where the row has a missing cell (NaN, or code -1) in
/// a column whose `consider` flag (one per schema column) is set.
std::vector<std::uint8_t> missing_rows(const batch& b, const std::vector<bool>& consider);

} // namespace conveyor
