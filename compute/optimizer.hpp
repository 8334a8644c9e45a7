// Optimizers over one flat parameter vector: SGD with momentum and Adam, both with
// PyTorch's semantics, so hyperparameters carry over from PyTorch unchanged. Their state
// (moments, step count) exports to host vectors and encodes to bytes for checkpoints.
#pragma once

#include "compute/backend.hpp"
#include "compute/cpu/cpu_backend.hpp"
#include "base/decoded.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::compute {

enum class optimizer_kind { sgd, adam };

struct optimizer_spec {
  optimizer_kind kind = optimizer_kind::sgd;
  float learning_rate = 0.01f;
  float momentum = 0.0f; ///< sgd: v = momentum * v + g; w -= lr * v
  float beta1 = 0.9f;    ///< adam
  float beta2 = 0.999f;  ///< adam
  float eps = 1e-8f;     ///< adam
};

/// Everything an optimizer remembers between steps, on the host.
struct optimizer_state {
  optimizer_kind kind = optimizer_kind::sgd;
  std::int64_t step = 0;      ///< steps taken so far
  std::vector<float> first;   ///< sgd: velocity; adam: first moment m
  std::vector<float> second;  ///< adam: second moment v; empty for sgd

  friend bool operator==(const optimizer_state& a, const optimizer_state& b) {
    return a.kind == b.kind && a.step == b.step && a.first == b.first && a.second == b.second;
  }
};

/// Rules: `step` takes backend pointers to `size()` floats; it is not thread-safe on one
/// optimizer (one optimizer per replica, or one shared behind the all-reduce); weight
/// decay is the model's business (an L2 term in its loss), not the optimizer's.
class optimizer {
public:
  /// Throws std::invalid_argument for a non-positive or non-finite learning rate, momentum
  /// outside [0, 1), betas outside [0, 1) or eps <= 0.
  optimizer(const optimizer_spec& spec, std::size_t size, backend& be = default_cpu_backend());

  const optimizer_spec& spec() const noexcept { return spec_; }
  std::size_t size() const noexcept { return size_; }
  std::int64_t steps() const noexcept { return step_; }
  /// For schedules; takes effect at the next step.
  void set_learning_rate(float lr);

  /// params -= update(grads), advancing the state by one step: advance(), then update()
  /// of all of it.
  void step(float* params, const float* grads);
  /// The two halves of step(), for callers that split the update over threads
  /// (model::apply): advance() once, then update() of disjoint slices [begin, begin + n)
  /// of the buffers (`params` and `grads` point at their starts), side by side.
  /// The first advance() (or load_state) allocates the moments, zeroed: an optimizer
  /// that never steps holds no memory.
  void advance();
  void update(float* params, const float* grads, std::size_t begin, std::size_t n);

  /// Floats of backend memory held: 0 before the first step, then the moments (sgd with
  /// momentum: size(); adam: 2 size(); plain sgd: none).
  std::size_t floats_held() const noexcept { return first_.size() + second_.size(); }

  optimizer_state state() const;
  /// Throws std::invalid_argument when the state's kind or sizes do not match.
  void load_state(const optimizer_state& s);

private:
  void allocate_moments();

  optimizer_spec spec_;
  std::size_t size_;
  backend* backend_;
  buffer first_, second_;
  std::int64_t step_ = 0;
};

std::string_view to_string(optimizer_kind k);
std::optional<optimizer_kind> parse_optimizer_kind(std::string_view name);

/// MessagePack map {kind, step, first (bin, LE float32), second (bin)}.
std::string encode_optimizer_state(const optimizer_state& s);
/// Never throws; rejects moments over 1 GiB and malformed input with a message.
decoded<optimizer_state> decode_optimizer_state(std::string_view bytes);

} // namespace conveyor::compute
