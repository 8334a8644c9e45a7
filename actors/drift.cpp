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
  o.segment_min_rows = params.get_integer("segment_min_rows");
  o.max_segments = params.get_integer("max_segments");
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
  if (o.segment_min_rows < 1)
    throw step_failure("drift: 'segment_min_rows' must be >= 1");
  if (o.max_segments < 1 || o.max_segments > (std::int64_t{1} << 20))
    throw step_failure("drift: 'max_segments' must be in 1..1048576");
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
  window_.push_back(held{std::move(b), false, {}, {}, {}});
  if (served_)
    bin(window_.back());
  const auto bound = static_cast<std::uint64_t>(options_.window_rows);
  while (!window_.empty() && rows_ - window_.front().rows.rows >= bound) {
    rows_ -= window_.front().rows.rows;
    unbin(window_.front());
    window_.pop_front();
  }
  if (since_check_ < static_cast<std::uint64_t>(options_.check_every))
    return;
  since_check_ = 0;
  auto report = check();
  if (!report)
    return;
  const bool psi = options_.statistic == "psi";
  const double value = psi ? report->psi_max : report->ks_max;
  const double key_value = report->worst_segment.empty() ? 0.0
                           : psi                         ? report->worst_segment_psi
                                                         : report->worst_segment_ks;
  if (!(value > options_.threshold) && !(key_value > options_.threshold))
    return;
  const auto now = std::chrono::steady_clock::now();
  if (asked_for_ == report->version &&
      now - asked_at_ < std::chrono::nanoseconds(options_.cooldown_ns))
    return;
  asked_for_ = report->version;
  asked_at_ = now;
  if (ctx_) {
    const std::string against = " against model '" + options_.model + "' version " +
                                std::to_string(report->version) + "; asking for a retrain";
    const std::string keys =
      report->per_segment ? "; " + std::to_string(report->segments_drifted) + " of " +
                              std::to_string(report->segments_judged) + " judged keys past it"
                          : std::string();
    if (value > options_.threshold)
      ctx_->log_warning("drift: " + options_.statistic + " " + figure(value) + " on '" +
                        report->worst + "' (threshold " + figure(options_.threshold) +
                        ") over " + std::to_string(report->rows) + " rows" + keys + against);
    else
      ctx_->log_warning("drift: " + options_.statistic + " " + figure(key_value) + " on '" +
                        report->worst_segment_feature + "' of key '" + report->worst_segment +
                        "' (threshold " + figure(options_.threshold) + ") over its " +
                        std::to_string(report->worst_segment_rows) + " rows" + keys +
                        " (the whole fleet: " + figure(value) + " over " +
                        std::to_string(report->rows) + " rows)" + against);
  }
  model_message m;
  m.name = options_.model;
  m.artifact = served_bytes_;
  m.version = report->version;
  out.emit_model(0, std::move(m));
  clear_window();
}

void drift::clear_window() {
  window_.clear();
  rows_ = 0;
  binned_rows_ = 0;
  for (auto& counts : live_)
    std::fill(counts.begin(), counts.end(), 0);
  keys_live_.clear();
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
  const auto& fleet = served_->fleet;
  per_segment_ = fleet && !fleet->distributions.empty();
  if (fleet && !per_segment_ && ctx_)
    ctx_->log_info("drift: model '" + options_.model + "' version " +
                   std::to_string(latest->version) + " is a fleet without per-key histograms "
                   "(written before they existed): comparing the whole fleet only");
  segment_of_.clear();
  segment_offsets_.clear();
  if (per_segment_) {
    for (std::size_t i = 0; i < fleet->segments.size(); ++i) {
      segment_of_.emplace(fleet->segments[i].key, static_cast<std::uint32_t>(i));
      std::vector<std::uint32_t> offsets{0};
      for (const auto& h : fleet->distributions[i].features)
        offsets.push_back(offsets.back() + static_cast<std::uint32_t>(h.counts.size()));
      segment_offsets_.push_back(std::move(offsets));
    }
  }
  said_no_key_column_ = said_untracked_ = said_unfit_ = false;
  rebin();
  return true;
}

void drift::rebin() {
  live_.clear();
  for (const auto& h : served_->trained_on->features)
    live_.emplace_back(h.counts.size(), 0);
  keys_live_.clear();
  binned_rows_ = 0;
  for (auto& h : window_) {
    h.binned = false;
    bin(h);
  }
}

