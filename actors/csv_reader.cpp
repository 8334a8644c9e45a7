#include "actors/csv_reader.hpp"

#include "actors/csv_quote.hpp"
#include "actors/kind_schema_builder.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <limits>
#include <unordered_map>

namespace conveyor {

namespace {

constexpr std::uint64_t logged_rejects = 10;

bool is_missing(std::string_view s) {
  switch (s.size()) {
    case 0:
      return true;
    case 2:
      return s == "NA";
    case 3:
      return s == "N/A" || s == "NaN" || s == "nan";
    case 4:
      return s == "null" || s == "NULL";
    default:
      return false;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// Fast path for the most common cells: an optional '-', at most 7 digits and at most
/// one '.', no exponent. Both the integer mantissa (< 2^24) and the power of ten
/// (<= 10^7) are exact floats, so one IEEE division gives the correctly rounded
/// result, identical to std::from_chars. Returns false for anything else.
bool parse_short_decimal(std::string_view s, float& out) {
  static constexpr float powers[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f};
  const char* p = s.data();
  const char* end = p + s.size();
  bool negative = p < end && *p == '-';
  p += negative;
  if (p == end || end - p > 8)
    return false;
  std::uint32_t mantissa = 0;
  int digits = 0;
  int fraction = -1; // digits after '.', -1 while no '.'
  for (; p < end; ++p) {
    unsigned d = static_cast<unsigned char>(*p) - '0';
    if (d <= 9) {
      mantissa = mantissa * 10 + d;
      ++digits;
      fraction += fraction >= 0;
    } else if (*p == '.' && fraction < 0) {
      fraction = 0;
    } else {
      return false;
    }
  }
  if (digits == 0 || digits > 7)
    return false;
  float v = static_cast<float>(mantissa);
  if (fraction > 0)
    v /= powers[fraction];
  out = negative ? -v : v;
  return true;
}

/// Parses a numeric cell: missing tokens give NaN; returns false if unparsable.
bool parse_number(std::string_view s, float& out) {
  s = trim(s);
  if (is_missing(s)) {
    out = std::numeric_limits<float>::quiet_NaN();
    return true;
  }
  if (s.size() > 1 && s.front() == '+' && s[1] != '-')
    s.remove_prefix(1);
  if (parse_short_decimal(s, out))
    return true;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

std::string excerpt(std::string_view s) {
  if (s.size() <= 40)
    return std::string(s);
  return std::string(s.substr(0, 37)) + "...";
}

/// Per-batch dictionary of one categorical column. Keys view strings owned by
/// `values` (a deque, so they never move).
struct dictionary_builder {
  std::deque<std::string> values;
  std::unordered_map<std::string_view, std::int32_t> index;

  std::int32_t code(std::string_view s) {
    auto i = index.find(s);
    if (i != index.end())
      return i->second;
    values.emplace_back(s);
    auto c = static_cast<std::int32_t>(values.size() - 1);
    index.emplace(values.back(), c);
    return c;
  }
};

} // namespace

csv_reader_options csv_reader_options::from(const step_params& params) {
  csv_reader_options o;
  o.path = params.get_string("path");
  o.delimiter = csv_delimiter(params.get_string("delimiter"), "csv_reader");
  o.header = params.get_bool("header");
  o.label = params.get_string("label");
  o.categorical = params.get_strings("categorical");
  o.drop = params.get_strings("drop");
  auto b = params.get_integer("batch");
  if (b < 1 || b > (1 << 24))
    throw step_failure("csv_reader: parameter 'batch' must be in 1..16777216, got " +
                       std::to_string(b));
  o.batch_rows = static_cast<std::uint32_t>(b);
  o.quarantine = params.get_string("quarantine");
  auto limit = params.get_integer("limit");
  if (limit < 0)
    throw step_failure("csv_reader: parameter 'limit' must be >= 0");
  o.limit = static_cast<std::uint64_t>(limit);
  auto max_record = params.get_size_bytes("max_record");
  if (max_record < 1 || max_record > (std::uint64_t{1} << 30))
    throw step_failure("csv_reader: parameter 'max_record' must be in 1B..1GiB, got " +
                       std::to_string(max_record) + " bytes");
  o.max_record = static_cast<std::size_t>(max_record);
  return o;
}

csv_reader::csv_reader(csv_reader_options options) : options_(std::move(options)) {}

csv_reader::~csv_reader() {
  if (quarantine_ != nullptr)
    std::fclose(quarantine_);
}

std::vector<std::string> csv_reader::read_column_names() {
  using status = csv_tokenizer::status;
  const std::string file = "csv_reader: '" + options_.path + "'";
  std::vector<std::string> names;
  auto st = tokenizer_->next(fields_);
  // Without a header, records too long to count columns in are rejected like any other.
  while (!options_.header && st == status::too_long) {
    reject(tokenizer_->record_line(),
           "record longer than max_record (" + std::to_string(options_.max_record) + " bytes)",
           tokenizer_->raw());
    st = tokenizer_->next(fields_);
  }
  if (st == status::stopped) {
    ctx_->log_info("stopped waiting for '" + options_.path + "': the run is draining");
    done_ = true;
  } else if (st == status::end) {
    if (options_.header)
      throw step_failure(file + " is empty (expected a header row)");
    done_ = true;
  } else if (options_.header) {
    auto line = std::to_string(tokenizer_->record_line());
    if (st == status::too_long)
      throw step_failure(file + " line " + line + ": the header row is longer than max_record (" +
                         std::to_string(options_.max_record) + " bytes)");
    if (st != status::record)
      throw step_failure(file + " line " + line + ": malformed quoting in the header row");
    for (const auto& f : fields_)
      names.push_back(csv_tokenizer::unescape(f));
    // A name given twice would make `label`, `drop` and the columns downstream ambiguous.
    std::string duplicates;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (std::find(names.begin(), names.begin() + static_cast<long>(i), names[i]) !=
          names.begin() + static_cast<long>(i))
        continue; // reported with its first occurrence
      std::string positions;
      std::size_t count = 0;
      for (std::size_t j = i; j < names.size(); ++j)
        if (names[j] == names[i])
          positions += (count++ == 0 ? "" : ", ") + std::to_string(j + 1);
      if (count > 1)
        duplicates += (duplicates.empty() ? "" : "; ") + ("'" + names[i] + "' at columns " +
                                                          positions);
    }
    if (!duplicates.empty())
      throw step_failure(file + " line " + line + ": the header names a column twice: " +
                         duplicates + " (columns count from 1; rename them in the file)");
  } else {
    for (std::size_t i = 0; i < fields_.size(); ++i)
      names.push_back("c" + std::to_string(i));
    tokenizer_->unread(); // the first record is data
  }
  return names;
}

void csv_reader::open(step_context& ctx) {
  ctx_ = &ctx;
  file_ = gz_file(options_.path, &ctx);
  tokenizer_ = std::make_unique<csv_tokenizer>(file_, options_.delimiter, options_.chunk_bytes,
                                               options_.max_record);
  open_quarantine(ctx);
  auto names = read_column_names();

  auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  auto require = [&](const std::string& n, const char* what) {
    if (!has(n))
      throw step_failure("csv_reader: '" + options_.path + "' has no column '" + n +
                         "' (named by parameter '" + what + "')");
  };
  auto listed = [](const std::vector<std::string>& l, const std::string& n) {
    return std::find(l.begin(), l.end(), n) != l.end();
  };
  if (!done_) {
    if (!options_.label.empty())
      require(options_.label, "label");
    for (const auto& c : options_.categorical)
      require(c, "categorical");
    for (const auto& c : options_.drop)
      require(c, "drop");
  }
  if (!options_.label.empty() && listed(options_.categorical, options_.label))
    throw step_failure("csv_reader: column '" + options_.label +
                       "' cannot be both the label and categorical");
  if (!options_.label.empty() && listed(options_.drop, options_.label))
    throw step_failure("csv_reader: column '" + options_.label +
                       "' cannot be both the label and dropped");

  auto schema = std::make_shared<table_schema>();
  slots_.assign(names.size(), column_slot{});
  float_width_ = categorical_width_ = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto& s = slots_[i];
    s.name = names[i];
    if (listed(options_.drop, names[i]))
      continue;
    if (listed(options_.categorical, names[i])) {
      s.r = role::category;
      s.index = static_cast<std::uint32_t>(categorical_width_++);
      schema->columns.push_back({names[i], column_kind::categorical});
    } else {
      s.r = role::number;
      s.index = static_cast<std::uint32_t>(float_width_++);
      schema->columns.push_back(
        {names[i], names[i] == options_.label ? column_kind::label : column_kind::numeric});
    }
  }
  schema_ = std::move(schema);
  row_floats_.resize(float_width_);
  if (done_)
    close_quarantine();
}

void csv_reader::open_quarantine(step_context& ctx) {
  if (options_.quarantine.empty())
    return;
  // A restarted reader appends: rows quarantined before the restart stay.
  bool restarted = ctx.load_state().has_value();
  errno = 0;
  quarantine_ = std::fopen(options_.quarantine.c_str(), restarted ? "ab" : "wb");
  if (quarantine_ == nullptr)
    throw step_failure("csv_reader: cannot open quarantine file '" + options_.quarantine +
                       "': " + std::strerror(errno));
  if (!restarted)
    check_quarantine(std::fputs("line,reason,raw\n", quarantine_) >= 0 &&
                     std::fflush(quarantine_) == 0);
  ctx.save_state("quarantine opened");
}

void csv_reader::check_quarantine(bool ok) {
  if (ok)
    return;
  int err = errno;
  throw step_failure("csv_reader: cannot write quarantine file '" + options_.quarantine +
                     "': " + std::strerror(err) + " (malformed rows of '" + options_.path +
                     "' would be lost)");
}

void csv_reader::close_quarantine() {
  if (quarantine_ == nullptr)
    return;
  bool ok = std::fflush(quarantine_) == 0;
  int err = errno;
  ok = std::fclose(quarantine_) == 0 && ok;
  quarantine_ = nullptr;
  if (!ok && err != 0)
    errno = err;
  check_quarantine(ok);
}

void csv_reader::log_end(std::uint64_t rows) {
  ctx_->log_info("read " + std::to_string(rows) + " rows from '" + options_.path + "'" +
                 (rejected_ > 0 ? "; rejected " + std::to_string(rejected_) + " malformed rows" +
                                    (options_.quarantine.empty()
                                       ? ""
                                       : " (see '" + options_.quarantine + "')")
                                : ""));
}

void csv_reader::resume(const source_position& after) {
  if (after.byte_offset == 0 || done_)
    return;
  file_.seek(after.byte_offset);
  tokenizer_->reset(after.byte_offset, after.line);
  rows_emitted_ = after.row;
}

void csv_reader::reject(std::uint64_t line, const std::string& reason, std::string_view raw) {
  ++rejected_;
  auto message = "line " + std::to_string(line) + ": " + reason;
  ctx_->reject(1, message);
  if (quarantine_ != nullptr) {
    std::string out = std::to_string(line);
    out += ',';
    append_csv_field(out, reason, ',');
    out += ',';
    append_csv_field(out, raw, ',');
    out += '\n';
    check_quarantine(std::fwrite(out.data(), 1, out.size(), quarantine_) == out.size());
  } else if (rejected_ <= logged_rejects) {
    ctx_->log_warning("'" + options_.path + "' " + message +
                      (rejected_ == logged_rejects ? " (further malformed rows are counted only)"
                                                   : ""));
  }
}

bool csv_reader::parse_row(std::uint64_t line) {
  if (fields_.size() != slots_.size()) {
    reject(line,
           "expected " + std::to_string(slots_.size()) + " fields, got " +
             std::to_string(fields_.size()),
           tokenizer_->raw());
    return false;
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const auto& s = slots_[i];
    if (s.r != role::number)
      continue;
    const auto& f = fields_[i];
    if (f.escaped || !parse_number(f.text, row_floats_[s.index])) {
      reject(line,
             "column '" + s.name + "': cannot parse '" + excerpt(f.text) + "' as a number",
             tokenizer_->raw());
      return false;
    }
  }
  return true;
}

bool csv_reader::produce(emitter& out) {
  if (done_)
    return false;
  std::uint64_t cap = options_.batch_rows;
  if (options_.limit > 0)
    cap = std::min<std::uint64_t>(cap, options_.limit - std::min(options_.limit, rows_emitted_));
  if (cap == 0) {
    done_ = true;
    return false;
  }

  batch b;
  b.schema = schema_;
  b.first_row = rows_emitted_;
  b.floats.resize(float_width_ * cap);
  b.categoricals.resize(categorical_width_);
  std::vector<dictionary_builder> dictionaries(categorical_width_);
  for (auto& c : b.categoricals)
    c.codes.reserve(cap);
  std::string unescaped;

  std::uint64_t rows = 0;
  while (rows < cap) {
    auto st = tokenizer_->next(fields_);
    if (st == csv_tokenizer::status::end) {
      done_ = true;
      break;
    }
    if (st == csv_tokenizer::status::stopped) {
      ctx_->log_info("stopped reading '" + options_.path + "' at line " +
                     std::to_string(tokenizer_->line()) + ": the run is draining");
      done_ = true;
      break;
    }
    auto line = tokenizer_->record_line();
    if (st == csv_tokenizer::status::too_long) {
      reject(line,
             "record longer than max_record (" + std::to_string(options_.max_record) + " bytes)",
             tokenizer_->raw());
      continue;
    }
    if (st == csv_tokenizer::status::unterminated) {
      reject(line, "unterminated quoted field at end of file", tokenizer_->raw());
      continue;
    }
    if (st == csv_tokenizer::status::malformed_quotes) {
      reject(line, "text after a closing quote", tokenizer_->raw());
      continue;
    }
    if (!parse_row(line))
      continue;
    for (std::size_t k = 0; k < float_width_; ++k)
      b.floats[k * cap + rows] = row_floats_[k];
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const auto& s = slots_[i];
      if (s.r != role::category)
        continue;
      const auto& f = fields_[i];
      std::int32_t code = -1;
      if (f.escaped) {
        unescaped = csv_tokenizer::unescape(f);
        code = dictionaries[s.index].code(unescaped);
      } else if (!is_missing(f.text)) {
        code = dictionaries[s.index].code(f.text);
      }
      b.categoricals[s.index].codes.push_back(code);
    }
    ++rows;
  }
  if (options_.limit > 0 && rows_emitted_ + rows >= options_.limit)
    done_ = true;
  if (done_) {
    close_quarantine();
    log_end(rows_emitted_ + rows);
  } else if (quarantine_ != nullptr) {
    check_quarantine(std::fflush(quarantine_) == 0);
  }
  if (rows == 0)
    return false;

