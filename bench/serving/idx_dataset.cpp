// zlib's gzread reads gzip and plain files alike. IDX headers are big-endian: a magic
// number (0x0803 images, 0x0801 labels) and the dimensions.
#include "bench/serving/idx_dataset.hpp"

#include <zlib.h>

#include <memory>

namespace conveyor::bench {

namespace {

struct gz_closer {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using gz_ptr = std::unique_ptr<gzFile_s, gz_closer>;

bool read_exact(gzFile f, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const unsigned chunk = n > (1u << 30) ? (1u << 30) : static_cast<unsigned>(n);
    const int got = gzread(f, p, chunk);
    if (got <= 0)
      return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

bool read_u32(gzFile f, std::uint32_t& v) {
  unsigned char b[4];
  if (!read_exact(f, b, 4))
    return false;
  v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  return true;
}

} // namespace

std::optional<idx_dataset> load_idx(const std::string& images, const std::string& labels,
                                    std::string& error) {
  gz_ptr img(gzopen(images.c_str(), "rb"));
  if (!img) {
    error = "cannot open '" + images + "'";
    return std::nullopt;
  }
  std::uint32_t magic = 0, count = 0, rows = 0, cols = 0;
  if (!read_u32(img.get(), magic) || magic != 0x0803 || !read_u32(img.get(), count) ||
      !read_u32(img.get(), rows) || !read_u32(img.get(), cols) || rows == 0 || cols == 0 ||
      rows > 4096 || cols > 4096) {
    error = "'" + images + "' is not an IDX image file (magic 0x00000803)";
    return std::nullopt;
  }
  idx_dataset d;
  d.count = count;
  d.width = rows * cols;
  std::vector<unsigned char> bytes(std::size_t{count} * d.width);
  if (!read_exact(img.get(), bytes.data(), bytes.size())) {
    error = "'" + images + "' ends before its " + std::to_string(count) + " images";
    return std::nullopt;
  }
  d.pixels.assign(bytes.begin(), bytes.end());

  gz_ptr lab(gzopen(labels.c_str(), "rb"));
  if (!lab) {
    error = "cannot open '" + labels + "'";
    return std::nullopt;
  }
  std::uint32_t label_count = 0;
  if (!read_u32(lab.get(), magic) || magic != 0x0801 || !read_u32(lab.get(), label_count)) {
    error = "'" + labels + "' is not an IDX label file (magic 0x00000801)";
    return std::nullopt;
  }
  if (label_count != count) {
    error = "'" + labels + "' holds " + std::to_string(label_count) + " labels for " +
            std::to_string(count) + " images";
    return std::nullopt;
  }
  d.labels.resize(count);
  if (!read_exact(lab.get(), d.labels.data(), count)) {
    error = "'" + labels + "' ends before its " + std::to_string(count) + " labels";
    return std::nullopt;
  }
  return d;
}

} // namespace conveyor::bench
