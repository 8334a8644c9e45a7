// The preprocessing a cleaner fitted, as data: an ordered list of column operations
// with their fitted statistics. It travels with batches and is stored inside models,
// so that serving turns raw rows into model inputs exactly as training did.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

/// One fitted operation on one column. Operations apply in list order.
struct column_op {
  enum class kind : std::uint8_t {
    drop,        ///< remove the column
    impute,      ///< missing -> `a` (numeric) or category `categories[0]` (categorical)
    standardize, ///< x -> (x - a) / b   (a: mean, b: standard deviation, b > 0)
    min_max,     ///< x -> (x - a) / (b - a)   (a: min, b: max, b > a), then in [0, 1]
    scale,       ///< x -> x * a
    clip,        ///< x -> min(max(x, a), b)
    one_hot,     ///< categorical -> one numeric column per category, named `col=value`;
                 ///< a value not among `categories` gives all zeros
  };
  kind op = kind::scale;
  std::string column;
  double a = 0;
  double b = 0;
  std::vector<std::string> categories;

  friend bool operator==(const column_op& x, const column_op& y) {
    return x.op == y.op && x.column == y.column && x.a == y.a && x.b == y.b &&
           x.categories == y.categories;
  }
};

/// The names of the ops, as model files and `conveyor models show` spell them, in
/// column_op::kind order.
inline constexpr std::string_view column_op_names[] = {"drop",  "impute", "standardize", "min_max",
                                                       "scale", "clip",   "one_hot"};

inline std::string_view to_string(column_op::kind k) {
  const auto i = static_cast<std::size_t>(k);
  return i < std::size(column_op_names) ? column_op_names[i] : std::string_view("?");
}

inline std::optional<column_op::kind> parse_column_op(std::string_view name) {
  for (std::size_t i = 0; i < std::size(column_op_names); ++i)
    if (column_op_names[i] == name)
      return static_cast<column_op::kind>(i);
  return std::nullopt;
}

struct preprocessing {
  std::vector<column_op> ops;
  friend bool operator==(const preprocessing& x, const preprocessing& y) {
    return x.ops == y.ops;
  }
};

} // namespace conveyor
