#include "actors/splitter.hpp"

#include "data/batch_rows.hpp"
#include "actors/kind_schema_builder.hpp"

#include <cmath>
#include <vector>

namespace conveyor {

namespace {

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Uniform in [0, 1) from the row's identity.
double unit(std::uint64_t key, std::uint64_t row) {
  return static_cast<double>(splitmix64(key ^ splitmix64(row)) >> 11) * 0x1.0p-53;
}

} // namespace

splitter_options splitter_options::from(const step_params& params) {
  splitter_options o;
  o.ratio = params.get_number("ratio");
  if (!(o.ratio >= 0.0 && o.ratio <= 1.0))
    throw step_failure("splitter: parameter 'ratio' must be within 0..1");
  o.seed = static_cast<std::uint64_t>(params.get_integer("seed"));
  return o;
}

bool split_to_train(std::uint64_t seed, const std::string& source, std::uint64_t row,
                    double ratio) {
  return unit(splitmix64(seed) ^ fnv1a(source), row) < ratio;
}

void splitter::consume(std::size_t port, batch b, emitter& out) {
  const std::uint64_t key = splitmix64(options_.seed) ^ fnv1a(b.source);
  std::vector<std::uint32_t> train, eval;
  train.reserve(b.rows);
  eval.reserve(b.rows);
  for (std::uint32_t r = 0; r < b.rows; ++r)
    (unit(key, b.first_row + r) < options_.ratio ? train : eval).push_back(r);
  if (eval.empty()) {
    auto e = empty_like(b);
    out.emit(0, std::move(b));
    out.emit(1, std::move(e));
  } else if (train.empty()) {
    auto e = empty_like(b);
    out.emit(0, std::move(e));
    out.emit(1, std::move(b));
  } else {
    out.emit(0, select_rows(b, train));
    out.emit(1, select_rows(b, eval));
  }
}

kind_entry splitter_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "splitter";
  e.schema.doc = "Splits rows deterministically into train and eval.";
  e.schema.params = {
    optional_param("ratio", param_type::number, 0.8, "fraction of rows sent to train (0..1)"),
    optional_param("seed", param_type::integer, 42, "seed of the per-row hash"),
  };
  e.schema.inputs = {batch_port("in")};
  e.schema.outputs = {batch_port("train"), batch_port("eval")};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<splitter>(splitter_options::from(c.params));
  };
  return e;
}

} // namespace conveyor
