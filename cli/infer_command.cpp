// The CSV is read whole before anything is sent, so a malformed file fails (exit 2) without
// a half-printed answer; rows then go out in requests of --rows-per-request, one at a time,
// and each answer is printed as it comes. The first failed request ends the command.
#include "cli/infer_command.hpp"

#include "client/client.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <vector>

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

struct csv_rows {
  std::vector<float> values; ///< rows x columns
  std::uint32_t rows = 0;
  std::uint32_t columns = 0;
};

/// Reads numeric rows; prints `error: FILE:LINE: ...` and returns nothing on bad input.
std::optional<csv_rows> read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot open '" << path << "'\n";
    return std::nullopt;
  }
  csv_rows out;
  std::size_t columns_line = 0;
  bool first = true;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty())
      continue;
    auto cells = split(line);
    if (first) {
      first = false;
      if (!parse_number(cells.front()))
        continue; // a header
    }
    if (out.rows == 0) {
      out.columns = static_cast<std::uint32_t>(cells.size());
      columns_line = number;
    } else if (cells.size() != out.columns) {
      std::cerr << fmt::format("error: {}:{}: {} values; line {} has {}\n", path, number,
                               cells.size(), columns_line, out.columns);
      return std::nullopt;
    }
    for (std::size_t c = 0; c < cells.size(); ++c) {
      auto v = parse_number(cells[c]);
      if (!v) {
        std::cerr << fmt::format("error: {}:{}: '{}' (column {}) is not a number\n", path, number,
                                 trim(cells[c]), c + 1);
        return std::nullopt;
      }
      out.values.push_back(*v);
    }
    ++out.rows;
  }
  if (out.rows == 0) {
    std::cerr << "error: " << path << ": no rows of numbers\n";
    return std::nullopt;
  }
  return out;
}

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

void print_rows(const client::reply& r, std::uint32_t first_row) {
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
  auto csv = infer_->add_option("--csv", csv_, "CSV of feature rows (numbers; header optional)");
  infer_->add_option("--rows-per-request", rows_per_request_, "rows sent in one request")
    ->capture_default_str()
    ->check(CLI::Range(1u, 1u << 20));
  infer_->add_option("--timeout", timeout_, "how long to wait for each reply (500ms, 5s, 1m)")
    ->capture_default_str();
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
  std::optional<csv_rows> rows;
  if (!models_ && !health_ && !(rows = read_csv(csv_)))
    return exit_bad_input;

  client::options options;
  options.timeout = *timeout;
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
  for (std::uint32_t first = 0; first < rows->rows; first += rows_per_request_) {
    const std::uint32_t n = std::min(rows_per_request_, rows->rows - first);
    auto r = c->predict(model_, rows->values.data() + std::size_t{first} * rows->columns, n,
                        rows->columns, version_);
    if (!r.ok)
      return report_failure(r);
    if (r.rows != n) {
      std::cerr << fmt::format("error bad_reply: {} rows sent, {} answered\n", n, r.rows);
      return exit_server_error;
    }
    print_rows(r, first);
  }
  return 0;
}

} // namespace conveyor::cli
