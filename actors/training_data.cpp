#include "actors/training_data.hpp"

#include "step/step.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

namespace conveyor {

void training_data::shard(int shard, int shards) {
  shard_ = shard;
  shards_ = std::max(1, shards);
}

void training_data::add(const batch& b) {
  if (assembled_ || !b.schema || b.rows == 0)
    return;
  const auto& cols = b.schema->columns;
  std::vector<std::size_t> feature_slots;
  std::vector<std::string> names;
  std::size_t label_slot = SIZE_MAX;
  std::size_t k = 0;
  const categorical_column* key_column = nullptr;
  std::size_t categorical_index = 0;
  std::string other_categorical;
  for (const auto& c : cols) {
    if (c.kind == column_kind::categorical && !by_.empty() && c.name == by_) {
      key_column = &b.categoricals.at(categorical_index++);
      continue;
    }
    if (c.kind == column_kind::categorical) {
      if (other_categorical.empty())
        other_categorical = c.name;
      ++categorical_index;
      continue;
    }
    if (c.kind == column_kind::label) {
      if (label_slot == SIZE_MAX)
        label_slot = k;
    } else {
      feature_slots.push_back(k);
      names.push_back(c.name);
    }
    ++k;
  }
  if (!by_.empty() && !key_column)
    throw step_failure("trainer: by = \"" + by_ + "\" but the input has no categorical column '" +
                       by_ + "' (list it in the reader's 'categorical')");
  if (!other_categorical.empty())
    throw step_failure("trainer: column '" + other_categorical +
                       "' is categorical; one_hot it (cleaner) or drop it before training");
  if (label_slot == SIZE_MAX)
    throw step_failure("trainer: the input has no label column");
  if (feature_slots.empty())
    throw step_failure("trainer: the input has no numeric feature columns");
  if (feature_columns_.empty())
    feature_columns_ = names;
  else if (feature_columns_ != names)
    throw step_failure("trainer: batch " + std::to_string(b.sequence) + " from '" + b.source +
                       "' has other feature columns than the first batch");
  if (!transform_ && b.transform)
    transform_ = b.transform;
  if (source_.empty())
    source_ = b.source;

  cached c;
  c.first_row = b.first_row;
  // The rows of this shard (all of them unsharded), by their index in the batch.
  std::vector<std::uint32_t> kept;
  c.shard_rows.assign(static_cast<std::size_t>(shards_), 0);
  for (std::uint32_t i = 0; i < b.rows; ++i) {
    const auto s = static_cast<int>((b.first_row + i) % static_cast<std::uint64_t>(shards_));
    ++c.shard_rows[static_cast<std::size_t>(s)];
    if (s == shard_) {
      kept.push_back(i);
      c.row_number_sum += b.first_row + i;
    }
  }
  c.rows = static_cast<std::uint32_t>(kept.size());
  const std::size_t f = feature_slots.size();
  c.x.resize(kept.size() * f);
  for (std::size_t j = 0; j < f; ++j) {
    const float* col = b.float_column(feature_slots[j]);
    for (std::size_t k = 0; k < kept.size(); ++k) {
      const auto i = kept[k];
      float v = col[i];
      if (!std::isfinite(v))
        throw step_failure("trainer: row " + std::to_string(b.first_row + i) + ", column '" +
                           names[j] + "': feature is " + (std::isnan(v) ? "NaN (missing)" : "infinite") +
                           " (impute or drop missing values in a cleaner)");
      c.x[k * f + j] = v;
    }
  }
  const float* lab = b.float_column(label_slot);
  c.y.resize(kept.size());
  for (std::size_t k = 0; k < kept.size(); ++k)
    c.y[k] = lab[kept[k]];
  // Every row's label is checked (and counts towards the classes), held or not: every
  // replica must build the same model.
  for (std::size_t i = 0; i < b.rows; ++i) {
    float v = lab[i];
    if (!std::isfinite(v))
      throw step_failure("trainer: row " + std::to_string(b.first_row + i) +
                         ": the label is missing or not finite");
    if (classifier_) {
      bool bad = v < 0 || v != std::floor(v) || (classes_ > 0 && v >= classes_);
      if (bad)
        throw step_failure("trainer: row " + std::to_string(b.first_row + i) + ": label " +
                           std::to_string(v) + " is not a class index in [0, " +
                           (classes_ > 0 ? std::to_string(classes_) : "classes") + ")");
    }
  }
  if (key_column) {
    c.keys.resize(b.rows);
    for (std::size_t i = 0; i < b.rows; ++i) {
      const auto code = key_column->codes[i];
      if (code < 0 || static_cast<std::size_t>(code) >= key_column->dictionary.size() ||
          key_column->dictionary[static_cast<std::size_t>(code)].empty())
        throw step_failure("trainer: row " + std::to_string(b.first_row + i) + ": the key column '" +
                           by_ + "' is missing (drop such rows in a cleaner)");
      c.keys[i] = key_column->dictionary[static_cast<std::size_t>(code)];
    }
  }
  for (std::size_t i = 0; i < b.rows; ++i)
    max_label_ = std::max(max_label_, lab[i]);
  cache_[{b.source, b.sequence}] = std::move(c);
}

void training_data::assemble() {
  if (assembled_)
    return;
  rows_ = 0;
  shard_rows_.assign(static_cast<std::size_t>(shards_), 0);
  for (const auto& [key, c] : cache_) {
    rows_ += c.rows;
    row_number_sum_ += c.row_number_sum;
    for (std::size_t s = 0; s < c.shard_rows.size(); ++s)
      shard_rows_[s] += c.shard_rows[s];
  }
  std::uint64_t all = 0;
  for (auto n : shard_rows_)
    all += n;
  if (all == 0)
    throw step_failure("trainer: no rows to train on");
  if (rows_ > std::numeric_limits<std::uint32_t>::max())
    throw step_failure("trainer: too many rows to cache");
  const std::size_t f = features();
  x_.reserve(rows_ * f);
  y_.reserve(rows_);
  for (auto& [key, c] : cache_) {
    x_.insert(x_.end(), c.x.begin(), c.x.end());
    y_.insert(y_.end(), c.y.begin(), c.y.end());
  }
  if (!by_.empty()) {
    std::map<std::string, std::uint32_t> index;
    for (const auto& [key, c] : cache_)
      for (const auto& k : c.keys)
        index.emplace(k, 0);
    for (auto& [name, at] : index) {
      at = static_cast<std::uint32_t>(key_names_.size());
      key_names_.push_back(name);
    }
    keys_.reserve(rows_);
    for (const auto& [key, c] : cache_)
      for (const auto& k : c.keys)
        keys_.push_back(index.at(k));
  }
  cache_.clear();
  assembled_ = true;
}

std::vector<std::string> training_data::input_columns() const {
  std::vector<std::string> out = feature_columns_;
  if (!transform_)
    return out;
  for (auto it = transform_->ops.rbegin(); it != transform_->ops.rend(); ++it) {
    if (it->op != column_op::kind::one_hot)
      continue;
    auto prefix = it->column + "=";
    std::vector<std::string> next;
    bool placed = false;
    for (auto& c : out) {
      if (c.compare(0, prefix.size(), prefix) == 0) {
        if (!placed)
          next.push_back(it->column);
        placed = true;
      } else {
        next.push_back(c);
      }
    }
    out = std::move(next);
  }
  return out;
}

void training_data::shuffle_for(std::uint64_t epoch, std::int64_t seed) {
  if (ordered_for_ == static_cast<std::int64_t>(epoch))
    return;
  order_.resize(rows_);
  std::iota(order_.begin(), order_.end(), 0u);
  std::seed_seq seq{static_cast<std::uint32_t>(seed),
                    static_cast<std::uint32_t>(static_cast<std::uint64_t>(seed) >> 32),
                    static_cast<std::uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  // Fisher-Yates with our own index draw (std::shuffle's is implementation-defined).
  for (std::size_t i = rows_; i > 1; --i) {
    auto j = static_cast<std::size_t>(rng() % i);
    std::swap(order_[i - 1], order_[j]);
  }
  ordered_for_ = static_cast<std::int64_t>(epoch);
}

void training_data::gather(std::size_t begin, std::size_t end, std::vector<float>& x,
                           std::vector<float>& y) const {
  const std::size_t f = features();
  const std::size_t n = end - begin;
  x.resize(n * f);
  y.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto r = order_[begin + i];
    std::memcpy(x.data() + i * f, x_.data() + std::size_t{r} * f, f * sizeof(float));
    y[i] = y_[r];
  }
}

} // namespace conveyor
