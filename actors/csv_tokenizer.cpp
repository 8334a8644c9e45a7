#include "actors/csv_tokenizer.hpp"

#include <algorithm>
#include <cstring>

namespace conveyor {

csv_tokenizer::csv_tokenizer(gz_file& file, char delimiter, std::size_t chunk_bytes)
  : file_(&file), delimiter_(delimiter), chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)) {
  buf_.resize(chunk_bytes_);
}

void csv_tokenizer::reset(std::uint64_t offset, std::uint64_t line) {
  pos_ = end_ = 0;
  base_offset_ = offset;
  line_ = line;
  eof_ = false;
  at_start_ = offset == 0;
  raw_ = {};
}

bool csv_tokenizer::fill() {
  if (eof_)
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
  if (got < want)
    eof_ = true;
  if (at_start_) {
    // A UTF-8 byte order mark at the very start of the stream is not data.
    if (base_offset_ + pos_ != 0) {
      at_start_ = false;
    } else if (end_ >= 3) {
      at_start_ = false;
      if (std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0)
        pos_ = 3;
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

csv_tokenizer::status csv_tokenizer::next(std::vector<csv_field>& fields) {
  for (;;) {
    if (pos_ == end_ && !fill() && pos_ == end_) {
      fields.clear();
      raw_ = {};
      return status::end;
    }
    status st = status::record;
    if (!scan(fields, st)) {
      fill();
      continue;
    }
    if (st == status::record && fields.size() == 1 && raw_.empty() && !fields[0].quoted)
      continue; // blank line
    return st;
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
