// publisher: files each model it receives in the model registry and forwards it with the
// version it got.
//
// A model arriving on `model` is published as a new version of `name` (default: the
// model's own name) in the registry directory `registry`, keeping the newest `keep`
// versions (0 keeps all). Publishing is idempotent (serving/registry.hpp): a model
// replayed after a restart finds its identical bytes already filed and gets that version
// back, so nothing doubles. Either way the model goes out on `out` with `name` and
// `version` set, for the inference actors (which ignore a version they already serve).
// A model that does not decode (or whose name is not a valid model name) is rejected
// with a reason and skipped; an I/O failure stops the step (step_failure), to be
// restarted by its supervisor.
#pragma once

#include "serving/registry.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <string>

namespace conveyor {

struct publisher_options {
  std::string registry;
  std::string name; ///< empty: each model's own name
  std::size_t keep = 5;

  static publisher_options from(const step_params& params);
};

class publisher : public step {
public:
  explicit publisher(publisher_options options);

  void open(step_context& ctx) override { ctx_ = &ctx; }
  void consume_model(std::size_t port, model_message m, emitter& out) override;

private:
  publisher_options options_;
  serving::registry registry_;
  step_context* ctx_ = nullptr;
  std::uint64_t published_ = 0; ///< new versions written by this instance
};

kind_entry publisher_kind();

} // namespace conveyor
