// splitter: routes each row to `train` or `eval`. The choice is a hash of (seed,
// batch source, source row number), so it does not depend on how rows are batched
// nor on restarts: a replayed row always goes the same way.
#pragma once

#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <cstdint>
#include <string>

namespace conveyor {

struct splitter_options {
  double ratio = 0.8;
  std::uint64_t seed = 42;

  static splitter_options from(const step_params& params);
};

/// True if row `row` of source `source` goes to `train` for this ratio and seed.
bool split_to_train(std::uint64_t seed, const std::string& source, std::uint64_t row,
                    double ratio);

class splitter : public step {
public:
  explicit splitter(splitter_options options) : options_(options) {}
  /// Emits exactly one batch on `train` (port 0) and one on `eval` (port 1), each
  /// with the input's source and sequence (empty where no rows go that way).
  void consume(std::size_t port, batch b, emitter& out) override;

private:
  splitter_options options_;
};

kind_entry splitter_kind();

} // namespace conveyor
