// csv_writer: a sink that writes rows to a CSV file, readable back by csv_reader
// (floats in their shortest round-trip form, categorical values quoted where
// needed, missing cells empty). The header comes from the first batch's schema.
// A restarted writer (durable state present) appends instead of truncating. Each
// batch is flushed to the file before `consume` returns (when it is acknowledged).
#pragma once

#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdio>
#include <string>

namespace conveyor {

struct csv_writer_options {
  std::string path;
  char delimiter = ',';
  bool header = true;

  static csv_writer_options from(const step_params& params);
};

class csv_writer : public step {
public:
  explicit csv_writer(csv_writer_options options) : options_(std::move(options)) {}
  ~csv_writer() override;

  /// Opens (truncates, or appends after a restart) the file; throws step_failure
  /// naming the path and errno text.
  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;
  /// Flushes; throws step_failure if any write failed.
  void finish(emitter& out) override;

private:
  void write(const std::string& text);

  csv_writer_options options_;
  step_context* ctx_ = nullptr;
  std::FILE* file_ = nullptr;
  bool header_written_ = false;
  std::string line_;
};

kind_entry csv_writer_kind();

} // namespace conveyor
