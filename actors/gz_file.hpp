// A file opened for reading as one uncompressed byte stream, whether it holds plain
// bytes or gzip data (detected from its first two bytes, not its name), so every
// reader uses this one type and offsets are always offsets in the uncompressed stream.
//
// Contracts:
// - A gzip stream must end with its end marker and checksum: a file cut short fails
//   the read (it never reads as a shorter stream). Concatenated gzip members read as
//   one stream; bytes after the last member that do not start another are ignored.
// - Slow inputs (a FIFO, a device) are opened without blocking and waited on in short
//   slices; between slices, and before every read, the step context's
//   `stop_requested()` is checked. Once it is true, reads return 0 and `stopped()`
//   is true: the caller ends its stream instead of treating that as the end of data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace conveyor {

class step_context;

class gz_file {
public:
  gz_file();
  /// Opens `path` for reading; throws step_failure naming the path and errno text.
  /// `stop` (may be null) is polled while waiting for input.
  explicit gz_file(const std::string& path, const step_context* stop = nullptr);
  ~gz_file();
  gz_file(const gz_file&) = delete;
  gz_file& operator=(const gz_file&) = delete;
  gz_file(gz_file&& other) noexcept;
  gz_file& operator=(gz_file&& other) noexcept;

  bool is_open() const;
  const std::string& path() const;

  /// Reads up to `n` bytes and returns how many were read: `n` from a regular file
  /// except at its end, what has arrived (at least one byte) from a slow input, and 0
  /// only at the end of the stream or once stopped. Throws step_failure (naming the
  /// path) on a read error, corrupt gzip data or a truncated gzip stream.
  std::size_t read(char* data, std::size_t n);
  /// Reads until `n` bytes, the end of the stream or a stop; returns how many.
  std::size_t read_full(char* data, std::size_t n);
  /// Reads exactly `n` bytes or returns false at a premature end of stream (or stop).
  bool read_exact(char* data, std::size_t n);
  /// Positions the uncompressed stream at `offset` (for gzip data by decompressing
  /// from the start). Throws step_failure if that fails, or if the input cannot be
  /// reread (a FIFO or device) and `offset` is not where it stands.
  void seek(std::uint64_t offset);
  /// True once a read gave up because the step was asked to stop.
  bool stopped() const;

private:
  struct state;
  std::unique_ptr<state> s_;
};

} // namespace conveyor
