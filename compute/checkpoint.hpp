// Training checkpoints (docs/model-format.md, "Checkpoints"): a model file, the
// optimizer's state and the training position (optimizer steps, epochs), framed with
// lengths and closed by a CRC-32 of the whole file. `decode` treats its input as hostile
// like the model file's: every failure is a message, never a throw or a crash.
#pragma once

#include "base/decoded.hpp"
#include "compute/model_file.hpp"
#include "compute/optimizer.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace conveyor::compute {

/// Everything training needs to continue where it stopped, on the host.
struct checkpoint {
  model_artifact model;      ///< spec, weights, columns and preprocessing
  optimizer_state optimizer; ///< its `step` equals `step` below
  std::uint64_t step = 0;    ///< optimizer steps done (global, over all replicas)
  std::uint64_t epoch = 0;   ///< whole epochs done when it was written

  friend bool operator==(const checkpoint& a, const checkpoint& b) {
    return a.model == b.model && a.optimizer == b.optimizer && a.step == b.step &&
           a.epoch == b.epoch;
  }
};

namespace checkpoint_file {

constexpr std::string_view magic = "conveyor-checkpoint-2\n";
/// A model file (at most model_file::max_file_bytes) and Adam's two moments (at most
/// 2 GiB for the largest model) with their framing.
constexpr std::size_t max_file_bytes = std::size_t{4} << 30;

/// Throws std::invalid_argument when the model does not encode (model_file::encode's
/// rules) or the optimizer state does not fit the model (moment sizes, step).
std::string encode(const checkpoint& c);
/// Never throws, never crashes; checks the checksum before it parses anything, then
/// the model file, the optimizer state and that they fit each other.
decoded<checkpoint> decode(std::string_view bytes);
/// Atomic (base/atomic_file.hpp); creates missing directories. Throws
/// std::runtime_error naming the path.
void save(const std::string& path, const checkpoint& c);
/// Reads and decodes; never throws. Messages start with the path.
decoded<checkpoint> load(const std::string& path);

} // namespace checkpoint_file

} // namespace conveyor::compute
