// idx_reader: a replayable source that streams an IDX image file and its IDX label
// file (the MNIST / Fashion-MNIST format, plain or gzip) as batches with one numeric
// column per pixel (px0 .. px{rows*cols-1}, raw 0..255) and a `label` column.
// Only one batch of images is in memory at a time. While the run drains, a reader
// waiting on a slow input (a FIFO) ends its stream early, at a batch boundary.
//
// Position after a batch: row = images emitted so far; byte_offset = offset of the
// next image in the uncompressed image stream; line = 0 (unused).
#pragma once

#include "actors/gz_file.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

struct idx_reader_options {
  std::string images;
  std::string labels;
  std::uint32_t batch_rows = 256;
  std::uint64_t limit = 0;

  static idx_reader_options from(const step_params& params);
};

class idx_reader : public step {
public:
  explicit idx_reader(idx_reader_options options);

  /// Opens both files and validates their headers (magic numbers, dimensions, equal
  /// item counts); throws step_failure naming the file and what was expected.
  void open(step_context& ctx) override;
  bool is_source() const override { return true; }
  void resume(const source_position& after) override;
  /// Throws step_failure if a file ends before its header said it would.
  bool produce(emitter& out) override;

  std::uint64_t items() const { return items_; }
  const std::shared_ptr<const table_schema>& schema() const { return schema_; }

private:
  /// True (and logged once) once a file stopped reading because the run drains.
  bool stop_seen();

  idx_reader_options options_;
  step_context* ctx_ = nullptr;
  gz_file images_;
  gz_file labels_;
  std::uint64_t items_ = 0;
  std::uint32_t pixels_ = 0;
  std::uint32_t image_rows_ = 0;
  std::uint32_t image_cols_ = 0;
  std::uint64_t next_row_ = 0;
  std::uint64_t end_row_ = 0;
  bool stopped_ = false;
  std::shared_ptr<const table_schema> schema_;
  std::vector<unsigned char> image_buffer_;
  std::vector<unsigned char> label_buffer_;
};

kind_entry idx_reader_kind();

} // namespace conveyor
