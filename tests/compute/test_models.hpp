// Small models for tests of the steps that move models around (evaluator, publisher,
// registry): one logistic weight on one column, so that different weights give
// different bytes and a known decision.
#pragma once

#include "compute/model_file.hpp"

#include <string>
#include <vector>

namespace conveyor::test {

/// A logistic model on column "x": P(y = 1) = sigmoid(w * x).
inline compute::model_artifact logistic_artifact(float w) {
  compute::model_spec spec;
  spec.kind = "logistic";
  spec.layers = {1};
  compute::model m(compute::validate(spec));
  std::vector<float> p{w, 0.0f};
  m.set_parameters(p.data(), p.size());
  auto a = compute::make_artifact(m);
  a.feature_columns = {"x"};
  a.input_columns = {"x"};
  return a;
}

/// Its model file bytes.
inline std::string logistic_bytes(float w) {
  return compute::model_file::encode(logistic_artifact(w));
}

} // namespace conveyor::test
