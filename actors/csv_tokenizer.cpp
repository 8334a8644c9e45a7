#include "actors/csv_tokenizer.hpp"

#include <algorithm>
#include <cstring>

namespace conveyor {

csv_tokenizer::csv_tokenizer(gz_file& file, char delimiter, std::size_t chunk_bytes,
                             std::size_t max_record)
  : file_(&file), delimiter_(delimiter), chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)),
    max_record_(max_record) {
  buf_.resize(chunk_bytes_);
}

void csv_tokenizer::reset(std::uint64_t offset, std::uint64_t line) {
  pos_ = end_ = 0;
  base_offset_ = offset;
  line_ = line;
  eof_ = false;
  stopped_ = false;
  at_start_ = offset == 0;
  raw_ = {};
  pending_ = skipping_ = false;
}

void csv_tokenizer::unread() {
  pos_ = record_start_;
  line_ = record_line_;
}

bool csv_tokenizer::fill() {
  if (eof_ || stopped_)
    return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    base_offset_ += pos_;
    end_ -= pos_;
    pos_ = 0;
  }
  if (buf_.size() - end_ < chunk_bytes_)
    buf_.resize(std::max(buf_.size() * 2, end_ + chunk_bytes_));
  auto want = std::min(chunk_bytes_, buf_.size() - end_);
  auto got = file_->read(buf_.data() + end_, want);
  end_ += got;
  if (file_->stopped()) {
    stopped_ = true;
    return false;
  }
  if (got == 0)
    eof_ = true;
  if (at_start_) {
    // A UTF-8 byte order mark at the very start of the stream is not data.
    if (base_offset_ + pos_ != 0) {
      at_start_ = false;
    } else if (end_ >= 3) {
      at_start_ = false;
      if (std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) {
        pos_ = 3;
        tracked_ = 0; // a record being followed starts after the mark
        quote_state_ = quote_state::field_start;
      }
    } else if (eof_) {
      at_start_ = false;
    }
  }
  return got > 0;
}

