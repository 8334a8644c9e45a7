// Splits a character stream into CSV records (RFC 4180: quoted fields may hold
// delimiters, doubled quotes and line breaks) without copying fields: the stream is
// read in large chunks into one buffer and each field is a view into it.
//
// Time and memory: a record that straddles a chunk boundary is followed by a small
// quote-state machine that resumes where it stopped after each refill, so every byte
// is examined a bounded number of times (linear time, whatever the record length).
// A record longer than `max_record` bytes is not kept: its bytes are dropped as they
// are read, only its first bytes are kept for the report, and `next` returns
// `too_long` once its end has been read. The buffer stays within about twice
// `max_record` plus the chunk size.
#pragma once

#include "actors/gz_file.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

/// The default record size limit (csv_reader's `max_record`).
inline constexpr std::size_t default_max_record = std::size_t{4} << 20;

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
    too_long,         ///< a record longer than `max_record` bytes (without its line end),
                      ///< skipped; `raw()` holds its first `too_long_excerpt` bytes
    stopped,          ///< the file stopped reading (the step is asked to stop)
    end,              ///< no more records
  };

  /// Bytes of a too-long record that `raw()` keeps.
  static constexpr std::size_t too_long_excerpt = 256;

  /// Reads from `file` (which must outlive the tokenizer). `chunk_bytes` is the read
  /// size; tests use tiny values to exercise records that straddle chunks.
  csv_tokenizer(gz_file& file, char delimiter, std::size_t chunk_bytes = 1 << 20,
                std::size_t max_record = default_max_record);

  /// Reads the next record into `fields` (cleared first). Blank lines are skipped.
  /// Views stay valid until the next call of `next` or `reset`.
  status next(std::vector<csv_field>& fields);

  /// Makes the record that `next` just returned (as `record` or `malformed_quotes`)
  /// the next one again.
  void unread();

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

  /// Bytes examined so far (each byte counts once per pass over it): stays within a
  /// small multiple of the input size, which tests check.
  std::uint64_t bytes_scanned() const { return bytes_scanned_; }
  /// Current buffer size.
  std::size_t buffer_bytes() const { return buf_.size(); }

private:
  /// Where the quote-state machine stands inside a record that is being followed.
  enum class quote_state : std::uint8_t {
    field_start,    ///< before a field's first byte
    unquoted,       ///< inside an unquoted field (or text after a closing quote)
    quoted,         ///< inside quotes
    quote_seen,     ///< a quote inside quotes: closing, or the first of a doubled pair
    cr_after_quote, ///< a closing quote followed by '\r'
  };

  /// Reads another chunk; false at the end of the stream or once stopped.
  bool fill();
  /// Scans one record starting at pos_; returns false if the buffer ended before
  /// the record did and more input may follow.
  bool scan(std::vector<csv_field>& fields, status& st);
  /// Follows the pending record from where it was left; true once its end (or the
  /// end of the stream) is in the buffer, at `pending_end_`.
  bool track_pending();
  /// The blank-line and record-size rules for a record that `scan` found.
  bool accept_scanned(std::vector<csv_field>& fields, status& st);

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
  bool stopped_ = false;
  bool at_start_ = true;
  std::string_view raw_;
  std::size_t max_record_;
  std::size_t record_start_ = 0;
  std::uint64_t bytes_scanned_ = 0;
  // A record that did not fit in the buffer: how far it has been followed.
  bool pending_ = false;
  bool skipping_ = false; ///< longer than max_record: its bytes are being dropped
  quote_state quote_state_ = quote_state::field_start;
  std::size_t tracked_ = 0; ///< bytes of it examined, counted from pos_
  std::size_t pending_end_ = 0;
  std::uint64_t pending_newlines_ = 0; ///< newlines inside its quotes (while skipping)
  std::string too_long_head_;
};

} // namespace conveyor
