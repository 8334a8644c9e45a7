#include "actors/idx_reader.hpp"

#include "actors/kind_schema_builder.hpp"

#include <algorithm>
#include <cstdio>

namespace conveyor {

namespace {

constexpr std::uint32_t images_magic = 0x00000803; // unsigned byte, 3 dimensions
constexpr std::uint32_t labels_magic = 0x00000801; // unsigned byte, 1 dimension
constexpr std::uint64_t images_header_bytes = 16;
constexpr std::uint64_t labels_header_bytes = 8;

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
         (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

} // namespace

idx_reader_options idx_reader_options::from(const step_params& params) {
  idx_reader_options o;
  o.images = params.get_string("images");
  o.labels = params.get_string("labels");
  auto b = params.get_integer("batch");
  if (b < 1 || b > (1 << 24))
    throw step_failure("idx_reader: parameter 'batch' must be in 1..16777216, got " +
                       std::to_string(b));
  o.batch_rows = static_cast<std::uint32_t>(b);
  auto limit = params.get_integer("limit");
  if (limit < 0)
    throw step_failure("idx_reader: parameter 'limit' must be >= 0");
  o.limit = static_cast<std::uint64_t>(limit);
  return o;
}

idx_reader::idx_reader(idx_reader_options options) : options_(std::move(options)) {}

void idx_reader::open(step_context& ctx) {
  ctx_ = &ctx;
  images_ = gz_file(options_.images, &ctx);
  labels_ = gz_file(options_.labels, &ctx);

  unsigned char h[images_header_bytes];
  if (!images_.read_exact(reinterpret_cast<char*>(h), images_header_bytes)) {
    if (stop_seen())
      return;
    throw step_failure("idx_reader: '" + options_.images +
                       "' is truncated: expected a 16-byte IDX image header");
  }
  if (big_endian(h) != images_magic)
    throw step_failure("idx_reader: '" + options_.images + "' is not an IDX image file: magic " +
                       hex(big_endian(h)) + ", expected " + hex(images_magic) +
                       " (unsigned bytes, 3 dimensions)");
  items_ = big_endian(h + 4);
  image_rows_ = big_endian(h + 8);
  image_cols_ = big_endian(h + 12);
  if (image_rows_ == 0 || image_cols_ == 0 || image_rows_ > 65536 || image_cols_ > 65536 ||
      std::uint64_t{image_rows_} * image_cols_ > (1u << 24))
    throw step_failure("idx_reader: '" + options_.images + "' has implausible image size " +
                       std::to_string(image_rows_) + "x" + std::to_string(image_cols_));
  pixels_ = image_rows_ * image_cols_;

  unsigned char l[labels_header_bytes];
  if (!labels_.read_exact(reinterpret_cast<char*>(l), labels_header_bytes)) {
    if (stop_seen())
      return;
    throw step_failure("idx_reader: '" + options_.labels +
                       "' is truncated: expected an 8-byte IDX label header");
  }
  if (big_endian(l) != labels_magic)
    throw step_failure("idx_reader: '" + options_.labels + "' is not an IDX label file: magic " +
                       hex(big_endian(l)) + ", expected " + hex(labels_magic) +
                       " (unsigned bytes, 1 dimension)");
  std::uint64_t label_items = big_endian(l + 4);
  if (label_items != items_)
    throw step_failure("idx_reader: '" + options_.images + "' holds " + std::to_string(items_) +
                       " images but '" + options_.labels + "' holds " +
                       std::to_string(label_items) + " labels");

  end_row_ = options_.limit > 0 ? std::min(items_, options_.limit) : items_;

  auto schema = std::make_shared<table_schema>();
  schema->columns.reserve(pixels_ + 1);
  for (std::uint32_t i = 0; i < pixels_; ++i)
    schema->columns.push_back({"px" + std::to_string(i), column_kind::numeric});
  schema->columns.push_back({"label", column_kind::label});
  schema_ = std::move(schema);
}

void idx_reader::resume(const source_position& after) {
  auto row = std::min(after.row, items_);
  if (row == next_row_)
    return;
  images_.seek(images_header_bytes + row * pixels_);
  labels_.seek(labels_header_bytes + row);
  next_row_ = row;
}

bool idx_reader::stop_seen() {
  if (!stopped_ && (images_.stopped() || labels_.stopped())) {
    stopped_ = true;
    ctx_->log_info("stopped reading '" + options_.images + "' after " + std::to_string(next_row_) +
                   " images: the run is draining");
  }
  return stopped_;
}

bool idx_reader::produce(emitter& out) {
  if (stopped_ || next_row_ >= end_row_)
    return false;
  auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(options_.batch_rows,
                                                              end_row_ - next_row_));
  image_buffer_.resize(std::size_t{n} * pixels_);
  label_buffer_.resize(n);
  auto got_images = images_.read_full(reinterpret_cast<char*>(image_buffer_.data()),
                                 image_buffer_.size());
  if (got_images != image_buffer_.size() && stop_seen())
    return false;
  if (got_images != image_buffer_.size())
    throw step_failure("idx_reader: '" + options_.images + "' is truncated: its header promises " +
                       std::to_string(items_) + " images of " + std::to_string(image_rows_) + "x" +
                       std::to_string(image_cols_) + " bytes, but it ends after " +
                       std::to_string(next_row_ + got_images / pixels_) + " images");
  auto got_labels = labels_.read_full(reinterpret_cast<char*>(label_buffer_.data()), n);
  if (got_labels != n && stop_seen())
    return false;
  if (got_labels != n)
    throw step_failure("idx_reader: '" + options_.labels + "' is truncated: its header promises " +
                       std::to_string(items_) + " labels, but it ends after " +
                       std::to_string(next_row_ + got_labels) + " labels");

  batch b;
  b.schema = schema_;
  b.rows = n;
  b.first_row = next_row_;
  b.floats.resize(std::size_t{pixels_ + 1} * n);
  // Row-major bytes to column-major floats, in tiles of rows so both sides stay in cache.
  constexpr std::uint32_t tile = 64;
  for (std::uint32_t r0 = 0; r0 < n; r0 += tile) {
    auto r1 = std::min(n, r0 + tile);
    for (std::uint32_t k = 0; k < pixels_; ++k) {
      float* col = b.floats.data() + std::size_t{k} * n;
      for (std::uint32_t r = r0; r < r1; ++r)
        col[r] = static_cast<float>(image_buffer_[std::size_t{r} * pixels_ + k]);
    }
  }
  float* labels = b.floats.data() + std::size_t{pixels_} * n;
  for (std::uint32_t r = 0; r < n; ++r)
    labels[r] = static_cast<float>(label_buffer_[r]);
  next_row_ += n;
  b.position = {images_header_bytes + next_row_ * pixels_, 0, next_row_};
  out.emit(0, std::move(b));
  if (next_row_ >= end_row_)
    ctx_->log_info("read " + std::to_string(next_row_) + " images from '" + options_.images + "'");
  return true;
}

kind_entry idx_reader_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "idx_reader";
  e.schema.doc = "Streams an IDX image file and its label file (MNIST format) as batches.";
  e.schema.params = {
    dsl::reads_file(required_param("images", param_type::string,
                              "IDX image file (magic 0x803), plain or .gz")),
    dsl::reads_file(required_param("labels", param_type::string,
                              "IDX label file (magic 0x801), plain or .gz")),
    optional_param("batch", param_type::integer, 256, "rows (images) per batch"),
    optional_param("limit", param_type::integer, 0, "stop after this many images (0: all)"),
  };
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<idx_reader>(idx_reader_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
