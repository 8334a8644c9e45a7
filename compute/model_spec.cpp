#include "compute/model_spec.hpp"

#include <cmath>
#include <stdexcept>

namespace conveyor::compute {

namespace {

[[noreturn]] void fail(const std::string& kind, const std::string& what) {
  throw std::invalid_argument("model '" + kind + "': " + what);
}

std::string widths(const std::vector<int>& layers) {
  std::string s = "[";
  for (std::size_t i = 0; i < layers.size(); ++i) s += (i ? ", " : "") + std::to_string(layers[i]);
  return s + "]";
}

} // namespace

model_spec validate(model_spec s) {
  const std::string& k = s.kind;
  if (k != "linear" && k != "logistic" && k != "softmax" && k != "mlp")
    throw std::invalid_argument("unknown model kind '" + k +
                                "' (expected linear, logistic, softmax or mlp)");
  if (s.layers.size() > max_layers)
    fail(k, "at most " + std::to_string(max_layers) + " layer widths, got " +
                std::to_string(s.layers.size()));
  for (std::size_t i = 0; i < s.layers.size(); ++i)
    if (s.layers[i] < 1 || s.layers[i] > max_layer_width)
      fail(k, "layer width " + std::to_string(s.layers[i]) + " at position " +
                  std::to_string(i) + " is outside [1, " + std::to_string(max_layer_width) +
                  "]");
  if (!std::isfinite(s.weight_decay) || s.weight_decay < 0)
    fail(k, "weight_decay must be finite and >= 0");
  if (s.hidden == activation::identity) fail(k, "activation must be relu, tanh or sigmoid");

  const task t = s.objective;
  if (k == "linear") {
    if (t == task::classification) fail(k, "linear is a regression model; use logistic or softmax");
    s.objective = task::regression;
    if (s.layers.size() != 2) fail(k, "layers must be [inputs, outputs], got " + widths(s.layers));
  } else if (k == "logistic") {
    if (t == task::regression) fail(k, "logistic is a classification model");
    s.objective = task::classification;
    if (s.layers.size() == 1) s.layers.push_back(1);
    if (s.layers.size() != 2 || s.layers[1] != 1)
      fail(k, "layers must be [inputs] or [inputs, 1], got " + widths(s.layers));
  } else if (k == "softmax") {
    if (t == task::regression) fail(k, "softmax is a classification model");
    s.objective = task::classification;
    if (s.layers.size() != 2 || s.layers[1] < 2)
      fail(k, "layers must be [inputs, classes] with classes >= 2, got " + widths(s.layers));
  } else { // mlp
    if (t == task::automatic) s.objective = task::classification;
    if (s.layers.size() < 2)
      fail(k, "layers must list at least [inputs, outputs], got " + widths(s.layers));
  }
  if (parameter_count(s) > max_parameters)
    fail(k, "too many parameters (" + std::to_string(parameter_count(s)) + ", limit " +
                std::to_string(max_parameters) + ")");
  return s;
}

std::size_t parameter_count(const model_spec& s) {
  std::size_t n = 0;
  for (std::size_t i = 1; i < s.layers.size(); ++i)
    n += static_cast<std::size_t>(s.layers[i - 1]) * s.layers[i] + s.layers[i];
  return n;
}

std::string_view to_string(activation a) {
  switch (a) {
  case activation::identity: return "identity";
  case activation::relu: return "relu";
  case activation::tanh: return "tanh";
  case activation::sigmoid: return "sigmoid";
  }
  return "?";
}

std::optional<activation> parse_activation(std::string_view n) {
  if (n == "relu") return activation::relu;
  if (n == "tanh") return activation::tanh;
  if (n == "sigmoid") return activation::sigmoid;
  return std::nullopt;
}

std::string_view to_string(task t) {
  switch (t) {
  case task::automatic: return "automatic";
  case task::classification: return "classification";
  case task::regression: return "regression";
  }
  return "?";
}

std::optional<task> parse_task(std::string_view n) {
  if (n == "classification") return task::classification;
  if (n == "regression") return task::regression;
  if (n == "automatic") return task::automatic;
  return std::nullopt;
}

} // namespace conveyor::compute