  if (rows < cap) {
    for (std::size_t k = 1; k < float_width_; ++k)
      std::memmove(b.floats.data() + k * rows, b.floats.data() + k * cap, rows * sizeof(float));
    b.floats.resize(float_width_ * rows);
  }
  for (std::size_t j = 0; j < categorical_width_; ++j)
    b.categoricals[j].dictionary.assign(std::make_move_iterator(dictionaries[j].values.begin()),
                                        std::make_move_iterator(dictionaries[j].values.end()));
  b.rows = static_cast<std::uint32_t>(rows);
  rows_emitted_ += rows;
  b.position = {tokenizer_->offset(), tokenizer_->line(), rows_emitted_};
  out.emit(0, std::move(b));
  return true;
}

kind_entry csv_reader_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "csv_reader";
  e.schema.doc = "Reads a CSV file (plain or .gz) into batches; replayable source.";
  e.schema.params = {
    dsl::reads_file(required_param("path", param_type::string,
                              "CSV file to read, plain or gzip-compressed")),
    optional_param("delimiter", param_type::string, ",", "field separator, one character"),
    optional_param("header", param_type::boolean, true,
                   "first row names the columns (else c0, c1, ...)"),
    optional_param("label", param_type::string, "", "name of the numeric label column"),
    optional_param("categorical", param_type::list_of_string, empty_list(),
                   "columns kept as strings (dictionary-encoded)"),
    optional_param("drop", param_type::list_of_string, empty_list(), "columns not read at all"),
    optional_param("batch", param_type::integer, 4096, "rows per batch"),
    dsl::writes_file(optional_param("quarantine", param_type::string, "",
                               "CSV file receiving malformed rows (line, reason, raw)")),
    optional_param("limit", param_type::integer, 0, "stop after this many rows (0: all)"),
    optional_param("max_record", param_type::size, dsl::size_value{default_max_record},
                   "longest record (bytes); longer ones are rejected and skipped"),
  };
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<csv_reader>(csv_reader_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
