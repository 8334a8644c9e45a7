#include "actors/csv_writer.hpp"

#include "actors/csv_quote.hpp"
#include "actors/kind_schema_builder.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include <unistd.h>

namespace conveyor {

namespace {

constexpr const char* header_state = "header written";

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
  bool restarted = state.has_value();
  errno = 0;
  file_ = std::fopen(options_.path.c_str(), restarted ? "ab" : "wb");
  if (file_ == nullptr)
    throw step_failure("csv_writer: cannot open '" + options_.path +
                       "' for writing: " + std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  header_written_ = restarted && *state == header_state;
}

void csv_writer::write(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size())
    throw step_failure("csv_writer: cannot write '" + options_.path +
                       "': " + std::strerror(errno));
}

void csv_writer::consume(std::size_t port, batch b, emitter& out) {
  if (!b.schema)
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
    ctx_->save_state(header_state);
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
