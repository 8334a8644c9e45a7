// What the stream sources (nats_source, zmq_source) share: the schema a graph declares
// for a stream (its messages carry no header), the decoder of one message (a
// MessagePack map, column name -> value) into one row, and the builder that gathers
// decoded rows into a columnar batch like the csv_reader's.
//
// A message decodes when it is exactly one MessagePack map (nothing after it) whose keys
// are strings and which has every declared column once: numbers (integer or float) or
// nil for numeric and label columns, strings or nil for categorical ones; nil is a
// missing cell. Keys the schema does not declare are ignored. Anything else is an error
// that names the field.
#pragma once

#include "data/batch.hpp"
#include "step/kind_registry.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace conveyor {

/// The `columns`, `categorical` and `label` parameters of a stream source.
struct stream_columns {
  std::vector<std::string> columns;
  std::vector<std::string> categorical;
  std::string label;

  /// The parameters that declare them (`columns`, `categorical`, `label`), for a stream
  /// source's schema.
  static std::vector<dsl::param_schema> params();
  /// Reads and validates them; throws step_failure naming `kind` and the parameter.
  static stream_columns from(const step_params& params, const std::string& kind);
  /// The schema of every batch: the columns in order, numeric unless listed as
  /// categorical or named as the label.
  std::shared_ptr<const table_schema> schema() const;
};

/// The longest message a stream source decodes; longer ones are rejected. So are maps
/// or arrays of more entries than max_stream_entries, and values nested deeper than
/// max_stream_depth (in keys the schema ignores).
constexpr std::size_t max_stream_message = 1 << 20;
constexpr std::size_t max_stream_entries = 1 << 16;
constexpr std::size_t max_stream_depth = 8;

class msgpack_row_decoder {
public:
  explicit msgpack_row_decoder(std::shared_ptr<const table_schema> schema);

  /// Decodes one message into the row held here. Returns an empty string on success,
  /// else what is wrong and where ("field 'price': expected a number, got a string").
  /// Never throws on any input.
  std::string decode(const char* data, std::size_t size);

  /// The last decoded row: one value per float column (NaN: missing) and one per
  /// categorical column (`missing` true: missing).
  const std::vector<float>& floats() const { return floats_; }
  struct category {
    std::string value;
    bool missing = true;
  };
  const std::vector<category>& categories() const { return categories_; }
  const std::shared_ptr<const table_schema>& schema() const { return schema_; }

private:
  struct slot {
    bool categorical = false;
    std::size_t index = 0; // float column or categorical column
  };
  std::shared_ptr<const table_schema> schema_;
  std::unordered_map<std::string, slot> slots_;
  std::vector<float> floats_;
  std::vector<category> categories_;
  std::vector<bool> seen_;
};

/// Gathers decoded rows into one batch.
class row_batch_builder {
public:
  explicit row_batch_builder(std::shared_ptr<const table_schema> schema);
  void add(const msgpack_row_decoder& row);
  std::uint32_t rows() const { return static_cast<std::uint32_t>(rows_); }
  /// The batch of the rows added since the last take (possibly none), with the schema;
  /// the caller sets its position and first row.
  batch take();

private:
  std::shared_ptr<const table_schema> schema_;
  std::size_t rows_ = 0;
  /// Row-major while gathering; column-major in the batch.
  std::vector<float> row_floats_;
  std::vector<std::vector<std::int32_t>> codes_;
  std::vector<std::deque<std::string>> dictionaries_;
  std::vector<std::unordered_map<std::string_view, std::int32_t>> index_;
};

/// `bytes` as lowercase hex, for quarantine files (messages are binary).
std::string to_hex(const char* data, std::size_t size);

} // namespace conveyor
