// The live progress line of `conveyor run`: on a terminal, one line rewritten in place
// ("train: epoch 3/10  step 1400/4690  loss 0.4123  61.2k samples/s"); otherwise a
// log line every few seconds, so that redirected output stays readable.
#pragma once

#include "step/step.hpp"

#include <chrono>

namespace conveyor::cli {

class progress_line {
public:
  progress_line();
  void update(const progress_info& p);
  /// Ends the line (before the report is printed).
  void close();

private:
  bool terminal_;
  bool open_ = false;
  std::chrono::steady_clock::time_point last_log_{};
};

} // namespace conveyor::cli
