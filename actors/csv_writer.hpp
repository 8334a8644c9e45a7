// csv_writer: a sink that writes rows to a CSV file, readable back by csv_reader
// (floats in their shortest round-trip form, categorical values quoted where
// needed, missing cells empty). The header comes from the first batch's schema.
// Each batch is flushed to the file before `consume` returns (when it is acknowledged),
// and then the writer's durable state records the file's length and the batch's
// identity (source, sequence). A restarted writer (durable state present: after a
// failure, on another node, in a run resumed after a coordinator crash) cuts the file
// back to the recorded length, appends from there, and skips batches the state holds:
// each row is in the file once, whatever was written and not acknowledged before.
#pragma once

#include "base/sequence_set.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
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

  /// Opens the file: truncated, or after a restart cut back to the recorded length;
  /// throws step_failure naming the path and errno text.
  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;
  /// Flushes; throws step_failure if any write failed.
  void finish(emitter& out) override;

private:
  void write(const std::string& text);
  void open_after_restart(const std::string& state);
  std::string encode_state() const;

  csv_writer_options options_;
  step_context* ctx_ = nullptr;
  std::FILE* file_ = nullptr;
  bool header_written_ = false;
  /// Bytes in the file that this writer (and its earlier incarnations) put there.
  std::uint64_t length_ = 0;
  /// Batches in the file, by source.
  std::map<std::string, sequence_set> written_;
  std::string line_;
};

kind_entry csv_writer_kind();

} // namespace conveyor
