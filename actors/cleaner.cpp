#include "actors/cleaner.hpp"

#include "data/apply_preprocessing.hpp"
#include "data/batch_rows.hpp"
#include "actors/kind_schema_builder.hpp"
#include "data/preprocessing_codec.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <unordered_map>

namespace conveyor {

namespace {

using op_kind = column_op::kind;

/// Float-column index of each schema column (or SIZE_MAX for categoricals).
std::vector<std::size_t> float_slots(const table_schema& s) {
  std::vector<std::size_t> out(s.columns.size(), SIZE_MAX);
  std::size_t k = 0;
  for (std::size_t i = 0; i < s.columns.size(); ++i)
    if (s.columns[i].kind != column_kind::categorical)
      out[i] = k++;
  return out;
}

std::vector<std::size_t> categorical_slots(const table_schema& s) {
  std::vector<std::size_t> out(s.columns.size(), SIZE_MAX);
  std::size_t k = 0;
  for (std::size_t i = 0; i < s.columns.size(); ++i)
    if (s.columns[i].kind == column_kind::categorical)
      out[i] = k++;
  return out;
}

std::string column_list(const table_schema& s) {
  std::string out;
  for (const auto& c : s.columns) {
    if (!out.empty())
      out += ", ";
    if (out.size() > 200) {
      out += "...";
      break;
    }
    out += c.name;
  }
  return out;
}

/// Resolves a parameter's column list against `s`: "*" means every column of `kind`;
/// a named column must exist and have that kind.
std::vector<std::string> resolve(const std::vector<std::string>& names, const table_schema& s,
                                 column_kind kind, const char* param) {
  std::vector<std::string> out;
  if (names.size() == 1 && names[0] == "*") {
    for (const auto& c : s.columns)
      if (c.kind == kind)
        out.push_back(c.name);
    return out;
  }
  for (const auto& n : names) {
    int i = s.find(n);
    if (i < 0)
      throw step_failure("cleaner: parameter '" + std::string(param) + "' names column '" + n +
                         "', which the input lacks (columns: " + column_list(s) + ")");
    if (s.columns[static_cast<std::size_t>(i)].kind != kind)
      throw step_failure("cleaner: parameter '" + std::string(param) + "' needs " +
                         to_string(kind) + " columns, but '" + n + "' is " +
                         to_string(s.columns[static_cast<std::size_t>(i)].kind));
    out.push_back(n);
  }
  return out;
}

/// Statistics of float columns over the held batches, ignoring NaN.
struct float_stats {
  double sum = 0;
  double sum_sq_dev = 0;
  std::uint64_t count = 0;
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  double mean() const { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
};

/// Calls `fn(column_index_in_targets, const float* column, rows)` for every target
/// column of every held batch.
template <class F>
void for_each_target(const std::deque<batch>& held, const std::vector<std::string>& targets,
                     F fn) {
  // Held batches usually share one schema object: resolve targets once per schema.
  const table_schema* resolved_for = nullptr;
  std::vector<std::size_t> target_slots;
  for (const auto& b : held) {
    if (b.schema.get() != resolved_for) {
      resolved_for = b.schema.get();
      auto slots = float_slots(*b.schema);
      std::unordered_map<std::string, std::size_t> slot_of;
      for (std::size_t i = 0; i < slots.size(); ++i)
        if (slots[i] != SIZE_MAX)
          slot_of.emplace(b.schema->columns[i].name, slots[i]);
      target_slots.assign(targets.size(), SIZE_MAX);
      for (std::size_t t = 0; t < targets.size(); ++t) {
        auto it = slot_of.find(targets[t]);
        if (it != slot_of.end())
          target_slots[t] = it->second;
      }
    }
    for (std::size_t t = 0; t < targets.size(); ++t)
      if (target_slots[t] != SIZE_MAX)
        fn(t, b.float_column(target_slots[t]), std::size_t{b.rows});
  }
}

std::vector<float_stats> mean_and_range(const std::deque<batch>& held,
                                        const std::vector<std::string>& targets) {
  std::vector<float_stats> st(targets.size());
  for_each_target(held, targets, [&](std::size_t t, const float* x, std::size_t n) {
    auto& s = st[t];
    for (std::size_t r = 0; r < n; ++r) {
      float v = x[r];
      if (std::isnan(v))
        continue;
      s.sum += v;
      ++s.count;
      s.min = std::min(s.min, v);
      s.max = std::max(s.max, v);
    }
  });
  return st;
}

void add_deviations(const std::deque<batch>& held, const std::vector<std::string>& targets,
                    std::vector<float_stats>& st) {
  for_each_target(held, targets, [&](std::size_t t, const float* x, std::size_t n) {
    auto& s = st[t];
    const double m = s.mean();
    for (std::size_t r = 0; r < n; ++r) {
      if (std::isnan(x[r]))
        continue;
      double d = x[r] - m;
      s.sum_sq_dev += d * d;
    }
  });
}

/// Occurrences of each value of categorical column `name` over the held batches.
std::map<std::string, std::uint64_t> value_counts(const std::deque<batch>& held,
                                                  const std::string& name) {
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::uint64_t> per_code;
  for (const auto& b : held) {
    int i = b.schema->find(name);
    if (i < 0)
      continue;
    auto slot = categorical_slots(*b.schema)[static_cast<std::size_t>(i)];
    if (slot == SIZE_MAX)
      continue;
    const auto& col = b.categoricals[slot];
    per_code.assign(col.dictionary.size(), 0);
    for (auto c : col.codes)
      if (c >= 0)
        ++per_code[static_cast<std::size_t>(c)];
    for (std::size_t d = 0; d < per_code.size(); ++d)
      if (per_code[d] > 0)
        counts[col.dictionary[d]] += per_code[d];
  }
  return counts;
}

} // namespace

cleaner_options cleaner_options::from(const step_params& params) {
  cleaner_options o;
  o.scale = params.get_number("scale");
  if (!std::isfinite(o.scale))
    throw step_failure("cleaner: parameter 'scale' must be finite");
  o.standardize = params.get_strings("standardize");
  o.min_max = params.get_strings("min_max");
  o.clip = params.get_numbers("clip");
  if (!o.clip.empty() && (o.clip.size() != 2 || !(o.clip[0] <= o.clip[1])))
    throw step_failure("cleaner: parameter 'clip' must be [lo, hi] with lo <= hi");
  o.one_hot = params.get_strings("one_hot");
  o.drop = params.get_strings("drop");
  auto m = params.get_string("missing");
  if (m == "keep")
    o.missing = missing_policy::keep;
  else if (m == "drop")
    o.missing = missing_policy::drop;
  else if (m == "impute")
    o.missing = missing_policy::impute;
  else
    throw step_failure("cleaner: parameter 'missing' must be \"keep\", \"drop\" or \"impute\", "
                       "got \"" + m + "\"");
  auto f = params.get_integer("fit_rows");
  if (f < 0)
    throw step_failure("cleaner: parameter 'fit_rows' must be >= 0 (0: fit on all rows)");
  o.fit_rows = static_cast<std::uint64_t>(f);
  const auto every = params.get_integer("refit_every_rows");
  if (every < 0)
    throw step_failure("cleaner: parameter 'refit_every_rows' must be >= 0 (0: no row trigger)");
  o.refit_every_rows = static_cast<std::uint64_t>(every);
  o.refit_every_ns = params.get_duration_ns("refit_every");
  o.refit_on_drift = params.get_bool("refit_on_drift");
  if (o.refits() && o.fit_rows == 0)
    throw step_failure("cleaner: refitting on a stream (refit_every_rows, refit_every, "
                       "refit_on_drift) refits on the newest fit_rows rows: set fit_rows > 0");
  if (o.refits() && o.fit_rows > (std::uint64_t{1} << 24))
    throw step_failure("cleaner: refitting on a stream keeps fit_rows rows: at most 16777216");
  return o;
}

cleaner::cleaner(cleaner_options options) : options_(std::move(options)) {}

void cleaner::open(step_context& ctx) {
  ctx_ = &ctx;
  if (auto state = ctx.load_state()) {
    try {
      fitted_ = std::make_shared<const preprocessing>(decode_preprocessing(*state));
    } catch (const std::exception& e) {
      throw step_failure(std::string("cleaner: cannot load the saved preprocessing: ") +
                         e.what());
    }
    ctx.log_info("loaded the fitted preprocessing (" + std::to_string(fitted_->ops.size()) +
                 " ops); not refitting");
  }
}

void cleaner::filter_missing(batch& b) {
  if (options_.missing != cleaner_options::missing_policy::drop || b.rows == 0)
    return;
  std::vector<bool> consider(b.schema->columns.size());
  for (std::size_t i = 0; i < consider.size(); ++i)
    consider[i] = std::find(options_.drop.begin(), options_.drop.end(),
                            b.schema->columns[i].name) == options_.drop.end();
  auto missing = missing_rows(b, consider);
  std::vector<std::uint32_t> keep;
  keep.reserve(b.rows);
  for (std::uint32_t r = 0; r < b.rows; ++r)
    if (!missing[r])
      keep.push_back(r);
  if (keep.size() == b.rows)
    return;
  ctx_->reject(b.rows - keep.size(), "missing values");
  b = select_rows(b, keep);
}

void cleaner::fit() {
  if (held_.empty())
    return;
  fitted_ = std::make_shared<const preprocessing>(fit_on(held_));
  fitted_at_ = std::chrono::steady_clock::now();
  rows_since_fit_ = 0;
  ctx_->save_state(encode_preprocessing(*fitted_));
  ctx_->log_info("fitted " + std::to_string(fitted_->ops.size()) + " ops on " +
                 std::to_string(held_rows_) + " rows");
}

preprocessing cleaner::fit_on(std::deque<batch>& held) const {
  preprocessing all;
  auto stage = [&](std::vector<column_op> ops) {
    if (ops.empty())
      return;
    preprocessing p{std::move(ops)};
    for (auto& b : held)
      apply_preprocessing(p, b);
    all.ops.insert(all.ops.end(), p.ops.begin(), p.ops.end());
  };
  auto schema = [&]() -> const table_schema& { return *held.front().schema; };

  // 1. drop
  std::vector<column_op> ops;
  for (const auto& name : options_.drop) {
    if (schema().find(name) < 0)
      throw step_failure("cleaner: parameter 'drop' names column '" + name +
                         "', which the input lacks (columns: " + column_list(schema()) + ")");
    ops.push_back({op_kind::drop, name, 0, 0, {}});
  }
  stage(std::move(ops));

  // 2. impute: numeric features -> mean, categorical -> most frequent value
  if (options_.missing == cleaner_options::missing_policy::impute) {
    ops.clear();
    auto numeric = resolve({"*"}, schema(), column_kind::numeric, "missing");
    auto st = mean_and_range(held, numeric);
    for (std::size_t t = 0; t < numeric.size(); ++t)
      ops.push_back({op_kind::impute, numeric[t], st[t].mean(), 0, {}});
    for (const auto& name : resolve({"*"}, schema(), column_kind::categorical, "missing")) {
      auto counts = value_counts(held, name);
      const std::string* best = nullptr;
      std::uint64_t best_count = 0;
      for (const auto& [value, n] : counts)
        if (n > best_count) { // map order: ties go to the smallest value
          best = &value;
          best_count = n;
        }
      if (best != nullptr)
        ops.push_back({op_kind::impute, name, 0, 0, {*best}});
    }
    stage(std::move(ops));
  }

  // 3. standardize: population standard deviation; 0 -> 1
  if (!options_.standardize.empty()) {
    ops.clear();
    auto targets = resolve(options_.standardize, schema(), column_kind::numeric, "standardize");
    auto st = mean_and_range(held, targets);
    add_deviations(held, targets, st);
    for (std::size_t t = 0; t < targets.size(); ++t) {
      double sd = st[t].count > 0 ? std::sqrt(st[t].sum_sq_dev / static_cast<double>(st[t].count))
                                  : 0.0;
      ops.push_back({op_kind::standardize, targets[t], st[t].mean(), sd > 0 ? sd : 1.0, {}});
    }
    stage(std::move(ops));
  }

  // 4. min_max: a constant column (max == min) maps to 0
  if (!options_.min_max.empty()) {
    ops.clear();
    auto targets = resolve(options_.min_max, schema(), column_kind::numeric, "min_max");
    auto st = mean_and_range(held, targets);
    for (std::size_t t = 0; t < targets.size(); ++t) {
      double lo = st[t].count > 0 ? st[t].min : 0.0;
      double hi = st[t].count > 0 ? st[t].max : 1.0;
      ops.push_back({op_kind::min_max, targets[t], lo, hi > lo ? hi : lo + 1.0, {}});
    }
    stage(std::move(ops));
  }

  // 5. scale, 6. clip: every numeric feature column
  if (options_.scale != 1.0) {
    ops.clear();
    for (const auto& name : resolve({"*"}, schema(), column_kind::numeric, "scale"))
      ops.push_back({op_kind::scale, name, options_.scale, 0, {}});
    stage(std::move(ops));
  }
  if (options_.clip.size() == 2) {
    ops.clear();
    for (const auto& name : resolve({"*"}, schema(), column_kind::numeric, "clip"))
      ops.push_back({op_kind::clip, name, options_.clip[0], options_.clip[1], {}});
    stage(std::move(ops));
  }

  // 7. one_hot: categories sorted lexicographically
  if (!options_.one_hot.empty()) {
    ops.clear();
    for (const auto& name :
         resolve(options_.one_hot, schema(), column_kind::categorical, "one_hot")) {
      column_op op{op_kind::one_hot, name, 0, 0, {}};
      for (const auto& [value, n] : value_counts(held, name))
        op.categories.push_back(value);
      ops.push_back(std::move(op));
    }
    stage(std::move(ops));
  }
  return all;
}

void cleaner::keep_recent(const batch& b) {
  if (b.rows == 0)
    return;
  recent_.push_back(b);
  recent_rows_ += b.rows;
  while (recent_rows_ - recent_.front().rows >= options_.fit_rows) {
    recent_rows_ -= recent_.front().rows;
    recent_.pop_front();
  }
}

void cleaner::refit() {
  auto rows = recent_; // fitting transforms the rows it fits on: the window stays raw
  fitted_ = std::make_shared<const preprocessing>(fit_on(rows));
  fitted_at_ = std::chrono::steady_clock::now();
  rows_since_fit_ = 0;
  drift_pending_ = false;
  ++refits_;
  ctx_->save_state(encode_preprocessing(*fitted_));
  ctx_->log_info("refitted " + std::to_string(fitted_->ops.size()) + " ops on the newest " +
                 std::to_string(recent_rows_) + " rows");
  ctx_->report_metrics({{"refits", static_cast<double>(refits_)}});
}

void cleaner::consume_model(std::size_t, model_message m, emitter&) {
  if (!options_.refit_on_drift) {
    ctx_->log_warning("a model arrived on 'refit' ('" + m.name +
                      "') but refit_on_drift is false; not refitting");
    return;
  }
  ctx_->log_info("drift reported on model '" + m.name + "': refitting once " +
                 std::to_string(options_.fit_rows) + " new rows have come");
  recent_.clear();
  recent_rows_ = 0;
  drift_pending_ = true;
}

void cleaner::emit_transformed(batch b, emitter& out, bool already_transformed) {
  if (!already_transformed) {
    try {
      apply_preprocessing(*fitted_, b);
    } catch (const std::invalid_argument& e) {
      throw step_failure("cleaner: batch " + std::to_string(b.sequence) + " from '" + b.source +
                         "' does not fit the fitted preprocessing: " + e.what());
    }
  }
  if (!b.transform) {
    b.transform = fitted_;
  } else {
    if (b.transform != last_upstream_ || !combined_) {
      auto combined = std::make_shared<preprocessing>(*b.transform);
      combined->ops.insert(combined->ops.end(), fitted_->ops.begin(), fitted_->ops.end());
      last_upstream_ = b.transform;
      combined_ = std::move(combined);
    }
    b.transform = combined_;
  }
  out.emit(0, std::move(b));
}

bool cleaner_options::needs_statistics() const {
  return !standardize.empty() || !min_max.empty() || !one_hot.empty() ||
         missing == missing_policy::impute;
}

void cleaner::consume(std::size_t port, batch b, emitter& out) {
  filter_missing(b);
  if (options_.refits()) {
    keep_recent(b);
    rows_since_fit_ += b.rows;
    if (fitted_ && !recent_.empty()) {
      const bool window_full = recent_rows_ >= options_.fit_rows;
      const bool due =
        drift_pending_ ? window_full
                       : (options_.refit_every_rows > 0 &&
                          rows_since_fit_ >= options_.refit_every_rows) ||
                           (options_.refit_every_ns > 0 &&
                            std::chrono::steady_clock::now() - fitted_at_ >=
                              std::chrono::nanoseconds(options_.refit_every_ns));
      if (due)
        refit();
    }
  }
  if (fitted_) {
    emit_transformed(std::move(b), out, false);
    return;
  }
  held_rows_ += b.rows;
  held_.push_back(std::move(b));
  const bool window_full = options_.fit_rows != 0 && held_rows_ >= options_.fit_rows;
  if (window_full || !options_.needs_statistics())
    finish(out);
}

void cleaner::finish(emitter& out) {
  if (!fitted_)
    fit();
  while (!held_.empty()) {
    emit_transformed(std::move(held_.front()), out, true);
    held_.pop_front();
  }
}

kind_entry cleaner_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "cleaner";
  e.schema.doc = "Fits preprocessing (drop, impute, standardize, min_max, scale, clip, "
                 "one_hot) on the first rows and applies it to every batch.";
  e.schema.params = {
    optional_param("scale", param_type::number, 1.0,
                   "multiply every numeric feature column (never the label)"),
    optional_param("standardize", param_type::list_of_string, empty_list(),
                   "numeric columns to z-score; [\"*\"]: all numeric features"),
    optional_param("min_max", param_type::list_of_string, empty_list(),
                   "numeric columns to rescale to [0, 1]; [\"*\"]: all"),
    optional_param("clip", param_type::list_of_number, empty_list(),
                   "[lo, hi]: clip every numeric feature after the other transforms"),
    optional_param("one_hot", param_type::list_of_string, empty_list(),
                   "categorical columns to one-hot encode; [\"*\"]: all"),
    optional_param("drop", param_type::list_of_string, empty_list(), "columns to remove"),
    choice_param("missing", {"keep", "drop", "impute"}, "keep",
                 "rows with missing values: keep, drop (counted as rejects) or impute"),
    optional_param("fit_rows", param_type::integer, 100000,
                   "rows used to fit statistics; 0: all rows (held until the input ends)"),
    optional_param("refit_every_rows", param_type::integer, 0,
                   "streams: refit on the newest fit_rows rows after this many new rows "
                   "(0: never)"),
    optional_param("refit_every", param_type::duration, dsl::value{dsl::duration_value{0}},
                   "streams: refit on the newest fit_rows rows this often (0: never)"),
    optional_param("refit_on_drift", param_type::boolean, false,
                   "streams: refit on fit_rows new rows after a model arrives on 'refit'"),
  };
  e.schema.inputs = {batch_port("in"), dsl::port_schema{"refit", "model"}};
  e.schema.outputs = {batch_port("out")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<cleaner>(cleaner_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
