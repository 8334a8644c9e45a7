// RAII owner of a zlib file handle opened for reading. zlib reads plain and
// gzip-compressed files alike (transparent mode), so every reader uses this one type
// and offsets are always offsets in the uncompressed stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <zlib.h>

namespace conveyor {

class gz_file {
public:
  gz_file() = default;
  /// Opens `path` for reading; throws step_failure naming the path and errno text.
  explicit gz_file(const std::string& path);
  ~gz_file();
  gz_file(const gz_file&) = delete;
  gz_file& operator=(const gz_file&) = delete;
  gz_file(gz_file&& other) noexcept;
  gz_file& operator=(gz_file&& other) noexcept;

  bool is_open() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }

  /// Reads up to `n` bytes; returns how many were read (0 at end of stream).
  /// Throws step_failure on a read or decompression error (naming the path).
  std::size_t read(char* data, std::size_t n);
  /// Reads exactly `n` bytes or returns false at a premature end of stream.
  bool read_exact(char* data, std::size_t n);
  /// Positions the uncompressed stream at `offset` (emulated for gzip files by
  /// decompressing from the start). Throws step_failure if that fails.
  void seek(std::uint64_t offset);

private:
  gzFile file_ = nullptr;
  std::string path_;
};

} // namespace conveyor
