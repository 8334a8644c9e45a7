// A running run's counters, readable from any thread while it runs: the coordinator
// writes each step's summary (the same figures the report will hold: rows in, out and
// rejected, replays, restarts, busy seconds, batches per output port) whenever a step's
// counters or restarts arrive; `conveyor run --metrics-listen` reads them at each scrape.
// Plain C++ (no CAF).
#pragma once

#include "runtime/run_report.hpp"

#include <map>
#include <mutex>
#include <string>

namespace conveyor {

class live_counters {
public:
  void set(step_summary s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto name = s.step;
    steps_[std::move(name)] = std::move(s);
  }
  /// The steps reported so far, by name (a step appears with its first counters).
  std::map<std::string, step_summary> steps() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return steps_;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, step_summary> steps_;
};

} // namespace conveyor
