// How a trainer step hands on what it trained (one model or a fleet): the artifact is
// stamped with its metrics and provenance, encoded as a model file (docs/model-format.md),
// its metrics reported to the run, and the file emitted on the step's model output. The
// artifact also records the training rows' feature histograms (compute/feature_distribution),
// which the drift kind compares live rows with.
#pragma once

#include "actors/trainer_options.hpp"
#include "actors/training_data.hpp"
#include "compute/model_file.hpp"
#include "step/step.hpp"

#include <map>
#include <string>

namespace conveyor {

/// Emits `a` on output 0 under the model's name (`options.name`, else `step_name`).
/// Throws step_failure saying it cannot encode the `what` ("model", "fleet").
void emit_trained_model(compute::model_artifact a, const std::map<std::string, double>& metrics,
                        const trainer_options& options, const std::string& step_name,
                        const training_data& data, step_context* ctx, emitter& out,
                        const std::string& what);

/// A model on the `retrain` input of a trainer without a window (window_rows or window):
/// only a retraining trainer acts on it, so it is ignored; the first one per incarnation
/// is logged as a warning naming the model, so a drift step wired to the wrong trainer
/// does not go unnoticed. `warned` is the caller's flag.
void warn_retrain_ignored(step_context* ctx, const model_message& m, bool& warned);

} // namespace conveyor
