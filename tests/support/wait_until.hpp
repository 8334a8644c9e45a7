// Waiting on observable state in tests: poll a condition with a generous limit (the
// machine may be loaded), never sleep a fixed time and hope.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace conveyor::testing {

/// Polls `done` until it holds or `limit` passes; returns its last answer.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until)
      return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

} // namespace conveyor::testing
