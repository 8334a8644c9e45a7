// The CSV is streamed: rows are read a request at a time (--rows-per-request, and at most
// max_request_values values), sent, and the answer printed before the next rows are read,
// so memory stays bounded whatever the input (a pipe, a huge file, /dev/zero). A malformed
// line ends the command (exit 2) after the answers to the rows before it; so does the
// first failed request (exit 1).
#include "cli/infer_command.hpp"

#include "client/client.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace conveyor::cli {

namespace {

constexpr int exit_server_error = 1;
constexpr int exit_bad_input = 2;

/// "500ms", "5s", "1.5s", "2m", or a bare number of seconds.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  if (end == begin || errno != 0 || !(v > 0))
    return std::nullopt;
  const std::string unit(end);
  double ms = 0;
  if (unit.empty() || unit == "s") ms = v * 1000;
  else if (unit == "ms") ms = v;
  else if (unit == "m" || unit == "min") ms = v * 60000;
  else return std::nullopt;
  if (ms < 1 || ms > 24.0 * 3600 * 1000)
    return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    s = s.substr(1, s.size() - 2);
  return s;
}

std::optional<float> parse_number(std::string_view cell) {
  const std::string text(trim(cell));
  if (text.empty())
    return std::nullopt;
  char* end = nullptr;
  const float v = std::strtof(text.c_str(), &end);
  if (end != text.c_str() + text.size())
    return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const auto comma = line.find(',', start);
    cells.push_back(line.substr(start, comma == std::string_view::npos ? line.npos : comma - start));
    if (comma == std::string_view::npos)
      return cells;
    start = comma + 1;
  }
}

/// Limits of the streaming CSV reader (docs/serving.md): one line, and the values of one
/// request (about 32 MiB, under a server's default max_request_bytes).
constexpr std::size_t max_line_bytes = std::size_t{4} << 20;
constexpr std::size_t max_request_values = std::size_t{8} << 20;

/// Reads a CSV of numbers a request at a time: memory holds one request's rows and one
/// line, whatever the file's size (a pipe, /dev/zero). Errors are printed as
/// `error: FILE:LINE: ...`.
class csv_stream {
public:
  explicit csv_stream(std::string path) : path_(std::move(path)) {}
  ~csv_stream() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  csv_stream(const csv_stream&) = delete;
  csv_stream& operator=(const csv_stream&) = delete;

  bool open() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return fail(fmt::format("error: cannot open '{}': {}\n", path_, std::strerror(errno)));
    return true;
  }
  bool failed() const { return failed_; }
  std::size_t columns() const { return columns_; }

  /// Reads up to `max_rows` rows (fewer when max_request_values would be passed) into
  /// `out`, row-major; returns how many (0 at the end of the file or on an error).
  std::uint32_t next(std::uint32_t max_rows, std::vector<float>& out) {
    out.clear();
    std::uint32_t rows = 0;
    while (rows < max_rows && !failed_ && (rows == 0 || out.size() + columns_ <= max_request_values)) {
      if (!read_line())
        break;
      if (!parse_line(out))
        return 0;
      if (out.size() > rows * columns_) // not a skipped header or blank line
        ++rows;
    }
    if (failed_)
      return 0;
    if (rows == 0 && rows_seen_ == 0)
      fail(fmt::format("error: {}: no rows of numbers\n", path_));
    rows_seen_ += rows;
    return rows;
  }