bool csv_tokenizer::scan(std::vector<csv_field>& fields, status& st) {
  fields.clear();
  const char* const begin = buf_.data() + pos_;
  const char* const end = buf_.data() + end_;
  const char* p = begin;
  const char delim = delimiter_;
  std::uint64_t newlines = 0;
  bool bad_quotes = false;
  for (;;) {
    csv_field f;
    if (p < end && *p == '"') {
      // Quoted field: up to the next quote that is not doubled.
      f.quoted = true;
      const char* content = ++p;
      for (;;) {
        const char* q = static_cast<const char*>(std::memchr(p, '"', end - p));
        if (q == nullptr) {
          if (!eof_)
            return false;
          // Unterminated quote at the end of the stream: the rest is one bad record.
          newlines = static_cast<std::uint64_t>(std::count(begin, end, '\n'));
          raw_ = std::string_view(begin, end - begin);
          record_line_ = line_;
          line_ += newlines;
          pos_ = end_;
          st = status::unterminated;
          return true;
        }
        if (q + 1 == end && !eof_)
          return false; // cannot tell yet whether the quote is doubled
        if (q + 1 < end && q[1] == '"') {
          f.escaped = true;
          p = q + 2;
          continue;
        }
        newlines += static_cast<std::uint64_t>(std::count(content, q, '\n'));
        f.text = std::string_view(content, q - content);
        p = q + 1;
        break;
      }
      // After the closing quote: a delimiter, a line end, or (broken) more text.
      if (p < end && *p != delim && *p != '\n' && !(*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
        bad_quotes = true;
        while (p < end && *p != delim && *p != '\n')
          ++p;
      }
      if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
        ++p;
      else if (p < end && *p == '\r' && p + 1 == end && !eof_)
        return false;
    } else {
      const char* s = p;
      while (p < end && *p != delim && *p != '\n')
        ++p;
      const char* e = p;
      if (e > s && e[-1] == '\r' && (p == end || *p == '\n'))
        --e;
      f.text = std::string_view(s, e - s);
    }
    if (p == end) {
      if (!eof_)
        return false;
      fields.push_back(f);
      raw_ = std::string_view(begin, p - begin);
      if (!raw_.empty() && raw_.back() == '\r')
        raw_.remove_suffix(1);
      break;
    }
    fields.push_back(f);
    if (*p == delim) {
      ++p;
      continue;
    }
    // *p == '\n': end of record
    raw_ = std::string_view(begin, p - begin);
    if (!raw_.empty() && raw_.back() == '\r')
      raw_.remove_suffix(1);
    ++p;
    ++newlines;
    break;
  }
  record_line_ = line_;
  line_ += newlines;
  pos_ = static_cast<std::size_t>(p - buf_.data());
  st = bad_quotes ? status::malformed_quotes : status::record;
  return true;
}

bool csv_tokenizer::track_pending() {
  const char* const start = buf_.data() + pos_;
  const char* const end = buf_.data() + end_;
  const char delim = delimiter_;
  const char* p = start + tracked_;
  quote_state s = quote_state_;
  bool found = false;
  while (p < end && !found) {
    switch (s) {
      case quote_state::field_start:
        if (*p == '"') {
          s = quote_state::quoted;
          ++p;
          break;
        }
        s = quote_state::unquoted;
        [[fallthrough]];
      case quote_state::unquoted:
        while (p < end && *p != '\n' && *p != delim)
          ++p;
        if (p < end) {
          found = *p == '\n';
          if (!found) {
            s = quote_state::field_start;
            ++p;
          }
        }
        break;
      case quote_state::quoted: {
        auto q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
        const char* stop = q != nullptr ? q : end;
        pending_newlines_ += static_cast<std::uint64_t>(std::count(p, stop, '\n'));
        p = stop;
        if (q != nullptr) {
          s = quote_state::quote_seen;
          ++p;
        }
        break;
      }
      case quote_state::quote_seen:
        if (*p == '\n') {
          found = true;
          break;
        }
        s = *p == '"'    ? quote_state::quoted
            : *p == delim ? quote_state::field_start
            : *p == '\r' ? quote_state::cr_after_quote
                          : quote_state::unquoted;
        ++p;
        break;
      case quote_state::cr_after_quote:
        if (*p == '\n') {
          found = true;
          break;
        }
        s = *p == delim ? quote_state::field_start : quote_state::unquoted;
        ++p;
        break;
    }
  }
  bytes_scanned_ += static_cast<std::uint64_t>(p - (start + tracked_));
  quote_state_ = s;
  tracked_ = static_cast<std::size_t>(p - start);
  if (found) {
    pending_end_ = static_cast<std::size_t>(p - buf_.data());
    return true;
  }
  if (eof_) {
    pending_end_ = end_;
    return true;
  }
  return false;
}

bool csv_tokenizer::accept_scanned(std::vector<csv_field>& fields, status& st) {
  bytes_scanned_ += pos_ - record_start_;
  if (st == status::record && fields.size() == 1 && raw_.empty() && !fields[0].quoted)
    return false; // blank line
  if (raw_.size() > max_record_) {
    too_long_head_.assign(raw_.data(), std::min(raw_.size(), too_long_excerpt));
    raw_ = too_long_head_;
    fields.clear();
    st = status::too_long;
  }
  return true;
}

csv_tokenizer::status csv_tokenizer::next(std::vector<csv_field>& fields) {
  for (;;) {
    if (stopped_) {
      fields.clear();
      raw_ = {};
      return status::stopped;
    }
    if (!pending_) {
      if (pos_ == end_ && !fill() && pos_ == end_) {
        if (stopped_)
          continue;
        fields.clear();
        raw_ = {};
        return status::end;
      }
      status st = status::record;
      record_start_ = pos_;
      if (scan(fields, st)) {
        if (accept_scanned(fields, st))
          return st;
        continue;
      }
      bytes_scanned_ += end_ - pos_;
      // The record goes on past the buffer: follow it from its start.
      pending_ = true;
      quote_state_ = quote_state::field_start;
      tracked_ = 0;
      pending_newlines_ = 0;
    }
    if (track_pending()) {
      pending_ = false;
      if (skipping_) {
        skipping_ = false;
        bool terminated = pending_end_ < end_;
        pos_ = terminated ? pending_end_ + 1 : end_;
        record_line_ = line_;
        line_ += pending_newlines_ + (terminated ? 1 : 0);
        fields.clear();
        raw_ = too_long_head_;
        return status::too_long;
      }
      status st = status::record;
      record_start_ = pos_;
      scan(fields, st); // the whole record is buffered: it completes
      if (accept_scanned(fields, st))
        return st;
      continue;
    }
    // Still no end. Past the limit, the record's bytes are dropped as they are read.
    // (One byte of slack: a '\r' before the line end is not part of the record.)
    if (!skipping_ && end_ - pos_ > max_record_ + 1) {
      skipping_ = true;
      too_long_head_.assign(buf_.data() + pos_, std::min(end_ - pos_, too_long_excerpt));
    }
    if (skipping_) {
      pos_ += tracked_;
      tracked_ = 0;
    }
    fill();
  }
}

std::string csv_tokenizer::unescape(const csv_field& f) {
  if (!f.escaped)
    return std::string(f.text);
  std::string out;
  out.reserve(f.text.size());
  for (std::size_t i = 0; i < f.text.size(); ++i) {
    out.push_back(f.text[i]);
    if (f.text[i] == '"' && i + 1 < f.text.size() && f.text[i + 1] == '"')
      ++i;
  }
  return out;
}

} // namespace conveyor
