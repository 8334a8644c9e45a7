// Restart bookkeeping for one supervised step: how many restarts fall inside the
// window, whether another is allowed, and the backoff before it (doubling from the
// step's `backoff`, capped at `max_backoff`).
#pragma once

#include <chrono>
#include <deque>

namespace conveyor {

class restart_tracker {
public:
  using clock = std::chrono::steady_clock;

  restart_tracker(int max_restarts, std::chrono::nanoseconds window,
                  std::chrono::nanoseconds first_backoff,
                  std::chrono::nanoseconds max_backoff = std::chrono::seconds(30));

  struct decision {
    bool allowed = false;
    std::chrono::nanoseconds delay{0};
  };

  /// Called on a failure at `now`: records a restart if one is allowed.
  decision on_failure(clock::time_point now);

  /// Restarts granted so far in total (not only in the window).
  int total() const { return total_; }

private:
  int max_restarts_;
  std::chrono::nanoseconds window_;
  std::chrono::nanoseconds first_backoff_;
  std::chrono::nanoseconds max_backoff_;
  std::deque<clock::time_point> recent_;
  int total_ = 0;
};

} // namespace conveyor
