// generate: a source that makes its batches in memory (numeric columns of a fixed
// pattern, no I/O), so that a graph measures what moves batches, not what reads them
// (bench/cluster). Replayable: a position is the row after the batch.
#pragma once

#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace conveyor {

struct generate_options {
  std::uint64_t rows = 0;
  std::uint32_t columns = 16;
  std::uint32_t batch_rows = 1024;

  static generate_options from(const step_params& params);
};

class generate : public step {
public:
  explicit generate(generate_options options) : options_(options) {}
  void open(step_context& ctx) override;
  bool is_source() const override { return true; }
  void resume(const source_position& after) override;
  bool produce(emitter& out) override;

private:
  generate_options options_;
  std::shared_ptr<const table_schema> schema_;
  /// One full batch's column-major block, copied into every batch.
  std::vector<float> block_;
  std::uint64_t next_row_ = 0;
};

kind_entry generate_kind();

} // namespace conveyor
