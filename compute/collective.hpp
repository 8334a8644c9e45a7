// Collective operations between the ranks of a data-parallel group (one rank per
// replica): what a trainer needs to keep replicas in step, and nothing else. The
// trainer's group runs it over peer messages between step actors (actors/
// peer_collective); a CUDA build adds one over NCCL. Single-rank groups use
// `single_rank_collective`.
//
// Rules:
// - every rank starts the same operations in the same order (they are matched by
//   position), one at a time: start, then complete() once ready() is true;
// - buffers are backend memory of the backend the group trains on;
// - ready() never blocks: a caller that gets false returns to its event loop and asks
//   again when something arrives (an implementation over stream-ordered device
//   operations is ready at once: later device work waits for it on the stream);
// - results are bit-identical on every rank (sums are taken in rank order);
// - an operation that does not complete within the group's timeout (a hung rank) is
//   ended by abort(): the caller's watchdog (the trainer's `collective_timeout`).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace conveyor::compute {

class collective {
public:
  virtual ~collective() = default;

  virtual int rank() const noexcept = 0;
  virtual int size() const noexcept = 0;

  /// data[i] = sum over ranks of data[i], for `n` floats; `data` must stay valid and
  /// untouched until complete() returns.
  virtual void start_all_reduce(float* data, std::size_t n) = 0;
  /// Rank 0's `bytes` to every rank (the others pass anything, usually nothing); after
  /// complete(), broadcast_result() holds them on every rank.
  virtual void start_broadcast(std::string bytes) = 0;

  /// True when the operation in flight can complete without waiting (or none is).
  virtual bool ready() const = 0;
  /// Finishes the operation in flight; only after ready(). Throws std::runtime_error
  /// when a rank sent something malformed (a gradient of the wrong size).
  virtual void complete() = 0;
  virtual const std::string& broadcast_result() const = 0;

  /// Ends the group's transport for good, as the watchdog does when an operation has
  /// not completed within its timeout (a rank is hung): the operation in flight is
  /// abandoned (NCCL: ncclCommAbort, which also frees a stream stuck in it), ready() is
  /// true, and complete() and every later start throw. The group then restarts as one
  /// unit. May be called from another thread than the one that uses the collective.
  virtual void abort() noexcept = 0;
};

/// A group of one: every operation is ready at once and changes nothing.
std::unique_ptr<collective> single_rank_collective();

} // namespace conveyor::compute
