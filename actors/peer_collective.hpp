// compute::collective over the runtime's peer messages: each operation is one message
// from every rank to every other (tagged with the operation's position), completed when
// the parts of all ranks are in. All-reduce payloads are little-endian float32; every
// rank sums the parts in rank order, so all get bit-identical results. Cost per
// all-reduce of n floats on the host: one copy of the local part into a message buffer
// (buffers are reused once every peer has let go of them, so no fresh pages per step),
// one message of 4n bytes to each peer (a local send shares it), and one pass that sums
// the parts straight into the result.
#pragma once

#include "compute/backend.hpp"
#include "compute/collective.hpp"
#include "step/step.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

class peer_collective final : public compute::collective {
public:
  /// `ctx` and `device` must outlive it; `ctx` sends to the other replicas.
  peer_collective(step_context& ctx, compute::backend& device, int rank, int size);

  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }
  void start_all_reduce(float* data, std::size_t n) override;
  void start_broadcast(std::string bytes) override;
  bool ready() const override;
  void complete() override;
  const std::string& broadcast_result() const override { return broadcast_; }
  /// Stops waiting for the peers: the operation in flight is dropped with the parts
  /// held for it, later messages are ignored, and complete() and every later start
  /// throw.
  void abort() noexcept override;

  /// A message from another replica (the step's consume_peer hands every one here);
  /// parts of operations this rank has not started yet are kept until it does.
  void deliver(peer_message m);

private:
  enum class operation { none, all_reduce, broadcast };
  const std::shared_ptr<const std::string>& part(int rank) const;
  /// A message buffer of `bytes` bytes that no peer holds any more.
  std::shared_ptr<std::string> outgoing(std::size_t bytes);

  step_context& ctx_;
  compute::backend& device_;
  int rank_;
  int size_;
  std::uint64_t sequence_ = 0; // operations started so far; the tag of the current one
  operation current_ = operation::none;
  float* data_ = nullptr;
  std::size_t n_ = 0;
  std::shared_ptr<const std::string> own_;
  std::map<std::uint64_t, std::vector<std::shared_ptr<const std::string>>> inbox_; // by rank
  std::string broadcast_;
  std::vector<std::shared_ptr<std::string>> sent_; // message buffers, reused when free
  std::vector<float> staging_; // host copy of device data
  std::vector<const char*> parts_;
  std::atomic<bool> aborted_{false};
};

} // namespace conveyor
