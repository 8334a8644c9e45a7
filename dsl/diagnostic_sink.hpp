// Collects the diagnostics of one compile. Every stage reports through it; it counts errors
// and stops accepting them past limits::max_errors, adding one note that it stopped.
#pragma once

#include "dsl/front_end.hpp"
#include "dsl/span.hpp"

#include <string>
#include <vector>

namespace conveyor::dsl {

class diagnostic_sink {
public:
  explicit diagnostic_sink(std::string file) : file_(std::move(file)) {}

  void error(diagnostic_code code, span where, std::string message, std::string hint = {});
  /// A diagnostic that has no place in the source (a `--set` override): line 0.
  void error_at(diagnostic_code code, std::string file, std::string message,
                std::string hint = {});

  std::size_t error_count() const { return errors_; }
  /// True once the error limit is reached: stages may stop early.
  bool full() const;
  const std::string& file() const { return file_; }

  /// All diagnostics sorted by location (stable), with the "too many errors" note last.
  std::vector<diagnostic> take();

private:
  void add(diagnostic d);

  std::string file_;
  std::vector<diagnostic> items_;
  std::size_t errors_ = 0;
  bool overflowed_ = false;
};

} // namespace conveyor::dsl
