#include "actors/peer_collective.hpp"

#include "base/float_bytes.hpp"

#include <atomic>
#include <stdexcept>

namespace conveyor {

peer_collective::peer_collective(step_context& ctx, compute::backend& device, int rank, int size)
    : ctx_(ctx), device_(device), rank_(rank), size_(size) {}

const std::shared_ptr<const std::string>& peer_collective::part(int rank) const {
  static const std::shared_ptr<const std::string> none;
  auto it = inbox_.find(sequence_);
  return it == inbox_.end() ? none : it->second[static_cast<std::size_t>(rank)];
}

std::shared_ptr<std::string> peer_collective::outgoing(std::size_t bytes) {
  for (auto& b : sent_)
    if (b.use_count() == 1) {
      // Peers dropped their references (released by their last decrement): their reads
      // of the old contents happen before ours writes.
      std::atomic_thread_fence(std::memory_order_acquire);
      b->resize(bytes);
      return b;
    }
  sent_.push_back(std::make_shared<std::string>(bytes, '\0'));
  return sent_.back();
}

namespace {

[[noreturn]] void throw_aborted() {
  throw std::runtime_error("the group's collective was aborted (a replica did not take part "
                           "within collective_timeout)");
}

} // namespace

void peer_collective::abort() noexcept { aborted_ = true; }

void peer_collective::start_all_reduce(float* data, std::size_t n) {
  if (aborted_)
    throw_aborted();
  ++sequence_;
  current_ = operation::all_reduce;
  data_ = data;
  n_ = n;
  const float* host = data;
  if (!device_.host_memory()) {
    staging_.resize(n);
    device_.copy_to_host(staging_.data(), data, n);
    host = staging_.data();
  }
  auto out = outgoing(n * sizeof(float));
  write_le_floats(host, n, out->data());
  own_ = out;
  ctx_.send_to_peers(sequence_, own_);
}

void peer_collective::start_broadcast(std::string bytes) {
  if (aborted_)
    throw_aborted();
  ++sequence_;
  current_ = operation::broadcast;
  if (rank_ == 0) {
    broadcast_ = std::move(bytes);
    ctx_.send_to_peers(sequence_, std::make_shared<const std::string>(broadcast_));
  }
}

bool peer_collective::ready() const {
  if (aborted_)
    return true; // complete() says so
  switch (current_) {
  case operation::none:
    return true;
  case operation::broadcast:
    return rank_ == 0 || part(0) != nullptr;
  case operation::all_reduce:
    for (int r = 0; r < size_; ++r)
      if (r != rank_ && !part(r))
        return false;
    return true;
  }
  return false;
}

void peer_collective::complete() {
  if (aborted_) {
    inbox_.clear();
    current_ = operation::none;
    throw_aborted();
  }
  if (current_ == operation::broadcast && rank_ != 0)
    broadcast_ = *part(0);
  if (current_ == operation::all_reduce) {
    parts_.clear();
    for (int r = 0; r < size_; ++r) {
      const std::string& bytes = r == rank_ ? *own_ : *part(r);
      if (bytes.size() != n_ * sizeof(float))
        throw std::runtime_error("replica " + std::to_string(r) + " sent " +
                                 std::to_string(bytes.size()) + " bytes for an all-reduce of " +
                                 std::to_string(n_) + " floats");
      parts_.push_back(bytes.data());
    }
    if (!device_.host_memory())
      staging_.resize(n_);
    float* __restrict out = device_.host_memory() ? data_ : staging_.data();
    // one pass for the first two parts, one more per further part: rank order
    const char* a = parts_[0];
    const char* b = parts_.size() > 1 ? parts_[1] : nullptr;
    if (!b)
      for (std::size_t i = 0; i < n_; ++i)
        out[i] = load_le_float(a + 4 * i);
    else
      for (std::size_t i = 0; i < n_; ++i)
        out[i] = load_le_float(a + 4 * i) + load_le_float(b + 4 * i);
    for (std::size_t r = 2; r < parts_.size(); ++r) {
      const char* p = parts_[r];
      for (std::size_t i = 0; i < n_; ++i)
        out[i] += load_le_float(p + 4 * i);
    }
    if (!device_.host_memory())
      device_.copy_from_host(data_, staging_.data(), n_);
    own_.reset();
  }
  inbox_.erase(sequence_);
  current_ = operation::none;
}

void peer_collective::deliver(peer_message m) {
  if (aborted_ || !m.bytes || m.from_replica < 0 || m.from_replica >= size_ || m.from_replica == rank_ ||
      m.tag < sequence_ || (m.tag == sequence_ && current_ == operation::none))
    return; // not a part of an operation still to complete
  auto& parts = inbox_[m.tag];
  parts.resize(static_cast<std::size_t>(size_));
  parts[static_cast<std::size_t>(m.from_replica)] = std::move(m.bytes);
}

} // namespace conveyor
