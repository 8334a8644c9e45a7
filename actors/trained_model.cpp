#include "actors/trained_model.hpp"

#include <ctime>
#include <memory>
#include <stdexcept>

namespace conveyor {

void emit_trained_model(compute::model_artifact a, const std::map<std::string, double>& metrics,
                        const trainer_options& options, const std::string& step_name,
                        const training_data& data, step_context* ctx, emitter& out,
                        const std::string& what) {
  a.metrics = metrics;
  a.trained_on = compute::describe_features(data.feature_matrix().data(), data.rows(),
                                            data.feature_columns());
  a.provenance.graph = options.graph;
  a.provenance.step = step_name;
  a.provenance.data_source = data.source();
  a.provenance.created_unix = static_cast<std::int64_t>(std::time(nullptr));
  std::string bytes;
  try {
    bytes = compute::model_file::encode(a);
  } catch (const std::invalid_argument& e) {
    throw step_failure("trainer: cannot encode the " + what + ": " + e.what());
  }
  if (ctx)
    ctx->report_metrics(metrics);
  model_message m;
  m.name = options.name.empty() ? step_name : options.name;
  m.artifact = std::make_shared<const std::string>(std::move(bytes));
  out.emit_model(0, std::move(m));
}

void warn_retrain_ignored(step_context* ctx, const model_message& m, bool& warned) {
  if (warned || ctx == nullptr)
    return;
  warned = true;
  ctx->log_warning("a retrain request (model '" + m.name + "' version " +
                   std::to_string(m.version) +
                   ") reached this trainer, which has no window (window_rows or window) and "
                   "retrains on nothing: ignored, as are any that follow");
}

} // namespace conveyor
