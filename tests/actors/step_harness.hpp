// Test doubles for running steps without an actor system: a step_context that
// records rejects, log lines and durable state; an emitter that collects batches per
// port; helpers that drive a source to its end or push batches through a step the
// way the runtime does (stamping source and sequence on a source's output).
#pragma once

#include "runtime/batch.hpp"
#include "runtime/kind_registry.hpp"
#include "runtime/step.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace conveyor {

// Printers so that Boost.Test can show the values in failed checks.
inline std::ostream& operator<<(std::ostream& os, column_kind k) { return os << to_string(k); }
inline std::ostream& operator<<(std::ostream& os, const column_spec& c) {
  return os << c.name << ":" << to_string(c.kind);
}
inline std::ostream& operator<<(std::ostream& os, const table_schema& s) {
  os << "[";
  for (const auto& c : s.columns)
    os << c << " ";
  return os << "]";
}
inline std::ostream& operator<<(std::ostream& os, const source_position& p) {
  return os << "{byte " << p.byte_offset << ", line " << p.line << ", row " << p.row << "}";
}
inline std::ostream& operator<<(std::ostream& os, const preprocessing& p) {
  os << "[";
  for (const auto& op : p.ops)
    os << static_cast<int>(op.op) << ":" << op.column << "(" << op.a << "," << op.b << ") ";
  return os << "]";
}

} // namespace conveyor

namespace conveyor::test {

class fake_context : public step_context {
public:
  std::string name = "test_step";
  std::uint64_t rejected = 0;
  std::vector<std::string> reject_reasons;
  std::vector<std::string> info;
  std::vector<std::string> warnings;
  /// Durable state: keep the context and pass it to a new step to simulate a restart.
  std::optional<std::string> state;

  const std::string& step_name() const override { return name; }
  int replica() const override { return 0; }
  int replicas() const override { return 1; }
  void reject(std::uint64_t rows, const std::string& reason) override {
    rejected += rows;
    reject_reasons.push_back(reason);
  }
  std::optional<std::string> load_state() const override { return state; }
  void save_state(std::string bytes) override { state = std::move(bytes); }
  void log_info(const std::string& m) override { info.push_back(m); }
  void log_warning(const std::string& m) override { warnings.push_back(m); }
  /// Reported metrics (latest value per name) and progress, in order.
  std::map<std::string, double> metrics;
  std::vector<progress_info> progress;
  void report_metrics(const std::map<std::string, double>& m) override {
    for (const auto& [k, v] : m)
      metrics[k] = v;
  }
  void report_progress(const progress_info& p) override { progress.push_back(p); }
};

class collector : public emitter {
public:
  std::map<std::size_t, std::vector<batch>> ports;
  /// Models emitted on any port, in order.
  std::vector<model_message> models;
  void emit(std::size_t port, batch b) override { ports[port].push_back(std::move(b)); }
  void emit_model(std::size_t, model_message m) override { models.push_back(std::move(m)); }
  std::vector<batch>& on(std::size_t port) { return ports[port]; }
};

/// Runs `s` (opened already) to the end of its stream, stamping source/sequence.
inline std::vector<batch> drain(step& s, const std::string& source = "src",
                                std::uint64_t first_sequence = 1) {
  collector c;
  auto seq = first_sequence;
  while (s.produce(c)) {
    auto& out = c.on(0);
    if (!out.empty() && out.back().sequence == 0) {
      out.back().source = source;
      out.back().sequence = seq++;
    }
  }
  return std::move(c.on(0));
}

/// Pushes `in` through `s` (opened already), then finish; returns what was emitted.
inline collector push(step& s, std::vector<batch> in, bool finish = true) {
  collector c;
  for (auto& b : in)
    s.consume(0, std::move(b), c);
  if (finish)
    s.finish(c);
  return c;
}

/// Builds step parameters from the kind's defaults plus `overrides`.
inline step_params params_for(const kind_entry& kind,
                              std::map<std::string, dsl::value> overrides) {
  for (const auto& p : kind.schema.params)
    if (p.default_value && overrides.count(p.name) == 0)
      overrides[p.name] = *p.default_value;
  return step_params(std::move(overrides));
}

inline std::unique_ptr<step> make_step(const kind_entry& kind,
                                       std::map<std::string, dsl::value> overrides) {
  step_config c;
  c.name = "test_step";
  c.params = params_for(kind, std::move(overrides));
  return kind.factory(c);
}

/// A fresh directory under the system temp dir, removed at scope exit.
class temp_dir {
public:
  temp_dir() {
    auto base = std::filesystem::temp_directory_path() /
                ("conveyor_actors_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::create_directories(base);
    path_ = base;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

/// A float cell by column name and row (numeric or label column).
inline float cell(const batch& b, const std::string& column, std::size_t row) {
  std::size_t k = 0;
  for (const auto& c : b.schema->columns) {
    if (c.name == column)
      return b.float_column(k)[row];
    if (c.kind != column_kind::categorical)
      ++k;
  }
  throw std::out_of_range("no float column " + column);
}

/// A categorical cell by column name and row; nullopt where missing.
inline std::optional<std::string> category(const batch& b, const std::string& column,
                                           std::size_t row) {
  std::size_t k = 0;
  for (const auto& c : b.schema->columns) {
    if (c.name == column) {
      auto code = b.categoricals[k].codes[row];
      if (code < 0)
        return std::nullopt;
      return b.categoricals[k].dictionary[static_cast<std::size_t>(code)];
    }
    if (c.kind == column_kind::categorical)
      ++k;
  }
  throw std::out_of_range("no categorical column " + column);
}

/// All rows of `batches` as strings ("1.5|x|" per row), for whole-table comparisons.
inline std::vector<std::string> rows_as_text(const std::vector<batch>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (std::size_t r = 0; r < b.rows; ++r) {
      std::string row;
      for (const auto& c : b.schema->columns) {
        if (c.kind == column_kind::categorical) {
          auto v = category(b, c.name, r);
          row += v ? *v : "<NA>";
        } else {
          float v = cell(b, c.name, r);
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
          row += buf;
        }
        row += '|';
      }
      out.push_back(row);
    }
  }
  return out;
}

/// A batch built by hand: numeric columns (name -> values), categorical columns.
inline batch make_batch(const std::vector<std::pair<std::string, std::vector<float>>>& numeric,
                        const std::vector<std::pair<std::string, std::vector<std::string>>>&
                          categorical = {},
                        const std::string& label = "") {
  batch b;
  auto schema = std::make_shared<table_schema>();
  std::size_t rows = !numeric.empty() ? numeric[0].second.size()
                                      : (!categorical.empty() ? categorical[0].second.size() : 0);
  b.rows = static_cast<std::uint32_t>(rows);
  for (const auto& [name, values] : numeric) {
    schema->columns.push_back({name, name == label ? column_kind::label : column_kind::numeric});
    b.floats.insert(b.floats.end(), values.begin(), values.end());
  }
  for (const auto& [name, values] : categorical) {
    schema->columns.push_back({name, column_kind::categorical});
    categorical_column col;
    for (const auto& v : values) {
      if (v == "<NA>") {
        col.codes.push_back(-1);
        continue;
      }
      auto it = std::find(col.dictionary.begin(), col.dictionary.end(), v);
      if (it == col.dictionary.end()) {
        col.dictionary.push_back(v);
        it = col.dictionary.end() - 1;
      }
      col.codes.push_back(static_cast<std::int32_t>(it - col.dictionary.begin()));
    }
    b.categoricals.push_back(std::move(col));
  }
  b.schema = std::move(schema);
  return b;
}

} // namespace conveyor::test
