#include "actors/csv_writer.hpp"

#include "actors/csv_quote.hpp"
#include "actors/kind_schema_builder.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace conveyor {

namespace {

/// The state of an earlier release: the header is in the file, nothing more is known.
constexpr const char* legacy_header_state = "header written";
/// The first line of this release's state (the rest: see encode_state).
constexpr const char* state_magic = "csv_writer state 2";

} // namespace

csv_writer_options csv_writer_options::from(const step_params& params) {
  csv_writer_options o;
  o.path = params.get_string("path");
  o.delimiter = csv_delimiter(params.get_string("delimiter"), "csv_writer");
  o.header = params.get_bool("header");
  return o;
}

csv_writer::~csv_writer() {
  if (file_ != nullptr)
    std::fclose(file_);
}

void csv_writer::open(step_context& ctx) {
  ctx_ = &ctx;
  auto state = ctx.load_state();
  errno = 0;
  if (state)
    open_after_restart(*state);
  else
    file_ = std::fopen(options_.path.c_str(), "wb");
  if (file_ == nullptr)
    throw step_failure("csv_writer: cannot open '" + options_.path +
                       "' for writing: " + std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

/// State (text): the magic line, "header 0|1", "length BYTES", then per source
/// "source WATERMARK ABOVE NAME" (ABOVE: comma-separated sequences, or "-").
std::string csv_writer::encode_state() const {
  std::string out = state_magic;
  out += "\nheader ";
  out += header_written_ ? "1" : "0";
  out += "\nlength " + std::to_string(length_) + "\n";
  for (const auto& [source, w] : written_) {
    out += "source " + std::to_string(w.watermark) + ' ';
    if (w.above.empty())
      out += '-';
    bool first = true;
    for (auto sequence : w.above) {
      out += (first ? "" : ",") + std::to_string(sequence);
      first = false;
    }
    out += ' ' + source + '\n';
  }
  return out;
}

void csv_writer::open_after_restart(const std::string& state) {
  const auto fail = [&](const std::string& what) {
    throw step_failure("csv_writer: cannot read its saved state for '" + options_.path + "': " +
                       what);
  };
  std::uint64_t recorded = 0;
  bool known_length = false;
  if (state == legacy_header_state) {
    header_written_ = true;
  } else {
    std::istringstream in(state);
    std::string line;
    if (!std::getline(in, line) || line != state_magic)
      fail("it is not a csv_writer state");
    for (int number = 2; std::getline(in, line); ++number) {
      std::istringstream fields(line);
      std::string key;
      fields >> key;
      bool ok = true;
      if (key == "header") {
        int flag = 0;
        ok = static_cast<bool>(fields >> flag);
        header_written_ = flag != 0;
      } else if (key == "length") {
        ok = static_cast<bool>(fields >> recorded);
        known_length = ok;
      } else if (key == "source") {
        sequence_set w;
        std::uint64_t watermark = 0;
        std::string above, name;
        ok = static_cast<bool>(fields >> watermark >> above) && fields.get() == ' ' &&
             std::getline(fields, name) && !name.empty();
        w.advance_to(watermark);
        std::istringstream list(above == "-" ? std::string() : above);
        for (std::string item; ok && std::getline(list, item, ',');) {
          std::uint64_t sequence = 0;
          auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), sequence);
          ok = error == std::errc() && end == item.data() + item.size();
          w.insert(sequence);
        }
        written_[name] = std::move(w);
      } else {
        ok = false;
      }
      if (!ok)
        fail("line " + std::to_string(number) + " '" + line + "' does not read");
    }
    if (!known_length)
      fail("it has no length line");
  }
  file_ = std::fopen(options_.path.c_str(), "r+b");
  if (file_ == nullptr && errno == ENOENT)
    file_ = std::fopen(options_.path.c_str(), "wb");
  if (file_ == nullptr)
    return;
  struct stat st {};
  if (::fstat(::fileno(file_), &st) != 0)
    throw step_failure("csv_writer: cannot read the size of '" + options_.path +
                       "': " + std::strerror(errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (!known_length) {
    length_ = size;
  } else if (size >= recorded) {
    // What lies past the recorded length was written for batches not recorded as
    // written (the writer failed, or its state was lost with a coordinator): they come
    // again and are written again.
    if (size > recorded && ::ftruncate(::fileno(file_), static_cast<off_t>(recorded)) != 0)
      throw step_failure("csv_writer: cannot cut '" + options_.path + "' back to the " +
                         std::to_string(recorded) + " bytes written before: " +
                         std::strerror(errno));
    length_ = recorded;
  } else {
    ctx_->log_warning("csv_writer: '" + options_.path + "' holds " + std::to_string(size) +
                      " bytes, fewer than the " + std::to_string(recorded) +
                      " its saved state recorded (written on another machine's disk?): "
                      "appending to what is there");
    length_ = size;
  }
  if (size == 0)
    header_written_ = false; // an empty (new) file gets its header
  if (std::fseek(file_, 0, SEEK_END) != 0)
    throw step_failure("csv_writer: cannot seek in '" + options_.path +
                       "': " + std::strerror(errno));
}

void csv_writer::write(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size())
    throw step_failure("csv_writer: cannot write '" + options_.path +
                       "': " + std::strerror(errno));
  length_ += text.size();
}

void csv_writer::consume(std::size_t port, batch b, emitter& out) {
  if (!b.schema)
    return;
  // A batch with an identity that this writer already put in the file (a replay whose
  // acknowledgement was lost) is skipped.
  auto* written = b.source.empty() ? nullptr : &written_[b.source];
  if (written != nullptr && written->contains(b.sequence))
    return;
  const auto& cols = b.schema->columns;
  const char d = options_.delimiter;
  if (!header_written_) {
    if (options_.header) {
      line_.clear();
      for (std::size_t i = 0; i < cols.size(); ++i) {
        if (i > 0)
          line_ += d;
        append_csv_field(line_, cols[i].name, d);
      }
      line_ += '\n';
      write(line_);
      if (std::fflush(file_) != 0)
        throw step_failure("csv_writer: cannot write '" + options_.path +
                           "': " + std::strerror(errno));
    }
    header_written_ = true;
  }
  // Per column: the float column or categorical column it reads.
  std::vector<std::pair<bool, std::size_t>> source(cols.size());
  std::size_t f = 0, c = 0;
  for (std::size_t i = 0; i < cols.size(); ++i)
    source[i] = cols[i].kind == column_kind::categorical ? std::make_pair(false, c++)
                                                         : std::make_pair(true, f++);
  char num[32];
  line_.clear();
  for (std::uint32_t r = 0; r < b.rows; ++r) {
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (i > 0)
        line_ += d;
      if (source[i].first) {
        float v = b.float_column(source[i].second)[r];
        if (std::isnan(v))
          continue;
        auto res = std::to_chars(num, num + sizeof num, v);
        line_.append(num, res.ptr);
      } else {
        const auto& col = b.categoricals[source[i].second];
        auto code = col.codes[r];
        if (code >= 0)
          append_csv_field(line_, col.dictionary[static_cast<std::size_t>(code)], d);
      }
    }
    line_ += '\n';
    if (line_.size() >= (1 << 16)) {
      write(line_);
      line_.clear();
    }
  }
  write(line_);
  // The batch is acknowledged when this returns (a broker source then acknowledges its
  // messages), so its rows leave the process's buffer now.
  if (std::fflush(file_) != 0)
    throw step_failure("csv_writer: cannot write '" + options_.path +
                       "': " + std::strerror(errno));
  if (written != nullptr)
    written->insert(b.sequence);
  // Saved before the acknowledgement (the runtime sends them in that order), so a
  // coordinator never counts the batch as delivered without this length.
  ctx_->save_state(encode_state());
}

void csv_writer::finish(emitter& out) {
  if (std::fflush(file_) != 0 || std::ferror(file_))
    throw step_failure("csv_writer: cannot write '" + options_.path +
                       "': " + std::strerror(errno));
  // Some file systems (NFS, full thin volumes) report a failed write only here; pipes and
  // devices cannot be synced, which is no error.
  if (::fsync(::fileno(file_)) != 0 && errno != EINVAL && errno != EROFS)
    throw step_failure("csv_writer: cannot write '" + options_.path +
                       "': " + std::strerror(errno));
}

kind_entry csv_writer_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "csv_writer";
  e.schema.doc = "Writes rows to a CSV file (sink).";
  e.schema.params = {
    dsl::writes_file(required_param("path", param_type::string,
                               "CSV file to write (truncated at start)")),
    optional_param("delimiter", param_type::string, ",", "field separator, one character"),
    optional_param("header", param_type::boolean, true, "write a header row of column names"),
  };
  e.schema.inputs = {batch_port("in")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<csv_writer>(csv_writer_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
