#include "data/apply_preprocessing.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace conveyor {

namespace {

using op_kind = column_op::kind;

bool is_structural(op_kind k) { return k == op_kind::drop || k == op_kind::one_hot; }

/// Where each column of a schema lives: its float column or categorical column.
struct column_map {
  std::unordered_map<std::string, std::size_t> by_name; // -> schema index
  std::vector<std::size_t> slot;                        // schema index -> float/cat index

  explicit column_map(const table_schema& s) {
    by_name.reserve(s.columns.size());
    slot.resize(s.columns.size());
    std::size_t f = 0, c = 0;
    for (std::size_t i = 0; i < s.columns.size(); ++i) {
      by_name.emplace(s.columns[i].name, i); // first of duplicate names wins
      slot[i] = s.columns[i].kind == column_kind::categorical ? c++ : f++;
    }
  }
  const std::size_t* find(const std::string& name) const {
    auto i = by_name.find(name);
    return i == by_name.end() ? nullptr : &i->second;
  }
};

[[noreturn]] void fail(const column_op& op, const std::string& what) {
  throw std::invalid_argument("preprocessing: column '" + op.column + "': " + what);
}

void apply_to_column(const column_op& op, batch& b, const column_map& m) {
  auto idx = m.find(op.column);
  if (idx == nullptr)
    fail(op, "not in the batch");
  const auto& spec = b.schema->columns[*idx];
  if (spec.kind == column_kind::categorical) {
    if (op.op != op_kind::impute)
      fail(op, "is categorical; only impute and one_hot apply to it");
    if (op.categories.empty())
      return;
    auto& col = b.categoricals[m.slot[*idx]];
    auto it = std::find(col.dictionary.begin(), col.dictionary.end(), op.categories[0]);
    auto code = static_cast<std::int32_t>(it - col.dictionary.begin());
    bool added = false;
    for (auto& c : col.codes) {
      if (c < 0) {
        if (it == col.dictionary.end() && !added) {
          col.dictionary.push_back(op.categories[0]);
          added = true;
        }
        c = code;
      }
    }
    return;
  }
  apply_elementwise(op, b.float_column(m.slot[*idx]), b.rows);
}

/// A column of the rebuilt batch and where its data comes from.
struct planned_column {
  column_spec spec;
  enum class from : std::uint8_t { floats, categorical, one_hot } source = from::floats;
  std::size_t index = 0;     // old float or categorical column
  const column_op* op = nullptr; // one_hot: the op
  std::size_t category = 0;  // one_hot: index into op->categories
};

/// Applies a run of drop / one_hot ops with a single rebuild of the batch.
void apply_structural(const column_op* first, const column_op* last, batch& b,
                      const column_map& m) {
  std::vector<planned_column> plan;
  plan.reserve(b.schema->columns.size());
  for (std::size_t i = 0; i < b.schema->columns.size(); ++i) {
    const auto& c = b.schema->columns[i];
    plan.push_back({c,
                    c.kind == column_kind::categorical ? planned_column::from::categorical
                                                       : planned_column::from::floats,
                    m.slot[i], nullptr, 0});
  }
  for (auto op = first; op != last; ++op) {
    auto it = std::find_if(plan.begin(), plan.end(),
                           [&](const planned_column& p) { return p.spec.name == op->column; });
    if (op->op == op_kind::drop) {
      if (it != plan.end())
        plan.erase(it);
      continue;
    }
    if (it == plan.end())
      fail(*op, "not in the batch");
    if (it->source != planned_column::from::categorical)
      fail(*op, "one_hot needs a categorical column");
    auto source = it->index;
    it = plan.erase(it);
    std::vector<planned_column> expanded;
    expanded.reserve(op->categories.size());
    for (std::size_t k = 0; k < op->categories.size(); ++k)
      expanded.push_back({{op->column + "=" + op->categories[k], column_kind::numeric},
                          planned_column::from::one_hot, source, &*op, k});
    plan.insert(it, expanded.begin(), expanded.end());
  }

  const std::size_t n = b.rows;
  auto schema = std::make_shared<table_schema>();
  schema->columns.reserve(plan.size());
  std::size_t width = 0;
  for (const auto& p : plan) {
    schema->columns.push_back(p.spec);
    width += p.spec.kind != column_kind::categorical ? 1 : 0;
  }
  std::vector<float> floats(width * n, 0.0f);
  std::vector<categorical_column> cats;
  // One-hot: map each batch dictionary code to its category index once per source.
  std::unordered_map<std::size_t, std::vector<std::int32_t>> category_of_code;
  std::size_t k = 0;
  for (const auto& p : plan) {
    switch (p.source) {
      case planned_column::from::floats:
        if (n > 0)
          std::memcpy(floats.data() + k * n, b.floats.data() + p.index * n, n * sizeof(float));
        ++k;
        break;
      case planned_column::from::categorical:
        cats.push_back(std::move(b.categoricals[p.index]));
        break;
      case planned_column::from::one_hot: {
        const auto& src = b.categoricals[p.index];
        auto& map = category_of_code[p.index];
        if (map.empty() && !src.dictionary.empty()) {
          map.assign(src.dictionary.size(), -1);
          for (std::size_t d = 0; d < src.dictionary.size(); ++d) {
            auto c = std::find(p.op->categories.begin(), p.op->categories.end(),
                               src.dictionary[d]);
            if (c != p.op->categories.end())
              map[d] = static_cast<std::int32_t>(c - p.op->categories.begin());
          }
        }
        float* col = floats.data() + k * n;
        const auto want = static_cast<std::int32_t>(p.category);
        for (std::size_t r = 0; r < n; ++r) {
          auto code = src.codes[r];
          col[r] = code >= 0 && map[static_cast<std::size_t>(code)] == want ? 1.0f : 0.0f;
        }
        ++k;
        break;
      }
    }
  }
  b.schema = std::move(schema);
  b.floats = std::move(floats);
  b.categoricals = std::move(cats);
}

} // namespace

