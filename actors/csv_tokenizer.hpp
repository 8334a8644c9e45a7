// Splits a character stream into CSV records (RFC 4180: quoted fields may hold
// delimiters, doubled quotes and line breaks) without copying fields: the stream is
// read in large chunks into one buffer and each field is a view into it. A record
// that straddles a chunk boundary is rescanned after the buffer is compacted and
// refilled (the buffer grows when one record is longer than it).
#pragma once

#include "actors/gz_file.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

/// One field of the current record. `text` excludes the enclosing quotes; when
/// `escaped` is true it still holds doubled quotes (see `csv_tokenizer::unescape`).
struct csv_field {
  std::string_view text;
  bool quoted = false;
  bool escaped = false;
};

class csv_tokenizer {
public:
  enum class status {
    record,           ///< a complete record is in `fields`
    malformed_quotes, ///< a complete record whose quoting is broken (text after a
                      ///< closing quote); `raw()` holds it
    unterminated,     ///< the stream ended inside a quoted field; `raw()` holds the rest
    end,              ///< no more records
  };

  /// Reads from `file` (which must outlive the tokenizer). `chunk_bytes` is the read
  /// size; tests use tiny values to exercise records that straddle chunks.
  csv_tokenizer(gz_file& file, char delimiter, std::size_t chunk_bytes = 1 << 20);

  /// Reads the next record into `fields` (cleared first). Blank lines are skipped.
  /// Views stay valid until the next call of `next` or `reset`.
  status next(std::vector<csv_field>& fields);

  /// The raw text of the last record, without its line terminator.
  std::string_view raw() const { return raw_; }
  /// 1-based line number on which the last record started.
  std::uint64_t record_line() const { return record_line_; }
  /// Offset (in the uncompressed stream) of the next unread byte.
  std::uint64_t offset() const { return base_offset_ + pos_; }
  /// 1-based line number of the next unread byte.
  std::uint64_t line() const { return line_; }

  /// Forgets buffered data after the caller positioned the file at `offset`, which
  /// is the start of line `line`.
  void reset(std::uint64_t offset, std::uint64_t line);

  /// Field text with doubled quotes collapsed.
  static std::string unescape(const csv_field& f);

private:
  bool fill();
  /// Scans one record starting at pos_; returns false if the buffer ended before
  /// the record did and more input may follow.
  bool scan(std::vector<csv_field>& fields, status& st);

  gz_file* file_;
  char delimiter_;
  std::size_t chunk_bytes_;
  std::vector<char> buf_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t base_offset_ = 0;
  std::uint64_t line_ = 1;
  std::uint64_t record_line_ = 1;
  bool eof_ = false;
  bool at_start_ = true;
  std::string_view raw_;
};

} // namespace conveyor
