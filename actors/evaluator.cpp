#include "actors/evaluator.hpp"

#include "data/apply_preprocessing.hpp"
#include "compute/metrics.hpp"
#include "compute/model_file.hpp"
#include "actors/kind_schema_builder.hpp"
#include "serving/registry.hpp"

#include <algorithm>
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
  o.segment_min = params.get_number("segment_min");
  o.segment_max = params.get_number("segment_max");
  o.worst = params.get_integer("worst");
  o.window_rows = params.get_integer("window_rows");
  o.against_served = params.get_bool("against_served");
  o.registry = params.get_string("registry");
  o.margin = params.get_number("margin");
  if (o.window_rows < 0 || o.window_rows > (std::int64_t{1} << 24))
    throw step_failure("evaluator: 'window_rows' must be in 0..16777216 (0: all the data)");
  if (!(o.margin >= 0) || !std::isfinite(o.margin))
    throw step_failure("evaluator: 'margin' must be a number >= 0");
  if (!o.registry.empty() && !o.against_served)
    throw step_failure("evaluator: 'registry' names where the served model is read from; it "
                       "needs against_served = true");
  if (o.worst < 0)
    throw step_failure("evaluator: 'worst' must be >= 0");
  if (o.segment_min > o.segment_max)
    throw step_failure("evaluator: 'segment_min' is above 'segment_max'");
  if (o.min > o.max)
    throw step_failure("evaluator: 'min' (" + format_value(o.min) + ") is above 'max' (" +
                       format_value(o.max) + ")");
  return o;
}

evaluator::evaluator(evaluator_options options) : options_(std::move(options)) {}

void evaluator::consume(std::size_t, batch b, emitter& out) {
  if (b.rows == 0 || !b.schema)
    return;
  auto key = std::make_pair(b.source, b.sequence);
  if (options_.window_rows == 0) {
    data_[key] = std::move(b);
    return;
  }
  // A window of the newest rows: drop the oldest batches beyond it, in arrival order.
  if (auto it = data_.find(key); it != data_.end())
    return; // a replay
  window_rows_ += b.rows;
  arrival_.push_back(key);
  data_[key] = std::move(b);
  const auto bound = static_cast<std::uint64_t>(options_.window_rows);
  while (window_rows_ - data_[arrival_.front()].rows >= bound) {
    window_rows_ -= data_[arrival_.front()].rows;
    data_.erase(arrival_.front());
    arrival_.pop_front();
  }
  if (window_rows_ >= bound)
    while (!held_.empty()) {
      auto m = std::move(held_.front());
      held_.pop_front();
      evaluate(m, out);
    }
}

void evaluator::consume_model(std::size_t, model_message m, emitter& out) {
  const bool window_full =
    options_.window_rows > 0 && window_rows_ >= static_cast<std::uint64_t>(options_.window_rows);
  if (data_done_ || window_full)
    evaluate(m, out);
  else
    held_.push_back(std::move(m));
}

