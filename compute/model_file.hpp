// Model file format v1 (docs/model-format.md): a MessagePack map holding a model's spec,
// flat weights, the preprocessing that turns raw rows into its inputs, metrics and
// provenance, closed by a CRC-32 checksum. `decode` treats its input as hostile: every
// size is capped, every field checked, and every failure is a message, never a throw.
#pragma once

#include "base/decoded.hpp"
#include "compute/feature_distribution.hpp"
#include "compute/model.hpp"
#include "compute/model_spec.hpp"
#include "data/preprocessing.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::compute {

struct model_provenance {
  std::string graph;            ///< graph name
  std::string step;             ///< the trainer step that produced the model
  std::string data_source;      ///< where the training data came from (path, reader step)
  std::int64_t created_unix = 0; ///< seconds since the epoch, UTC
  std::string conveyor_version;

  friend bool operator==(const model_provenance& a, const model_provenance& b) {
    return a.graph == b.graph && a.step == b.step && a.data_source == b.data_source &&
           a.created_unix == b.created_unix && a.conveyor_version == b.conveyor_version;
  }
};

/// One key of a fleet: its training rows, whether it has its own model (false: it had
/// fewer than the fleet's min_rows and answers with the shared model), its metrics.
struct fleet_segment {
  std::string key;
  std::uint64_t rows = 0;
  bool own = true;
  std::map<std::string, double> metrics;

  friend bool operator==(const fleet_segment& a, const fleet_segment& b) {
    return a.key == b.key && a.rows == b.rows && a.own == b.own && a.metrics == b.metrics;
  }
};

/// A fleet: one model per value of the categorical column `by`, all of the artifact's
/// spec, preprocessing and columns. The artifact's own weights are the shared model
/// (trained on every row); `weights` holds the own segments' parameters one after the
/// other, in segment order (parameter_count(spec) floats each).
struct model_fleet {
  std::string by;
  bool unknown_key_shared = true; ///< an unknown key: the shared model (false: an error)
  /// False: no shared model was trained (every key has its own model and unknown keys
  /// are errors, so nothing would use it); the artifact's weights are then zeros.
  bool shared = true;
  std::uint64_t min_rows = 0;
  std::vector<fleet_segment> segments; ///< keys unique and non-empty
  std::vector<float> weights;
  /// Per segment (in segment order, one each): the histogram of every feature column
  /// over that key's training rows, in the artifact's feature_columns order (the
  /// fleet's `distributions`, docs/model-format.md). Edges are float32 in the file (the
  /// features are). Empty: not recorded (fleets written before per-key drift checks).
  std::vector<feature_distribution> distributions;

  /// The segments with their own model.
  std::size_t own_count() const;

  friend bool operator==(const model_fleet& a, const model_fleet& b) {
    return a.by == b.by && a.unknown_key_shared == b.unknown_key_shared && a.shared == b.shared &&
           a.min_rows == b.min_rows && a.segments == b.segments && a.weights == b.weights &&
           a.distributions == b.distributions;
  }
};

/// Everything a model file holds, on the host.
struct model_artifact {
  model_spec spec;              ///< validated; kind, layers, activation, task, seed, weight_decay
  int classes = 0;              ///< model::classes(): 0 regression, 2 binary, C multiclass
  std::vector<float> weights;   ///< the flat parameter buffer (model.hpp gives its layout)
  conveyor::preprocessing preprocessing;
  std::vector<std::string> input_columns;   ///< raw columns the preprocessing expects, in order
  std::vector<std::string> feature_columns; ///< after preprocessing: the model's inputs
  std::map<std::string, double> metrics;
  model_provenance provenance;
  std::optional<model_fleet> fleet; ///< a fleet (format version 2)
  /// The training rows' histogram per feature column (optional key `feature_distribution`,
  /// in either version; absent in files written before it).
  std::optional<feature_distribution> trained_on;

  friend bool operator==(const model_artifact& a, const model_artifact& b) {
    return a.spec == b.spec && a.classes == b.classes && a.weights == b.weights &&
           a.preprocessing == b.preprocessing && a.input_columns == b.input_columns &&
           a.feature_columns == b.feature_columns && a.metrics == b.metrics &&
           a.provenance == b.provenance && a.fleet == b.fleet && a.trained_on == b.trained_on;
  }
};

/// The artifact of a model: spec, classes and weights filled; the rest left for the caller.
model_artifact make_artifact(const model& m);
/// A model with the artifact's spec and weights; throws std::invalid_argument when they
/// do not fit each other (a decoded artifact always fits).
model instantiate(const model_artifact& a, backend& be = default_cpu_backend());
/// The model of a fleet's own segment `own_index` (0-based among the own segments).
model instantiate_segment(const model_artifact& a, std::size_t own_index,
                          backend& be = default_cpu_backend());

namespace model_file {

constexpr std::string_view format_name = "conveyor-model";
/// The newest version this build writes and reads: 2 adds fleets. A file without a
/// fleet is written as version 1, which older readers read; version 1 files still load.
constexpr int format_version = 2;
constexpr int single_model_version = 1;
/// Caps enforced by decode and load (and by encode, so that what is written can be read).
constexpr std::size_t max_file_bytes = (std::size_t{1} << 30) + (std::size_t{64} << 20);
constexpr std::size_t max_weight_bytes = std::size_t{1} << 30;
constexpr std::size_t max_list_items = std::size_t{1} << 20; ///< columns, ops, categories, layers
constexpr std::size_t max_string_bytes = std::size_t{1} << 20;
constexpr std::size_t max_map_entries = std::size_t{1} << 16; ///< metrics

/// Throws std::invalid_argument when the artifact is inconsistent (spec invalid, weights
/// not the size the spec implies, classes wrong, feature_columns not the input width) or
/// exceeds a cap.
std::string encode(const model_artifact& a);
/// Never throws, never crashes, allocates at most a small multiple of the input size.
decoded<model_artifact> decode(std::string_view bytes);

/// Writes atomically: a temporary file in the same directory, fsync, rename over `path`,
/// fsync of the directory. Throws std::runtime_error naming the path and the failing call.
void save(const std::string& path, const model_artifact& a);
/// Reads and decodes; never throws (I/O errors are messages too). A file larger than
/// `max_bytes` (at most max_file_bytes) is refused unread. Before reading the file whole
/// it checks, through a 16 KiB buffer, what needs no checksum: the trailer, the map's
/// structure and that the weights are as long as the spec implies, so a damaged or
/// forged file costs memory only once it passes those.
decoded<model_artifact> load(const std::string& path, std::size_t max_bytes = max_file_bytes);

} // namespace model_file

} // namespace conveyor::compute
