// Replays a training step's fixed-shape work with one launch where the backend can
// record it (CUDA graphs), and runs it operation by operation everywhere else.
//
// A recording fixes pointers and scalar arguments (backend::record), so the caller
// names everything the step's operations depend on in a `key`: the input and label
// buffers, the row count, the rows' weight, the model's parameter and gradient buffers.
// The first run under a key is eager, so every scratch buffer the step needs has grown
// to its size before anything is recorded (nothing may allocate while recording); the
// second is recorded and replayed; later ones are replayed. A key not seen before runs
// eagerly again; up to `capacity` recordings are kept (a trainer alternating between two
// upload buffers needs two), the oldest dropped first. A recording that fails (the step
// needed to allocate after all) leaves that key eager for good, with the reason kept for
// the caller's log; real device errors recur in the eager run and reach the caller there.
#pragma once

#include "compute/backend.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace conveyor::compute {

class replayed_step {
public:
  /// What the step's operations depend on besides the buffers' contents.
  using key = std::array<std::uintptr_t, 6>;
  static constexpr std::size_t capacity = 4;

  /// Runs `body` on `be` (eagerly, or as a replay of its recording under `k`).
  void run(backend& be, const key& k, const std::function<void()>& body);

  /// Steps replayed from a recording so far, and recordings made.
  std::uint64_t replays() const noexcept { return replays_; }
  std::uint64_t recordings() const noexcept { return recordings_; }

  /// Recordings that failed, and why the last one did (empty when none has).
  std::uint64_t failures() const noexcept { return failures_; }
  const std::string& last_failure() const noexcept { return last_failure_; }

  /// Drops every recording (their buffers are about to go, or the backend is).
  void clear() noexcept;

private:
  struct entry {
    key k;
    std::unique_ptr<backend::recording> recording; ///< null until the second run
    bool failed = false;                           ///< recording failed: always eager
  };
  entry* find(const key& k);

  std::deque<entry> entries_;
  const backend* backend_ = nullptr; ///< the backend the recordings belong to
  bool unsupported_ = false;         ///< that backend records nothing: always eager
  std::uint64_t replays_ = 0, recordings_ = 0, failures_ = 0;
  std::string last_failure_;
};

} // namespace conveyor::compute
