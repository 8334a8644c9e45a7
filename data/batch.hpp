// A batch: a block of rows that travels on an edge, plus the identity and position
// that delivery needs. Columnar: numeric and label columns share one column-major
// float block (one allocation per batch, each column contiguous); categorical
// columns are dictionary-encoded per batch. No CAF here (see messages.hpp for the
// wire form).
#pragma once

#include "data/float_block.hpp"
#include "data/preprocessing.hpp"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

enum class column_kind : std::uint8_t {
  numeric,     ///< float32; NaN marks a missing cell
  categorical, ///< strings, dictionary-encoded per batch; code -1 marks a missing cell
  label,       ///< float32 target (class index or regression value); NaN: missing
};

std::string to_string(column_kind k);

struct column_spec {
  std::string name;
  column_kind kind = column_kind::numeric;
  friend bool operator==(const column_spec& a, const column_spec& b) {
    return a.name == b.name && a.kind == b.kind;
  }
};

/// Column names and kinds, in the order the source declares them.
struct table_schema {
  std::vector<column_spec> columns;

  /// Number of numeric + label columns (the width of the float block).
  std::size_t float_width() const;
  std::size_t categorical_width() const;
  /// Index of `name` in `columns`, or -1.
  int find(const std::string& name) const;
  friend bool operator==(const table_schema& a, const table_schema& b) {
    return a.columns == b.columns;
  }
};

struct categorical_column {
  /// Distinct values of this column within the batch.
  std::vector<std::string> dictionary;
  /// One per row: index into `dictionary`, or -1 for a missing cell.
  std::vector<std::int32_t> codes;
};

/// Where a replayable source stands after a batch, so that a restarted source can
/// resume right after it. Meaning is the source's own (file offset, line, row).
struct source_position {
  std::uint64_t byte_offset = 0;
  std::uint64_t line = 0;
  std::uint64_t row = 0;
  friend bool operator==(const source_position& a, const source_position& b) {
    return a.byte_offset == b.byte_offset && a.line == b.line && a.row == b.row;
  }
};

struct batch {
  /// Identity for at-least-once delivery: the source step that produced the rows and
  /// the batch's sequence number there (1, 2, ...). Steps that transform a batch keep
  /// both; the runtime stamps them on a source's output.
  std::string source;
  std::uint64_t sequence = 0;
  /// The source's position after this batch (for resuming).
  source_position position;
  /// Source row number (0-based) of the first row, for messages that name a row.
  std::uint64_t first_row = 0;

  std::uint32_t rows = 0;
  std::shared_ptr<const table_schema> schema;
  /// Column-major: the k-th numeric-or-label column (k counts only those, in schema
  /// order) holds rows [k*rows, (k+1)*rows). A batch received from another node uses
  /// the received message's memory (see float_block).
  float_block floats;
  /// The categorical columns, in schema order.
  std::vector<categorical_column> categoricals;
  /// The preprocessing fitted upstream (null where no cleaner ran). A trainer stores
  /// it in the model so that serving applies the same transform to raw inputs.
  std::shared_ptr<const preprocessing> transform;

  /// Pointer to the `k`-th float column (k as in `floats`).
  float* float_column(std::size_t k) { return floats.data() + k * rows; }
  const float* float_column(std::size_t k) const { return floats.data() + k * rows; }

  /// Bytes of row data, for metrics (floats and codes; dictionaries approximated).
  std::size_t payload_bytes() const;
};

/// Makes an empty batch with the same identity, position and schema as `b` (for
/// steps that must emit one batch per input even when no rows remain).
batch empty_like(const batch& b);

} // namespace conveyor