private:
  bool fail(const std::string& message) {
    std::cerr << message;
    failed_ = true;
    return false;
  }

  /// The next line into line_ (without its end); false at the end of the file.
  bool read_line() {
    line_.clear();
    for (;;) {
      if (at_ == filled_) {
        // read(), not a buffered stream: from a pipe it returns what has arrived, so a
        // row is sent as soon as its line is complete.
        ssize_t n;
        do
          n = ::read(fd_, buffer_, sizeof buffer_);
        while (n < 0 && errno == EINTR);
        if (n < 0)
          return fail(fmt::format("error: {}: {}\n", path_, std::strerror(errno)));
        filled_ = static_cast<std::size_t>(n);
        at_ = 0;
        if (filled_ == 0) {
          if (line_.empty())
            return false;
          ++line_number_;
          return true;
        }
      }
      const char* start = buffer_ + at_;
      const auto* end = static_cast<const char*>(std::memchr(start, '\n', filled_ - at_));
      const std::size_t take = end ? static_cast<std::size_t>(end - start) : filled_ - at_;
      if (line_.size() + take > max_line_bytes)
        return fail(fmt::format("error: {}:{}: a line longer than {} MiB (is it a CSV file?)\n",
                                path_, line_number_ + 1, max_line_bytes >> 20));
      line_.append(start, take);
      at_ += take + (end ? 1 : 0);
      if (end) {
        ++line_number_;
        return true;
      }
    }
  }

  /// Appends the line's values to `out`; skips a blank line and a first-line header.
  bool parse_line(std::vector<float>& out) {
    if (trim(line_).empty())
      return true;
    auto cells = split(line_);
    if (first_) {
      first_ = false;
      if (!parse_number(cells.front()))
        return true; // a header
    }
    if (columns_ == 0) {
      columns_ = cells.size();
      columns_line_ = line_number_;
    } else if (cells.size() != columns_) {
      return fail(fmt::format("error: {}:{}: {} values; line {} has {}\n", path_, line_number_,
                              cells.size(), columns_line_, columns_));
    }
    for (std::size_t c = 0; c < cells.size(); ++c) {
      auto v = parse_number(cells[c]);
      if (!v)
        return fail(fmt::format("error: {}:{}: '{}' (column {}) is not a number\n", path_,
                                line_number_, trim(cells[c]), c + 1));
      out.push_back(*v);
    }
    return true;
  }

  std::string path_;
  int fd_ = -1;
  char buffer_[65536];
  std::size_t at_ = 0, filled_ = 0;
  std::string line_;
  std::uint64_t line_number_ = 0, columns_line_ = 0, rows_seen_ = 0;
  std::size_t columns_ = 0;
  bool first_ = true;
  bool failed_ = false;
};

int report_failure(const client::reply& r) {
  std::cerr << "error " << r.error.code << ": " << r.error.message << '\n';
  return exit_server_error;
}

/// `[0.01 0.00 ... 0.93]`: every value up to 16, else the first 6 and the last 3.
std::string values_text(const float* v, std::uint32_t n, bool probabilities) {
  auto one = [&](float x) {
    return probabilities ? fmt::format("{:.2f}", x) : fmt::format("{:.6g}", x);
  };
  std::string s = "[";
  for (std::uint32_t i = 0; i < n; ++i) {
    if (n > 16 && i == 6) {
      s += " ...";
      i = n - 3;
    }
    s += (i == 0 ? "" : " ") + one(v[i]);
  }
  return s + "]";
}

void print_rows(const client::reply& r, std::uint64_t first_row) {
  const std::string origin = fmt::format("({} v{})", r.model, r.version);
  for (std::uint32_t i = 0; i < r.rows; ++i) {
    const float* out = r.row(i);
    if (!r.labels.empty())
      std::cout << fmt::format("row {}: label {}  {}  {}\n", first_row + i + 1, r.labels[i],
                               values_text(out, r.width, true), origin);
    else if (r.width == 1)
      std::cout << fmt::format("row {}: {:.6g}  {}\n", first_row + i + 1, out[0], origin);
    else
      std::cout << fmt::format("row {}: {}  {}\n", first_row + i + 1,
                               values_text(out, r.width, false), origin);
  }
}

int print_models(const client::reply& r) {
  if (r.models.empty()) {
    std::cout << "no models served\n";
    return 0;
  }
  std::size_t name_width = 4;
  for (const auto& m : r.models)
    name_width = std::max(name_width, m.name.size());
  std::cout << fmt::format("{:<{}}  {:>7}  {:>6}  {:>7}\n", "NAME", name_width, "VERSION",
                           "INPUTS", "OUTPUTS");
  for (const auto& m : r.models)
    std::cout << fmt::format("{:<{}}  {:>7}  {:>6}  {:>7}\n", m.name, name_width, m.version,
                             m.inputs, m.outputs);
  return 0;
}

} // namespace

