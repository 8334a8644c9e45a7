// Compilation walks the ops symbolically over the list of column names (what
// apply_preprocessing does to a batch's schema), recording per surviving column where it
// came from and which elementwise ops touched it.
#include "serving/features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

namespace conveyor::serving {

namespace {

using op_kind = column_op::kind;

[[noreturn]] void not_servable(const std::string& column, const std::string& why) {
  throw std::invalid_argument("column '" + column + "': " + why);
}

} // namespace

bool all_finite(const float* values, std::size_t n) noexcept {
  // A float is NaN or infinite exactly when its exponent bits are all ones, that is when
  // adding one to the exponent carries into the sign bit. Sixteen independent lanes let
  // the compiler vectorize the loop at -O2.
  constexpr std::uint32_t exponent = 0x7f800000u, exponent_one = 0x00800000u;
  constexpr std::size_t block = 16;
  std::uint32_t lanes[block] = {};
  std::size_t i = 0;
  for (; i + block <= n; i += block) {
    std::uint32_t bits[block];
    std::memcpy(bits, values + i, sizeof bits);
    for (std::size_t k = 0; k < block; ++k)
      lanes[k] |= (bits[k] & exponent) + exponent_one;
  }
  std::uint32_t carry = 0;
  for (std::size_t k = 0; k < block; ++k)
    carry |= lanes[k];
  for (; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    carry |= (bits & exponent) + exponent_one;
  }
  return (carry & 0x80000000u) == 0;
}

feature_builder::feature_builder(const compute::model_artifact& a) {
  const auto& names = a.input_columns.empty() ? a.feature_columns : a.input_columns;
  const auto model_width = static_cast<std::size_t>(a.spec.layers.front());
  if (names.empty()) { // a model trained without column names: rows are its inputs as they are
    input_width_ = static_cast<std::uint32_t>(model_width);
    features_.resize(model_width);
    for (std::uint32_t i = 0; i < input_width_; ++i)
      features_[i].source = i;
    used_.assign(input_width_, true);
    if (!a.preprocessing.ops.empty())
      throw std::invalid_argument("the model has preprocessing but no column names");
    return;
  }
  input_width_ = static_cast<std::uint32_t>(names.size());
  names_ = names;

  struct column {
    std::string name;
    feature f;
  };
  std::vector<column> columns;
  columns.reserve(names.size());
  for (std::uint32_t i = 0; i < names.size(); ++i)
    columns.push_back({names[i], feature{i, {}}});
  auto find = [&](const std::string& name) {
    return std::find_if(columns.begin(), columns.end(),
                        [&](const column& c) { return c.name == name; });
  };
  for (const auto& op : a.preprocessing.ops) {
    auto it = find(op.column);
    if (op.op == op_kind::drop) {
      if (it != columns.end()) // dropping an absent column is a no-op, as in training
        columns.erase(it);
      continue;
    }
    if (op.op == op_kind::one_hot || !op.categories.empty())
      not_servable(op.column, "is categorical; inference protocol v1 carries numbers only");
    if (it == columns.end())
      not_servable(op.column, "its preprocessing names a column the model's inputs lack");
    it->f.ops.emplace_back(op);
  }
  if (a.feature_columns.empty()) {
    for (auto& c : columns)
      features_.push_back(std::move(c.f));
  } else {
    for (const auto& name : a.feature_columns) {
      auto it = find(name);
      if (it == columns.end())
        not_servable(name, "a feature the model's preprocessing does not produce");
      features_.push_back(it->f);
    }
  }
  if (features_.size() != model_width)
    throw std::invalid_argument("preprocessing yields " + std::to_string(features_.size()) +
                                " features; the model takes " + std::to_string(model_width));
  used_.assign(input_width_, false);
  for (const auto& f : features_) {
    used_[f.source] = true;
    for (const auto& op : f.ops)
      if (op.kind == op_kind::clip && (clipped_.empty() || clipped_.back() != f.source))
        clipped_.push_back(f.source);
  }
  identity_ = features_.size() == input_width_;
  for (std::uint32_t j = 0; identity_ && j < features_.size(); ++j)
    identity_ = features_[j].source == j && features_[j].ops.empty();
  bool single = !features_.empty();
  for (const auto& f : features_)
    single = single && f.ops.size() == 1 && f.ops[0].kind == features_[0].ops[0].kind;
  if (single) {
    single_kind_ = features_[0].ops[0].kind;
    for (const auto& f : features_) {
      sources_.push_back(f.source);
      single_.push_back(f.ops[0]);
      params_p_.push_back(f.ops[0].p);
      params_q_.push_back(f.ops[0].q);
    }
    in_order_ = features_.size() == input_width_;
    for (std::uint32_t j = 0; in_order_ && j < sources_.size(); ++j)
      in_order_ = sources_[j] == j;
  }
}

namespace {

/// elementwise_op::apply<K> (the arithmetic training used) with the parameters given
/// apart, so that a loop passing them from arrays vectorizes.
template <column_op::kind K>
inline float apply_with(elementwise_op op, float p, float q, float x) noexcept {
  op.p = p;
  op.q = q;
  return op.apply<K>(x);
}

} // namespace

template <column_op::kind K>
void feature_builder::build_single(const float* raw, std::uint32_t rows, float* out) const {
  const std::size_t in = input_width_, width = single_.size();
  const std::uint32_t* src = sources_.data();
  const elementwise_op* ops = single_.data();
  if (in_order_) {
    const elementwise_op op = single_.front();
    const float* __restrict p = params_p_.data();
    const float* __restrict q = params_q_.data();
    for (std::size_t r = 0; r < rows; ++r) {
      const float* __restrict from = raw + r * in;
      float* __restrict to = out + r * width;
      for (std::size_t j = 0; j < width; ++j)
        to[j] = apply_with<K>(op, p[j], q[j], from[j]);
    }
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const float* from = raw + r * in;
    float* to = out + r * width;
    for (std::size_t j = 0; j < width; ++j)
      to[j] = ops[j].apply<K>(from[src[j]]);
  }
}

void feature_builder::build(const float* raw, std::uint32_t rows, std::vector<float>& out) const {
  out.resize(std::size_t{rows} * features_.size());
  build(raw, rows, out.data());
}

void feature_builder::build(const float* raw, std::uint32_t rows, float* out) const {
  const std::size_t in = input_width_, width = features_.size();
  if (identity_) {
    std::copy(raw, raw + rows * in, out);
    return;
  }
  if (single_kind_) {
    using k = column_op::kind;
    switch (*single_kind_) {
      case k::impute: return build_single<k::impute>(raw, rows, out);
      case k::standardize: return build_single<k::standardize>(raw, rows, out);
      case k::min_max: return build_single<k::min_max>(raw, rows, out);
      case k::scale: return build_single<k::scale>(raw, rows, out);
      case k::clip: return build_single<k::clip>(raw, rows, out);
      default: break;
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const float* from = raw + r * in;
    float* to = out + r * width;
    for (std::size_t j = 0; j < width; ++j) {
      const auto& f = features_[j];
      float v = from[f.source];
      for (const auto& op : f.ops)
        v = op(v);
      to[j] = v;
    }
  }
}

std::string feature_builder::column_text(std::uint32_t column) const {
  auto text = "column " + std::to_string(column);
  return names_.empty() ? text : text + " ('" + names_[column] + "')";
}

bool feature_builder::clipped_infinity(const float* raw, std::uint32_t rows) const {
  for (std::uint32_t r = 0; r < rows; ++r)
    for (auto c : clipped_)
      if (std::isinf(raw[std::size_t{r} * input_width_ + c]))
        return true;
  return false;
}

std::optional<std::string> feature_builder::find_unusable(const float* raw, const float* features,
                                                          std::uint32_t rows) const {
  // Every unusable value but one shows in the features: a NaN that is not imputed stays
  // NaN, an infinity stays infinite, an overflow becomes one. The exception is an
  // infinity that a clip turns into a number, so only clipped columns are read raw.
  const std::size_t in = input_width_, width = features_.size();
  if (all_finite(features, rows * width) && !clipped_infinity(raw, rows))
    return std::nullopt;
  for (std::uint32_t r = 0; r < rows; ++r) {
    const float* from = raw + r * in;
    const float* to = features + r * width;
    if (all_finite(to, width) && !clipped_infinity(from, 1))
      continue;
    const auto where = [&](std::uint32_t c) {
      return "row " + std::to_string(r) + ", " + column_text(c) + ": ";
    };
    for (std::uint32_t c = 0; c < in; ++c)
      if (std::isinf(from[c]) && used_[c])
        return where(c) + (from[c] > 0 ? "infinity" : "-infinity") + " is not a usable value";
    for (std::size_t j = 0; j < width; ++j) {
      if (std::isfinite(to[j]))
        continue;
      const auto c = features_[j].source;
      if (std::isnan(from[c]))
        return where(c) + "NaN (a missing value), and the model's preprocessing does not impute this column";
      char value[32];
      std::snprintf(value, sizeof value, "%g", static_cast<double>(from[c]));
      return where(c) + value + " is out of range: the model's preprocessing makes it " +
             (std::isnan(to[j]) ? "NaN" : "infinite");
    }
  }
  return std::nullopt;
}

} // namespace conveyor::serving