void drift::bin(held& h) {
  const auto& a = *served_;
  const auto& hists = a.trained_on->features;
  const std::size_t f = hists.size();
  batch b = h.rows;
  try {
    apply_preprocessing(a.preprocessing, b);
  } catch (const std::exception& e) {
    if (ctx_ && !said_unfit_)
      ctx_->log_warning("drift: the served model's preprocessing does not fit the rows: " +
                        std::string(e.what()) + "; such rows are left out");
    said_unfit_ = true;
    return;
  }
  // Each histogram's column among the preprocessed batch's float columns (-1: absent).
  std::vector<long> column(f, -1);
  {
    std::size_t slot = 0;
    for (const auto& c : b.schema->columns) {
      if (c.kind == column_kind::categorical)
        continue;
      if (c.kind == column_kind::numeric)
        for (std::size_t j = 0; j < f; ++j)
          if (hists[j].column == c.name)
            column[j] = static_cast<long>(slot);
      ++slot;
    }
  }
  const std::uint32_t n = b.rows;
  h.bins.assign(std::size_t{n} * f, no_bin);
  for (std::size_t j = 0; j < f; ++j) {
    if (column[j] < 0)
      continue;
    const float* x = b.float_column(static_cast<std::size_t>(column[j]));
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto at = compute::bin_of(hists[j], x[i]);
      if (at == SIZE_MAX)
        continue;
      h.bins[std::size_t{i} * f + j] = static_cast<std::uint8_t>(at);
      ++live_[j][at];
    }
  }
  h.binned = true;
  binned_rows_ += n;
  if (!per_segment_)
    return;
  // Per key: the rows' keys (the raw batch's `by` column) and their bins in their key's
  // own histograms.
  const auto& fleet = *a.fleet;
  const int key_column = h.rows.schema->find(fleet.by);
  if (key_column < 0 || h.rows.schema->columns[static_cast<std::size_t>(key_column)].kind !=
                          column_kind::categorical) {
    if (ctx_ && !said_no_key_column_)
      ctx_->log_info("drift: the rows have no categorical column '" + fleet.by +
                     "' (the fleet's key): comparing the whole fleet only");
    said_no_key_column_ = true;
    return;
  }
  std::size_t categorical = 0;
  for (int c = 0; c < key_column; ++c)
    if (h.rows.schema->columns[static_cast<std::size_t>(c)].kind == column_kind::categorical)
      ++categorical;
  const auto& keys = h.rows.categoricals[categorical];
  std::vector<std::int32_t> segment_of_code(keys.dictionary.size(), -1);
  for (std::size_t d = 0; d < keys.dictionary.size(); ++d) {
    const auto at = segment_of_.find(keys.dictionary[d]);
    if (at != segment_of_.end())
      segment_of_code[d] = static_cast<std::int32_t>(at->second);
  }
  h.segment.assign(n, -1);
  h.key_bins.assign(std::size_t{n} * f, no_bin);
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto code = keys.codes[i];
    if (code < 0 || segment_of_code[static_cast<std::size_t>(code)] < 0)
      continue; // no key, or one the fleet does not know: the whole window's only
    const auto s = static_cast<std::uint32_t>(segment_of_code[static_cast<std::size_t>(code)]);
    auto live = keys_live_.find(s);
    if (live == keys_live_.end()) {
      if (keys_live_.size() >= static_cast<std::size_t>(options_.max_segments)) {
        if (ctx_ && !said_untracked_)
          ctx_->log_warning("drift: more than " + std::to_string(options_.max_segments) +
                            " keys have rows in the window (max_segments): rows of further "
                            "keys count toward the whole fleet only");
        said_untracked_ = true;
        continue;
      }
      live = keys_live_.emplace(s, key_live{0, std::vector<std::uint32_t>(segment_offsets_[s].back(), 0)})
               .first;
    }
    h.segment[i] = static_cast<std::int32_t>(s);
    ++live->second.rows;
    const auto& dist = fleet.distributions[s].features;
    const auto& offsets = segment_offsets_[s];
    for (std::size_t j = 0; j < f; ++j) {
      if (column[j] < 0)
        continue;
      const float v = b.float_column(static_cast<std::size_t>(column[j]))[i];
      const auto at = compute::bin_of(dist[j], v);
      if (at == SIZE_MAX)
        continue;
      h.key_bins[std::size_t{i} * f + j] = static_cast<std::uint8_t>(at);
      ++live->second.counts[offsets[j] + at];
    }
  }
}

