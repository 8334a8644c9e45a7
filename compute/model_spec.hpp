// A model as a declaration: kind, layer widths, hidden activation, task, seed and L2
// weight decay. `validate` checks one against the rules of its kind and fills in what the
// kind implies, so every model, trainer and model file sees the same normalised spec.
#pragma once

#include "compute/backend.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::compute {

enum class task {
  automatic,      ///< resolved by `validate`: linear -> regression, others -> classification
  classification, ///< labels are class indices stored as floats (0/1 for binary)
  regression,     ///< labels are `rows x output width` target values
};

/// Limits that bound memory for any spec, including one read from a hostile file.
constexpr int max_layer_width = 1'000'000;
constexpr std::size_t max_layers = 64;
constexpr std::size_t max_parameters = std::size_t{1} << 28; // 1 GiB of float32

struct model_spec {
  /// linear (regression, one dense layer, MSE), logistic (binary: dense to 1 + sigmoid,
  /// BCE), softmax (multiclass: dense + softmax, CE), mlp (dense layers with `hidden`
  /// activation between them; output by task: softmax+CE (width > 1) or sigmoid+BCE
  /// (width 1) for classification, identity+MSE for regression).
  std::string kind;
  /// Widths, input first: linear [in, out], logistic [in] or [in, 1], softmax
  /// [in, classes], mlp [in, hidden..., out].
  std::vector<int> layers;
  activation hidden = activation::relu; ///< mlp only; relu, tanh or sigmoid
  task objective = task::automatic;
  std::uint64_t seed = 0;    ///< weight initialisation seed
  float weight_decay = 0.0f; ///< L2: adds 0.5 * wd * |W|^2 to the loss (weights, not biases)

  friend bool operator==(const model_spec& a, const model_spec& b) {
    return a.kind == b.kind && a.layers == b.layers && a.hidden == b.hidden &&
           a.objective == b.objective && a.seed == b.seed && a.weight_decay == b.weight_decay;
  }
};

/// The spec, normalised (task resolved, logistic widened to [in, 1]); throws
/// std::invalid_argument with a message naming the offending field otherwise.
model_spec validate(model_spec spec);

/// Float count of the flat parameter buffer a VALIDATED spec implies: per layer,
/// in*out weights then out biases.
std::size_t parameter_count(const model_spec& spec);

std::string_view to_string(activation a);
std::optional<activation> parse_activation(std::string_view name);
std::string_view to_string(task t);
std::optional<task> parse_task(std::string_view name);

} // namespace conveyor::compute
