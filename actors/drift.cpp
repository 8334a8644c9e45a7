#include "actors/drift.hpp"

#include "actors/kind_schema_builder.hpp"
#include "data/apply_preprocessing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace conveyor {

namespace {

std::string figure(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

} // namespace

drift_options drift_options::from(const step_params& params) {
  drift_options o;
  o.registry = params.get_string("registry");
  o.model = params.get_string("model");
  o.statistic = params.get_string("statistic");
  o.threshold = params.get_number("threshold");
  o.window_rows = params.get_integer("window_rows");
  o.check_every = params.get_integer("check_every");
  o.cooldown_ns = params.get_duration_ns("cooldown");
  if (o.registry.empty())
    throw step_failure("drift: 'registry' must name the registry the served model is read from");
  if (!serving::valid_model_name(o.model))
    throw step_failure("drift: 'model' \"" + o.model + "\" is not a valid model name");
  if (o.statistic != "psi" && o.statistic != "ks")
    throw step_failure("drift: 'statistic' must be \"psi\" or \"ks\"");
  if (!(o.threshold > 0) || !std::isfinite(o.threshold))
    throw step_failure("drift: 'threshold' must be a positive number");
  if (o.window_rows < 10 || o.window_rows > (std::int64_t{1} << 24))
    throw step_failure("drift: 'window_rows' must be in 10..16777216");
  if (o.check_every < 1 || o.check_every > o.window_rows)
    throw step_failure("drift: 'check_every' must be in 1..window_rows (" +
                       std::to_string(o.window_rows) + ")");
  return o;
}

drift::drift(drift_options options)
    : options_(std::move(options)), registry_(options_.registry) {}

void drift::consume(std::size_t, batch b, emitter& out) {
  if (b.rows == 0 || !b.schema)
    return;
  rows_ += b.rows;
  since_check_ += b.rows;
  window_.push_back(std::move(b));
  const auto bound = static_cast<std::uint64_t>(options_.window_rows);
  while (!window_.empty() && rows_ - window_.front().rows >= bound) {
    rows_ -= window_.front().rows;
    window_.pop_front();
  }
  if (since_check_ < static_cast<std::uint64_t>(options_.check_every))
    return;
  since_check_ = 0;
  auto report = check();
  if (!report)
    return;
  const double value = options_.statistic == "psi" ? report->psi_max : report->ks_max;
  if (!(value > options_.threshold))
    return;
  const auto now = std::chrono::steady_clock::now();
  if (asked_for_ == report->version &&
      now - asked_at_ < std::chrono::nanoseconds(options_.cooldown_ns))
    return;
  asked_for_ = report->version;
  asked_at_ = now;
  if (ctx_)
    ctx_->log_warning("drift: " + options_.statistic + " " + figure(value) + " on '" +
                      report->worst + "' (threshold " + figure(options_.threshold) +
                      ") over " + std::to_string(report->rows) + " rows against model '" +
                      options_.model + "' version " + std::to_string(report->version) +
                      "; asking for a retrain");
  model_message m;
  m.name = options_.model;
  m.artifact = served_bytes_;
  m.version = report->version;
  out.emit_model(0, std::move(m));
  window_.clear();
  rows_ = 0;
}

bool drift::refresh_served() {
  std::optional<serving::model_version> latest;
  try {
    latest = registry_.latest(options_.model);
  } catch (const std::exception& e) {
    if (ctx_)
      ctx_->log_warning(std::string("drift: cannot read the registry: ") + e.what());
    return served_.has_value();
  }
  if (!latest)
    return false; // nothing served yet
  if (latest->version == served_version_)
    return served_.has_value();
  served_version_ = latest->version;
  served_.reset();
  std::ifstream in(latest->path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  auto decoded = compute::model_file::decode(bytes.str());
  if (!decoded) {
    if (ctx_)
      ctx_->log_warning("drift: cannot read model '" + options_.model + "' version " +
                        std::to_string(latest->version) + ": " + decoded.error);
    return false;
  }
  if (!decoded.value->trained_on) {
    if (ctx_)
      ctx_->log_warning("drift: model '" + options_.model + "' version " +
                        std::to_string(latest->version) +
                        " holds no feature histograms (written before they existed); not "
                        "comparing until a newer version is served");
    return false;
  }
  served_bytes_ = std::make_shared<const std::string>(bytes.str());
  served_ = std::move(*decoded.value);
  return true;
}

std::optional<drift_report> drift::check() {
  if (!refresh_served() || window_.empty())
    return std::nullopt;
  const auto& a = *served_;
  const auto& hists = a.trained_on->features;
  std::vector<std::vector<std::uint64_t>> live(hists.size());
  for (std::size_t j = 0; j < hists.size(); ++j)
    live[j].assign(hists[j].counts.size(), 0);
  drift_report r;
  r.version = served_version_;
  for (const auto& raw : window_) {
    batch b = raw;
    try {
      apply_preprocessing(a.preprocessing, b);
    } catch (const std::exception& e) {
      if (ctx_)
        ctx_->log_warning("drift: the served model's preprocessing does not fit the rows: " +
                          std::string(e.what()));
      return std::nullopt;
    }
    std::size_t slot = 0;
    for (const auto& c : b.schema->columns) {
      if (c.kind == column_kind::categorical)
        continue;
      if (c.kind == column_kind::numeric)
        for (std::size_t j = 0; j < hists.size(); ++j)
          if (hists[j].column == c.name) {
            const float* x = b.float_column(slot);
            for (std::uint32_t i = 0; i < b.rows; ++i)
              if (auto bin = compute::bin_of(hists[j], x[i]); bin != SIZE_MAX)
                ++live[j][bin];
          }
      ++slot;
    }
    r.rows += b.rows;
  }
  std::map<std::string, double> metrics;
  double worst = -1;
  for (std::size_t j = 0; j < hists.size(); ++j) {
    const auto f = compute::compare_counts(hists[j].counts, live[j]);
    r.per_feature[hists[j].column] = f;
    r.psi_max = std::max(r.psi_max, f.psi);
    r.ks_max = std::max(r.ks_max, f.ks);
    r.psi_mean += f.psi / static_cast<double>(hists.size());
    metrics["psi." + hists[j].column] = f.psi;
    metrics["ks." + hists[j].column] = f.ks;
    const double v = options_.statistic == "psi" ? f.psi : f.ks;
    if (v > worst) {
      worst = v;
      r.worst = hists[j].column;
    }
  }
  metrics["psi_max"] = r.psi_max;
  metrics["psi_mean"] = r.psi_mean;
  metrics["ks_max"] = r.ks_max;
  metrics["served_version"] = static_cast<double>(r.version);
  if (ctx_)
    ctx_->report_metrics(metrics);
  return r;
}

kind_entry drift_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "drift";
  e.schema.doc = "Compares live rows' feature distribution with the served model's training "
                 "histograms (PSI, KS), reports it, and asks for a retrain past a threshold.";
  e.schema.params = {
    required_param("registry", param_type::string, "the registry the served model is read from"),
    required_param("model", param_type::string, "the served model's name in the registry"),
    choice_param("statistic", {"psi", "ks"}, "psi", "the statistic compared with threshold"),
    optional_param("threshold", param_type::number, 0.25,
                   "ask for a retrain when the largest feature's statistic exceeds this"),
    optional_param("window_rows", param_type::integer, 2000, "live rows compared (the newest)"),
    optional_param("check_every", param_type::integer, 500, "compare after this many new rows"),
    optional_param("cooldown", param_type::duration,
                   dsl::value{dsl::duration_value{60'000'000'000}},
                   "ask again for the same served version only after this long"),
  };
  e.schema.inputs = {batch_port("in")};
  e.schema.outputs = {dsl::port_schema{"retrain", "model"}};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<drift>(drift_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
