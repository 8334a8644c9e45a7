// csv_reader: a replayable source that reads a CSV file (plain or gzip) into typed,
// columnar batches. Fields are parsed in place from large chunks (no allocation per
// field); numbers go through std::from_chars. Malformed rows are counted, logged or
// quarantined, and skipped; they never fail the step. A record longer than
// `max_record` bytes is one of them: it is skipped in linear time without being held.
// The quarantine file is part of the output: a write error on it fails the step.
// While the run drains (`step_context::stop_requested`), a reader waiting on a slow
// input (a FIFO) ends its stream early, after the last complete record.
//
// Position after a batch: byte_offset = offset of the next unread byte in the
// uncompressed stream (always the start of a record), line = 1-based file line on
// which that record starts, row = data rows emitted so far (rejected rows excluded),
// which is also the next batch's `first_row`.
#pragma once

#include "actors/csv_tokenizer.hpp"
#include "actors/gz_file.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

struct csv_reader_options {
  std::string path;
  char delimiter = ',';
  bool header = true;
  std::string label;
  std::vector<std::string> categorical;
  std::vector<std::string> drop;
  std::uint32_t batch_rows = 4096;
  std::string quarantine;
  std::uint64_t limit = 0;
  /// Records longer than this (bytes, without the line end) are rejected.
  std::size_t max_record = default_max_record;
  /// Read size; not a graph parameter (tests make it tiny).
  std::size_t chunk_bytes = 1 << 20;

  /// Reads and validates the graph parameters (see docs/kinds.md).
  static csv_reader_options from(const step_params& params);
};

class csv_reader : public step {
public:
  explicit csv_reader(csv_reader_options options);
  ~csv_reader() override;

  /// Opens the file and the quarantine file, reads the header (or peeks at the first
  /// record to count columns) and fixes the schema. Throws step_failure for an
  /// unreadable file, an empty file that should have a header, a header longer than
  /// max_record or naming a column twice, a configured column that the header lacks,
  /// or a quarantine file that cannot be written.
  void open(step_context& ctx) override;
  bool is_source() const override { return true; }
  void resume(const source_position& after) override;
  bool produce(emitter& out) override;

  /// The schema of every batch (after open).
  const std::shared_ptr<const table_schema>& schema() const { return schema_; }

private:
  enum class role : std::uint8_t { skip, number, category };
  struct column_slot {
    role r = role::skip;
    std::uint32_t index = 0; // float column or categorical column index
    std::string name;
  };

  void reject(std::uint64_t line, const std::string& reason, std::string_view raw);
  bool parse_row(std::uint64_t line);
  /// Column names from the header row, or c0, c1, ... counted from the first record.
  std::vector<std::string> read_column_names();
  void open_quarantine(step_context& ctx);
  /// Throws step_failure naming the quarantine file if a write to it failed.
  void check_quarantine(bool ok);
  void close_quarantine();
  void log_end(std::uint64_t rows);

  csv_reader_options options_;
  step_context* ctx_ = nullptr;
  gz_file file_;
  std::unique_ptr<csv_tokenizer> tokenizer_;
  std::FILE* quarantine_ = nullptr;
  std::shared_ptr<const table_schema> schema_;
  std::vector<column_slot> slots_; // one per field of the file
  std::size_t float_width_ = 0;
  std::size_t categorical_width_ = 0;
  std::vector<csv_field> fields_;
  std::vector<float> row_floats_;
  std::uint64_t rows_emitted_ = 0;
  std::uint64_t rejected_ = 0;
  bool done_ = false;
};

/// The `csv_reader` kind: schema and factory.
kind_entry csv_reader_kind();

} // namespace conveyor
