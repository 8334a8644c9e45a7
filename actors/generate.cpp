#include "actors/generate.hpp"

#include "actors/kind_schema_builder.hpp"

#include <algorithm>
#include <string>

namespace conveyor {

generate_options generate_options::from(const step_params& params) {
  auto rows = params.get_integer("rows");
  auto columns = params.get_integer("columns");
  auto batch_rows = params.get_integer("batch");
  if (rows < 0)
    throw step_failure("generate: parameter 'rows' must be >= 0");
  if (columns < 1 || columns > 100000)
    throw step_failure("generate: parameter 'columns' must be between 1 and 100000");
  if (batch_rows < 1 || batch_rows > 10000000)
    throw step_failure("generate: parameter 'batch' must be between 1 and 10000000");
  return generate_options{static_cast<std::uint64_t>(rows), static_cast<std::uint32_t>(columns),
                          static_cast<std::uint32_t>(batch_rows)};
}

void generate::open(step_context&) {
  auto schema = std::make_shared<table_schema>();
  for (std::uint32_t c = 0; c < options_.columns; ++c)
    schema->columns.push_back({"c" + std::to_string(c), column_kind::numeric});
  schema_ = std::move(schema);
  block_.resize(std::size_t{options_.columns} * options_.batch_rows);
  for (std::uint32_t c = 0; c < options_.columns; ++c)
    for (std::uint32_t r = 0; r < options_.batch_rows; ++r)
      block_[std::size_t{c} * options_.batch_rows + r] = static_cast<float>(c) * 0.25f;
}

void generate::resume(const source_position& after) {
  next_row_ = std::min(after.row, options_.rows);
}

bool generate::produce(emitter& out) {
  if (next_row_ >= options_.rows)
    return false;
  auto n = static_cast<std::uint32_t>(
    std::min<std::uint64_t>(options_.batch_rows, options_.rows - next_row_));
  batch b;
  b.schema = schema_;
  b.rows = n;
  b.first_row = next_row_;
  // Appended column by column into reserved room: resize() would zero-fill the block
  // before the copy overwrites it.
  b.floats.reserve(std::size_t{options_.columns} * n);
  for (std::uint32_t c = 0; c < options_.columns; ++c) {
    const float* column = block_.data() + std::size_t{c} * options_.batch_rows;
    b.floats.insert(b.floats.end(), column, column + n);
  }
  next_row_ += n;
  b.position = {0, 0, next_row_};
  out.emit(0, std::move(b));
  return true;
}

kind_entry generate_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "generate";
  e.schema.doc = "Makes batches of numeric columns in memory (no I/O): for benchmarks and tests "
                 "of the transport.";
  e.schema.params = {
    required_param("rows", param_type::integer, "rows in all"),
    optional_param("columns", param_type::integer, 16, "numeric columns c0, c1, ... (float32)"),
    optional_param("batch", param_type::integer, 1024, "rows per batch"),
  };
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<generate>(generate_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