infer_command::infer_command(CLI::App& app) {
  infer_ = app.add_subcommand("infer", "Ask a running inference server: predict CSV rows, "
                                       "list its models, or check its health");
  infer_->add_option("--endpoint", endpoint_, "server endpoint, e.g. tcp://127.0.0.1:5555")
    ->required();
  auto models = infer_->add_flag("--models", models_, "list the models served");
  auto health = infer_->add_flag("--health", health_, "ask for the server's status");
  auto model = infer_->add_option("--model", model_, "model name");
  infer_->add_option("--version", version_, "model version (0 or absent: the latest)");
  infer_->add_option("--key", key_, "a fleet's key: which of its models answers every row");
  auto csv = infer_->add_option("--csv", csv_, "CSV of feature rows (numbers; header optional)");
  infer_->add_option("--rows-per-request", rows_per_request_, "rows sent in one request")
    ->capture_default_str()
    ->check(CLI::Range(1u, 1u << 20));
  infer_->add_option("--timeout", timeout_, "how long to wait for each reply (500ms, 5s, 1m)")
    ->capture_default_str();
  auto server_key = infer_->add_option(
    "--curve-server-key", curve_server_key_,
    "CurveZMQ: the server's public key file (Z85, as `conveyor keys` writes it)");
  auto secret_key = infer_->add_option(
    "--curve-secret-key", curve_secret_key_,
    "CurveZMQ: this client's secret key file (its public key must be in the server's "
    "curve_allowed_clients_file)");
  server_key->needs(secret_key);
  secret_key->needs(server_key);
  models->excludes(health)->excludes(model)->excludes(csv);
  health->excludes(model)->excludes(csv);
}

bool infer_command::parsed() const { return infer_->parsed(); }

int infer_command::run() const {
  const auto timeout = parse_duration(timeout_);
  if (!timeout) {
    std::cerr << "error: --timeout '" << timeout_ << "' is not a duration (500ms, 5s, 1m)\n";
    return exit_bad_input;
  }
  if (!models_ && !health_ && (model_.empty() || csv_.empty())) {
    std::cerr << "error: infer needs --model and --csv, or --models, or --health\n";
    return exit_bad_input;
  }
  // The first request's rows are read before connecting: a file that is not a CSV of
  // numbers fails at once, with nothing sent.
  std::optional<csv_stream> csv;
  std::vector<float> chunk;
  std::uint32_t chunk_rows = 0;
  if (!models_ && !health_) {
    csv.emplace(csv_);
    if (!csv->open() || (chunk_rows = csv->next(rows_per_request_, chunk)) == 0)
      return exit_bad_input;
  }

  client::options options;
  options.timeout = *timeout;
  if (!curve_server_key_.empty()) {
    auto keys = client::load_curve_keys(curve_server_key_, curve_secret_key_);
    if (!keys) {
      std::cerr << "error: " << keys.error << '\n';
      return exit_bad_input;
    }
    options.curve = *keys.value;
  }
  std::optional<client::client> c;
  try {
    c.emplace(endpoint_, options);
  } catch (const std::invalid_argument& e) {
    std::cerr << "error: " << e.what() << '\n';
    return exit_bad_input;
  }

  if (health_) {
    auto r = c->health();
    if (!r.ok)
      return report_failure(r);
    std::cout << r.status << '\n';
    return 0;
  }
  if (models_) {
    auto r = c->models();
    return r.ok ? print_models(r) : report_failure(r);
  }
  for (std::uint64_t first = 0; chunk_rows > 0; first += chunk_rows) {
    const auto columns = static_cast<std::uint32_t>(csv->columns());
    auto r = c->predict(model_, chunk.data(), chunk_rows, columns, version_, {}, key_);
    if (!r.ok)
      return report_failure(r);
    if (r.rows != chunk_rows) {
      std::cerr << fmt::format("error bad_reply: {} rows sent, {} answered\n", chunk_rows, r.rows);
      return exit_server_error;
    }
    print_rows(r, first);
    std::cout.flush(); // each answer as it comes, also into a pipe or a file
    chunk_rows = csv->next(rows_per_request_, chunk);
  }
  return csv->failed() ? exit_bad_input : 0;
}

} // namespace conveyor::cli