elementwise_op::elementwise_op(const column_op& op) : kind(op.op) {
  switch (op.op) {
    case op_kind::impute:
    case op_kind::scale:
      p = static_cast<float>(op.a);
      break;
    case op_kind::standardize:
      p = static_cast<float>(op.a);
      q = static_cast<float>(1.0 / (op.b > 0 ? op.b : 1.0));
      break;
    case op_kind::min_max:
      p = static_cast<float>(op.a);
      q = static_cast<float>(1.0 / (op.b > op.a ? op.b - op.a : 1.0));
      break;
    case op_kind::clip:
      p = static_cast<float>(op.a);
      q = static_cast<float>(op.b);
      break;
    default:
      throw std::invalid_argument("preprocessing: column '" + op.column + "': " +
                                  "drop and one_hot are not elementwise");
  }
}

namespace {

template <column_op::kind K>
void apply_to_all(const elementwise_op& e, float* x, std::size_t n) {
  for (std::size_t r = 0; r < n; ++r)
    x[r] = e.apply<K>(x[r]);
}

} // namespace

void apply_elementwise(const column_op& op, float* x, std::size_t n) {
  const elementwise_op e(op);
  switch (e.kind) { // one loop per kind, so that each vectorizes
    case op_kind::impute: apply_to_all<op_kind::impute>(e, x, n); break;
    case op_kind::standardize: apply_to_all<op_kind::standardize>(e, x, n); break;
    case op_kind::min_max: apply_to_all<op_kind::min_max>(e, x, n); break;
    case op_kind::scale: apply_to_all<op_kind::scale>(e, x, n); break;
    case op_kind::clip: apply_to_all<op_kind::clip>(e, x, n); break;
    default: break;
  }
}

void apply_preprocessing(const preprocessing& p, batch& b) {
  if (p.ops.empty() || !b.schema)
    return;
  auto m = std::make_unique<column_map>(*b.schema);
  const column_op* ops = p.ops.data();
  const std::size_t count = p.ops.size();
  for (std::size_t i = 0; i < count;) {
    if (!is_structural(ops[i].op)) {
      apply_to_column(ops[i], b, *m);
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < count && is_structural(ops[j].op))
      ++j;
    apply_structural(ops + i, ops + j, b, *m);
    m = std::make_unique<column_map>(*b.schema);
    i = j;
  }
}

} // namespace conveyor
