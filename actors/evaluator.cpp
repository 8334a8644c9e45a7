#include "actors/evaluator.hpp"

#include "data/apply_preprocessing.hpp"
#include "compute/metrics.hpp"
#include "compute/model_file.hpp"
#include "actors/kind_schema_builder.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace conveyor {

namespace {

std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

} // namespace

evaluator_options evaluator_options::from(const step_params& params) {
  evaluator_options o;
  o.metric = params.get_string("metric");
  o.min = params.get_number("min");
  o.max = params.get_number("max");
  if (o.min > o.max)
    throw step_failure("evaluator: 'min' (" + format_value(o.min) + ") is above 'max' (" +
                       format_value(o.max) + ")");
  return o;
}

evaluator::evaluator(evaluator_options options) : options_(std::move(options)) {}

void evaluator::consume(std::size_t, batch b, emitter&) {
  if (b.rows == 0 || !b.schema)
    return;
  auto key = std::make_pair(b.source, b.sequence);
  data_[key] = std::move(b);
}

void evaluator::consume_model(std::size_t, model_message m, emitter& out) {
  if (data_done_)
    evaluate(m, out);
  else
    held_.push_back(std::move(m));
}

void evaluator::finish(emitter&) {
  // The held models are evaluated by `produce`, one per call (work after finish).
  data_done_ = true;
}

bool evaluator::produce(emitter& out) {
  if (!data_done_ || held_.empty())
    return false;
  auto m = std::move(held_.front());
  held_.pop_front();
  evaluate(m, out);
  return !held_.empty();
}

std::optional<double> evaluator::evaluate(const model_message& m, emitter& out) {
  auto warn = [&](const std::string& why) {
    if (ctx_)
      ctx_->log_warning("model '" + m.name + "': " + why + "; skipping it");
    return std::nullopt;
  };
  if (!m.artifact)
    return warn("the message carries no artifact");
  auto decoded = compute::model_file::decode(*m.artifact);
  if (!decoded)
    return warn("cannot decode the model: " + decoded.error);
  auto& a = *decoded.value;
  std::optional<compute::model> model;
  try {
    model.emplace(compute::instantiate(a));
  } catch (const std::exception& e) {
    return warn(std::string("cannot build the model: ") + e.what());
  }
  const std::size_t f = a.feature_columns.size();
  const int width = model->output_width();
  std::vector<float> x, labels;
  std::uint64_t skipped = 0;
  for (const auto& [key, raw] : data_) {
    batch b = raw;
    try {
      apply_preprocessing(a.preprocessing, b);
    } catch (const std::exception& e) {
      return warn(std::string("its preprocessing does not fit the data: ") + e.what());
    }
    std::vector<std::size_t> slots(f, SIZE_MAX);
    std::size_t label_slot = SIZE_MAX;
    std::size_t k = 0;
    for (const auto& c : b.schema->columns) {
      if (c.kind == column_kind::categorical)
        continue;
      if (c.kind == column_kind::label && label_slot == SIZE_MAX)
        label_slot = k;
      for (std::size_t j = 0; j < f; ++j)
        if (c.kind == column_kind::numeric && c.name == a.feature_columns[j])
          slots[j] = k;
      ++k;
    }
    if (label_slot == SIZE_MAX)
      return warn("the evaluation data has no label column");
    for (std::size_t j = 0; j < f; ++j)
      if (slots[j] == SIZE_MAX)
        return warn("the evaluation data lacks its feature column '" + a.feature_columns[j] +
                    "' (after its preprocessing)");
    const float* lab = b.float_column(label_slot);
    for (std::size_t i = 0; i < b.rows; ++i) {
      bool ok = std::isfinite(lab[i]);
      for (std::size_t j = 0; ok && j < f; ++j)
        ok = std::isfinite(b.float_column(slots[j])[i]);
      if (!ok) {
        ++skipped;
        continue;
      }
      for (std::size_t j = 0; j < f; ++j)
        x.push_back(b.float_column(slots[j])[i]);
      labels.push_back(lab[i]);
    }
  }
  if (skipped > 0 && ctx_)
    ctx_->log_warning("model '" + m.name + "': " + std::to_string(skipped) +
                      " evaluation rows with missing values were left out");
  if (labels.empty())
    return warn("no evaluation rows");
  const std::size_t rows = labels.size();
  std::vector<float> pred(rows * static_cast<std::size_t>(width));
  compute::predict_workspace ws;
  model->predict(x.data(), static_cast<int>(rows), pred.data(), ws);
  auto value = compute::metric_by_name(options_.metric, pred.data(), labels.data(), rows, width);
  if (!value)
    return warn("metric '" + options_.metric + "' is unknown");
  const double v = *value;
  if (ctx_) {
    ctx_->report_metrics({{options_.metric, v}});
    ctx_->log_info("model '" + m.name + "': " + options_.metric + " " + format_value(v) + " on " +
                   std::to_string(rows) + " rows");
  }
  std::string why;
  if (std::isnan(v))
    why = options_.metric + " is undefined on this data";
  else if (v < options_.min)
    why = options_.metric + " " + format_value(v) + " is below min " + format_value(options_.min);
  else if (v > options_.max)
    why = options_.metric + " " + format_value(v) + " is above max " + format_value(options_.max);
  if (!why.empty()) {
    // The steps after the gate (a publisher, a server) never see this model: say so
    // plainly, or a serving run seems to wait for nothing.
    if (ctx_)
      ctx_->log_warning("model '" + m.name + "' held back by the gate: " + why +
                        "; not forwarding it (the steps after this one keep what they had)");
    return v;
  }
  a.metrics[options_.metric] = v;
  model_message fwd;
  fwd.name = m.name;
  try {
    fwd.artifact = std::make_shared<const std::string>(compute::model_file::encode(a));
  } catch (const std::exception& e) {
    return warn(std::string("cannot re-encode the model: ") + e.what());
  }
  out.emit_model(0, std::move(fwd));
  return v;
}

kind_entry evaluator_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "evaluator";
  e.schema.doc = "Scores models on raw evaluation data (applying each model's own "
                 "preprocessing) and forwards those whose metric is inside [min, max].";
  e.schema.params = {
    choice_param("metric", {"accuracy", "log_loss", "auc", "rmse", "mae", "r2"}, "accuracy",
                 "the metric to compute and gate on"),
    optional_param("min", param_type::number, -1e300, "forward only models with metric >= min"),
    optional_param("max", param_type::number, 1e300, "forward only models with metric <= max"),
  };
  e.schema.inputs = {dsl::port_schema{"model", "model"}, batch_port("data")};
  e.schema.outputs = {dsl::port_schema{"out", "model"}};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<evaluator>(evaluator_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