void evaluator::load_served(const std::string& name) {
  if (options_.registry.empty())
    return;
  try {
    serving::registry reg(options_.registry);
    auto latest = reg.latest(name);
    if (!latest)
      return;
    auto loaded = reg.load(name, latest->version);
    if (!loaded) {
      if (ctx_)
        ctx_->log_warning("cannot read the served model '" + name + "' version " +
                          std::to_string(latest->version) + ": " + loaded.error);
      return;
    }
    served_ = std::move(*loaded.value);
    served_label_ = "version " + std::to_string(latest->version);
  } catch (const std::exception& e) {
    if (ctx_)
      ctx_->log_warning(std::string("cannot read the registry: ") + e.what());
  }
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

namespace {

/// Metrics where a larger value is better; the others (losses, errors) go the other way.
bool higher_is_better(const std::string& metric) {
  return metric == "accuracy" || metric == "auc" || metric == "r2";
}

} // namespace

namespace {

/// Predictions of `a` on every usable row of `data` (a fleet row by its key's model), with
/// the labels; or why it cannot be scored (`why`).
struct scored_rows {
  std::vector<float> pred, labels;
  std::vector<std::string> row_key; ///< fleets: each row's key ("" for the shared model)
  std::size_t rows = 0;
  int width = 1;
  std::uint64_t skipped = 0, unknown = 0;
  std::string why;
};

scored_rows predict_all(const compute::model_artifact& a,
                        const std::map<std::pair<std::string, std::uint64_t>, batch>& data) {
  scored_rows out;
  auto fail = [&](std::string why) {
    out.why = std::move(why);
    return out;
  };
  // The models: the artifact's own (a fleet's shared model), then a fleet's own segments.
  std::vector<compute::model> models;
  std::map<std::string, std::size_t, std::less<>> model_of_key; // fleet key -> models index
  try {
    models.push_back(compute::instantiate(a));
    if (a.fleet) {
      std::size_t own = 0;
      for (const auto& seg : a.fleet->segments) {
        if (seg.own) {
          models.push_back(compute::instantiate_segment(a, own++));
          model_of_key.emplace(seg.key, models.size() - 1);
        } else {
          model_of_key.emplace(seg.key, 0);
        }
      }
    }
  } catch (const std::exception& e) {
    return fail(std::string("cannot build the model: ") + e.what());
  }
  const std::size_t f = a.feature_columns.size();
  const int width = models.front().output_width();
  std::vector<float> x, labels;
  std::vector<std::size_t> row_model; // fleets: each row's index into models
  std::vector<std::string> row_key;
  std::uint64_t skipped = 0, unknown = 0;
  for (const auto& [key, raw] : data) {
    batch b = raw;
    try {
      apply_preprocessing(a.preprocessing, b);
    } catch (const std::exception& e) {
      return fail(std::string("its preprocessing does not fit the data: ") + e.what());
    }
    std::vector<std::size_t> slots(f, SIZE_MAX);
    std::size_t label_slot = SIZE_MAX;
    const categorical_column* keys = nullptr;
    std::size_t k = 0, categorical = 0;
    for (const auto& c : b.schema->columns) {
      if (c.kind == column_kind::categorical) {
        if (a.fleet && c.name == a.fleet->by)
          keys = &b.categoricals.at(categorical);
        ++categorical;
        continue;
      }
      if (c.kind == column_kind::label && label_slot == SIZE_MAX)
        label_slot = k;
      for (std::size_t j = 0; j < f; ++j)
        if (c.kind == column_kind::numeric && c.name == a.feature_columns[j])
          slots[j] = k;
      ++k;
    }
    if (label_slot == SIZE_MAX)
      return fail("the evaluation data has no label column");
    if (a.fleet && !keys)
      return fail("the evaluation data lacks the fleet's key column '" + a.fleet->by +
                  "' (categorical)");
    for (std::size_t j = 0; j < f; ++j)
      if (slots[j] == SIZE_MAX)
        return fail("the evaluation data lacks its feature column '" + a.feature_columns[j] +
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
      if (keys) {
        const auto code = keys->codes[i];
        const std::string name = code >= 0 ? keys->dictionary[static_cast<std::size_t>(code)] : "";
        auto it = model_of_key.find(name);
        if (it == model_of_key.end() && !a.fleet->unknown_key_shared) {
          ++unknown;
          continue;
        }
        row_model.push_back(it == model_of_key.end() ? 0 : it->second);
        row_key.push_back(it == model_of_key.end() ? std::string() : name);
      }
      for (std::size_t j = 0; j < f; ++j)
        x.push_back(b.float_column(slots[j])[i]);
      labels.push_back(lab[i]);
    }
  }
  if (labels.empty())
    return fail("no evaluation rows");
  const std::size_t rows = labels.size();
  const auto w = static_cast<std::size_t>(width);
  std::vector<float> pred(rows * w);
  compute::predict_workspace ws;
  if (!a.fleet) {
    models.front().predict(x.data(), static_cast<int>(rows), pred.data(), ws);
  } else {
    // Rows grouped by model, each group in one call.
    std::vector<std::vector<std::size_t>> rows_of(models.size());
    for (std::size_t r = 0; r < rows; ++r)
      rows_of[row_model[r]].push_back(r);
    std::vector<float> gx, gp;
    for (std::size_t mi = 0; mi < models.size(); ++mi) {
      const auto& group = rows_of[mi];
      if (group.empty())
        continue;
      gx.resize(group.size() * f);
      gp.resize(group.size() * w);
      for (std::size_t i = 0; i < group.size(); ++i)
        std::copy_n(x.data() + group[i] * f, f, gx.data() + i * f);
      models[mi].predict(gx.data(), static_cast<int>(group.size()), gp.data(), ws);
      for (std::size_t i = 0; i < group.size(); ++i)
        std::copy_n(gp.data() + i * w, w, pred.data() + group[i] * w);
    }
  }
  out.pred = std::move(pred);
  out.labels = std::move(labels);
  out.row_key = std::move(row_key);
  out.rows = rows;
  out.width = width;
  out.skipped = skipped;
  out.unknown = unknown;
  return out;
}

} // namespace

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
  auto scored = predict_all(a, data_);
  if (!scored.why.empty())
    return warn(scored.why);
  if (scored.skipped > 0 && ctx_)
    ctx_->log_warning("model '" + m.name + "': " + std::to_string(scored.skipped) +
                      " evaluation rows with missing values were left out");
  if (scored.unknown > 0 && ctx_)
    ctx_->log_warning("model '" + m.name + "': " + std::to_string(scored.unknown) +
                      " evaluation rows with a key the fleet does not know (it answers those "
                      "with an error) were left out");
  const std::size_t rows = scored.rows;
  const int width = scored.width;
  const auto w = static_cast<std::size_t>(width);
  const auto& pred = scored.pred;
  const auto& labels = scored.labels;
  const auto& row_key = scored.row_key;
  auto value = compute::metric_by_name(options_.metric, pred.data(), labels.data(), rows, width);
  if (!value)
    return warn("metric '" + options_.metric + "' is unknown");
  const double v = *value;
  std::string why;
  if (std::isnan(v))
    why = options_.metric + " is undefined on this data";
  else if (v < options_.min)
    why = options_.metric + " " + format_value(v) + " is below min " + format_value(options_.min);
  else if (v > options_.max)
    why = options_.metric + " " + format_value(v) + " is above max " + format_value(options_.max);
  // Against the served model: the same rows, the same metric.
  std::optional<double> served_value;
  if (options_.against_served && !served_) // nothing forwarded yet: the registry's newest
    load_served(m.name);
  if (options_.against_served && served_) {
    auto ss = predict_all(*served_, data_);
    std::optional<double> sv;
    if (ss.why.empty())
      sv = compute::metric_by_name(options_.metric, ss.pred.data(), ss.labels.data(), ss.rows,
                                   ss.width);
    if (sv && !std::isnan(*sv))
      served_value = *sv;
    else if (ctx_)
      ctx_->log_warning("model '" + m.name + "': the served model (" + served_label_ +
                        ") cannot be scored on these rows" +
                        (ss.why.empty() ? std::string() : ": " + ss.why) +
                        "; gating on min and max alone");
  }
  const bool higher = higher_is_better(options_.metric);
  if (why.empty() && served_value &&
      (higher ? v < *served_value - options_.margin : v > *served_value + options_.margin))
    why = options_.metric + " " + format_value(v) + " is worse than the served model's " +
          format_value(*served_value) + " (" + served_label_ + ") on the same " +
          std::to_string(rows) + " rows";

  std::map<std::string, double> reported{{options_.metric, v}};
  std::string summary = options_.metric + " " + format_value(v) + " on " + std::to_string(rows) + " rows";
  if (served_value) {
    reported["served_" + options_.metric] = *served_value;
    summary += " (served model, " + served_label_ + ": " + format_value(*served_value) + ")";
  }
  if (a.fleet) {
    // Each known key's figure on its own rows (rows of unknown keys count in the aggregate only).
    std::map<std::string, std::vector<std::size_t>> rows_of_key;
    for (std::size_t r = 0; r < rows; ++r)
      if (!row_key[r].empty())
        rows_of_key[row_key[r]].push_back(r);
    std::vector<std::pair<double, std::string>> figures;
    std::vector<float> sp, sl;
    for (const auto& [key, group] : rows_of_key) {
      sp.resize(group.size() * w);
      sl.resize(group.size());
      for (std::size_t i = 0; i < group.size(); ++i) {
        std::copy_n(pred.data() + group[i] * w, w, sp.data() + i * w);
        sl[i] = labels[group[i]];
      }
      auto sv = compute::metric_by_name(options_.metric, sp.data(), sl.data(), group.size(), width);
      if (sv && !std::isnan(*sv))
        figures.emplace_back(*sv, key);
    }
    std::sort(figures.begin(), figures.end(), [&](const auto& p, const auto& q) {
      return higher ? p.first < q.first : p.first > q.first;
    });
    std::map<std::string_view, double> figure_of;
    for (const auto& [sv, key] : figures)
      figure_of.emplace(key, sv);
    for (auto& seg : a.fleet->segments)
      if (auto it = figure_of.find(seg.key); it != figure_of.end())
        seg.metrics[options_.metric] = it->second;
    std::string worst;
    for (std::size_t i = 0; i < figures.size() && i < static_cast<std::size_t>(options_.worst); ++i)
      worst += (i ? ", " : "") + figures[i].second + " " + format_value(figures[i].first);
    summary += " over " + std::to_string(figures.size()) + " segments";
    if (!figures.empty()) {
      const double worst_value = figures.front().first;
      reported[options_.metric + "_worst_segment"] = worst_value;
      a.metrics[options_.metric + "_worst_segment"] = worst_value;
      summary += "; worst segments: " + worst;
      std::size_t outside = 0;
      for (const auto& [sv, key] : figures)
        outside += sv < options_.segment_min || sv > options_.segment_max ? 1 : 0;
      if (why.empty() && outside > 0)
        why = std::to_string(outside) + " of " + std::to_string(figures.size()) + " segments have " +
              options_.metric + " outside [segment_min " + format_value(options_.segment_min) +
              ", segment_max " + format_value(options_.segment_max) + "] (worst: " + worst + ")";
    }
    reported["segments_evaluated"] = static_cast<double>(figures.size());
  }
  if (ctx_) {
    ctx_->report_metrics(reported);
    ctx_->log_info("model '" + m.name + "': " + summary);
  }
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
  if (options_.against_served) {
    served_ = std::move(a);
    served_label_ = "the model last forwarded";
  }
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
    optional_param("segment_min", param_type::number, -1e300,
                   "fleets: forward only when every segment's metric is >= segment_min"),
    optional_param("segment_max", param_type::number, 1e300,
                   "fleets: forward only when every segment's metric is <= segment_max"),
    optional_param("worst", param_type::integer, 5, "fleets: how many worst segments to log"),
    optional_param("window_rows", param_type::integer, 0,
                   "streams: evaluate on the newest N data rows (0: all the data, once it ends)"),
    optional_param("against_served", param_type::boolean, false,
                   "forward only models at least as good as the served one on the same rows"),
    optional_param("registry", param_type::string, std::string(""),
                   "against_served: where the served model is read from until this step "
                   "has forwarded one"),
    optional_param("margin", param_type::number, 0.0,
                   "against_served: how much worse than the served model a model may be"),
  };
  e.schema.inputs = {dsl::port_schema{"model", "model"}, batch_port("data")};
  e.schema.outputs = {dsl::port_schema{"out", "model"}};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<evaluator>(evaluator_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
