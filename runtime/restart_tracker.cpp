// Sliding window over the times of granted restarts; the backoff doubles with each
// restart still inside the window, so a step that recovers starts again from the
// configured backoff.
#include "runtime/restart_tracker.hpp"

#include <algorithm>

namespace conveyor {

restart_tracker::restart_tracker(int max_restarts, std::chrono::nanoseconds window,
                                 std::chrono::nanoseconds first_backoff,
                                 std::chrono::nanoseconds max_backoff)
  : max_restarts_(max_restarts), window_(window), first_backoff_(first_backoff),
    max_backoff_(max_backoff) {
}

restart_tracker::decision restart_tracker::on_failure(clock::time_point now) {
  while (!recent_.empty() && now - recent_.front() > window_)
    recent_.pop_front();
  decision d;
  if (static_cast<int>(recent_.size()) >= max_restarts_)
    return d;
  auto delay = first_backoff_;
  for (std::size_t i = 0; i < recent_.size() && delay < max_backoff_; ++i)
    delay *= 2;
  d.allowed = true;
  d.delay = std::min(delay, max_backoff_);
  recent_.push_back(now);
  ++total_;
  return d;
}

} // namespace conveyor