void drift::unbin(const held& h) {
  if (!h.binned)
    return;
  const std::size_t f = live_.size();
  const std::uint32_t n = h.rows.rows;
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < f; ++j)
      if (const auto at = h.bins[std::size_t{i} * f + j]; at != no_bin)
        --live_[j][at];
  binned_rows_ -= n;
  for (std::uint32_t i = 0; i < h.segment.size(); ++i) {
    if (h.segment[i] < 0)
      continue;
    const auto s = static_cast<std::uint32_t>(h.segment[i]);
    auto live = keys_live_.find(s);
    const auto& offsets = segment_offsets_[s];
    for (std::size_t j = 0; j < f; ++j)
      if (const auto at = h.key_bins[std::size_t{i} * f + j]; at != no_bin)
        --live->second.counts[offsets[j] + at];
    if (--live->second.rows == 0)
      keys_live_.erase(live); // its slot is free for another key
  }
}

void drift::judge_segments(drift_report& r, std::map<std::string, double>& metrics) const {
  const auto& fleet = *served_->fleet;
  const bool psi = options_.statistic == "psi";
  double worst = -1;
  std::vector<std::uint64_t> live;
  for (const auto& [s, k] : keys_live_) {
    if (k.rows < static_cast<std::uint64_t>(options_.segment_min_rows))
      continue;
    ++r.segments_judged;
    const auto& dist = fleet.distributions[s].features;
    const auto& offsets = segment_offsets_[s];
    double key_psi = 0, key_ks = 0, key_worst = -1;
    std::string feature;
    for (std::size_t j = 0; j < dist.size(); ++j) {
      live.assign(k.counts.begin() + offsets[j], k.counts.begin() + offsets[j + 1]);
      const auto fig = compute::compare_counts(dist[j].counts, live);
      key_psi = std::max(key_psi, fig.psi);
      key_ks = std::max(key_ks, fig.ks);
      const double v = psi ? fig.psi : fig.ks;
      if (v > key_worst) {
        key_worst = v;
        feature = dist[j].column;
      }
    }
    if (key_worst > options_.threshold)
      ++r.segments_drifted;
    if (key_worst > worst) {
      worst = key_worst;
      r.worst_segment = fleet.segments[s].key;
      r.worst_segment_index = s;
      r.worst_segment_rows = k.rows;
      r.worst_segment_psi = key_psi;
      r.worst_segment_ks = key_ks;
      r.worst_segment_feature = feature;
    }
  }
  metrics["segments_judged"] = static_cast<double>(r.segments_judged);
  metrics["segments_drifted"] = static_cast<double>(r.segments_drifted);
  metrics["segments_tracked"] = static_cast<double>(keys_live_.size());
  const bool any = !r.worst_segment.empty();
  metrics["segment_worst"] = any ? static_cast<double>(r.worst_segment_index) : -1.0;
  metrics["segment_worst_psi"] = r.worst_segment_psi;
  metrics["segment_worst_ks"] = r.worst_segment_ks;
  metrics["segment_worst_rows"] = static_cast<double>(r.worst_segment_rows);
}

std::optional<drift_report> drift::check() {
  if (!refresh_served() || binned_rows_ == 0)
    return std::nullopt;
  const auto& hists = served_->trained_on->features;
  drift_report r;
  r.version = served_version_;
  r.rows = binned_rows_;
  std::map<std::string, double> metrics;
  double worst = -1;
  for (std::size_t j = 0; j < hists.size(); ++j) {
    const auto f = compute::compare_counts(hists[j].counts, live_[j]);
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
  r.per_segment = per_segment_ && !said_no_key_column_;
  if (r.per_segment)
    judge_segments(r, metrics);
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
    optional_param("segment_min_rows", param_type::integer, 500,
                   "fleets, per key: a key with fewer live rows in the window is not judged"),
    optional_param("max_segments", param_type::integer, 10000,
                   "fleets, per key: live histograms for at most this many keys at a time"),
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
