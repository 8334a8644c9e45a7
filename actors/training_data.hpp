// The trainer's dataset: every consumed batch cached in memory (features row-major,
// labels), checked as it arrives, then assembled in (source, sequence) order so that
// every replica of a group holds identical rows whatever order the batches came in.
// Each epoch visits the rows in a shuffled order seeded by (seed, epoch).
#pragma once

#include "data/batch.hpp"
#include "data/preprocessing.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

class training_data {
public:
  /// `classes`: labels must be class indices below it (0: unknown count); `classifier`
  /// false: any finite label (regression).
  training_data(bool classifier, int classes) : classifier_(classifier), classes_(classes) {}
  /// A fleet's data: the categorical column `by` is every row's key (a missing key is an
  /// error naming the row); other categorical columns are errors as usual.
  training_data(bool classifier, int classes, std::string by)
      : classifier_(classifier), classes_(classes), by_(std::move(by)) {}

  /// From now on keeps only the rows of shard `shard` of `shards`: row i of a batch whose
  /// first row is F belongs to shard (F + i) mod shards. Every shard's size is still
  /// counted (shard_rows), so replicas agree on the steps of an epoch without talking.
  void shard(int shard, int shards);

  /// Caches a batch (replays replace the copy of the same source and sequence). Throws
  /// step_failure for a categorical column, no label or features, other feature columns
  /// than the first batch, and a non-finite feature or a bad label (naming the row).
  void add(const batch& b);

  /// Joins the cached batches into one matrix, in (source, sequence) order; throws
  /// step_failure when there are no rows. Batches added after that are ignored.
  void assemble();

  /// Rows held (this shard's).
  std::size_t rows() const noexcept { return rows_; }
  /// After assemble: the rows of shard `s` (every shard counted; rows() for one's own).
  std::uint64_t shard_rows(int s) const { return shard_rows_.at(static_cast<std::size_t>(s)); }
  int shards() const noexcept { return shards_; }
  /// After assemble: the sum of F + i over the rows held (a digest of which rows they are).
  std::uint64_t row_number_sum() const noexcept { return row_number_sum_; }
  /// The largest label of every row seen, held or not (0 when none).
  float max_label() const noexcept { return max_label_; }
  std::size_t features() const noexcept { return feature_columns_.size(); }
  const std::vector<float>& labels() const noexcept { return y_; }
  /// Every row's features, row-major (rows x features), in (source, sequence) order (not
  /// shuffled).
  const std::vector<float>& feature_matrix() const noexcept { return x_; }
  /// The row numbers of the current order (shuffle_for).
  const std::vector<std::uint32_t>& order() const noexcept { return order_; }
  const std::vector<std::string>& feature_columns() const noexcept { return feature_columns_; }
  /// The raw columns the preprocessing expects (one-hot outputs folded back).
  std::vector<std::string> input_columns() const;
  const std::shared_ptr<const preprocessing>& transform() const noexcept { return transform_; }
  const std::string& source() const noexcept { return source_; }
  /// With `by`: the distinct keys, sorted, and each row's index into them.
  const std::vector<std::string>& key_names() const noexcept { return key_names_; }
  const std::vector<std::uint32_t>& keys() const noexcept { return keys_; }

  /// Orders the rows for `epoch` (Fisher-Yates from std::mt19937_64 seeded by (seed,
  /// epoch), the same on every platform); a no-op when already in that order.
  void shuffle_for(std::uint64_t epoch, std::int64_t seed);
  /// Copies rows [begin, end) of the current order into x (rows x features) and y.
  void gather(std::size_t begin, std::size_t end, std::vector<float>& x,
              std::vector<float>& y) const;

private:
  struct cached {
    std::uint64_t first_row = 0;
    std::uint32_t rows = 0;
    std::vector<float> x;
    std::vector<float> y;
    std::vector<std::string> keys; ///< with `by`: one per row
    std::vector<std::uint32_t> shard_rows; ///< rows of the batch per shard
    std::uint64_t row_number_sum = 0;       ///< F + i over the rows kept
  };

  bool classifier_;
  int classes_;
  bool assembled_ = false;
  std::map<std::pair<std::string, std::uint64_t>, cached> cache_;
  std::vector<std::string> feature_columns_;
  std::shared_ptr<const preprocessing> transform_;
  std::string source_;
  std::size_t rows_ = 0;
  std::vector<float> x_, y_;
  std::string by_;
  std::vector<std::string> key_names_;
  std::vector<std::uint32_t> keys_;
  std::vector<std::uint32_t> order_;
  std::int64_t ordered_for_ = -1;
  int shard_ = 0;
  int shards_ = 1;
  std::vector<std::uint64_t> shard_rows_;
  std::uint64_t row_number_sum_ = 0;
  float max_label_ = 0;
};

} // namespace conveyor
