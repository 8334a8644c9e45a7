// The model registry: a directory of versioned model files, `ROOT/NAME/VERSION.model`
// (e.g. models/fashion/3.model), written by publishers and read by inference servers and
// `conveyor models`. The files are model files (docs/model-format.md); the registry only
// checks that they decode before filing them.
//
// Rules:
// - Versions of a name start at 1 and only increase: a publish takes the highest version
//   ever allocated plus one (kept in `NAME/.next`, so numbers freed by pruning or removal
//   are never reused).
// - A publish is atomic and exclusive: it holds an exclusive flock on `NAME/.lock` while
//   it allocates and writes, and writes through a temporary file in the same directory
//   (fsync, rename, fsync of the directory), so two publishers (threads or processes)
//   never take the same version and a reader sees a whole file or none.
// - A publish is idempotent: bytes identical to a version already filed create nothing
//   and return that version (a replayed model is not published twice).
// - Readers ignore anything in NAME/ that is not `<digits>.model` (temporaries, .lock,
//   .next) and names that are not valid model names.
// - Model names: 1 to 128 of letters, digits, `_`, `-`, `.`, not starting with `.`;
//   anything else is std::invalid_argument (so a name never escapes the root).
// - I/O failures throw std::runtime_error naming the call and the path. Readers treat a
//   missing root or name as empty.
// - An object holds no state but the root: share it or make many, from any thread.
#pragma once

#include "base/decoded.hpp"
#include "compute/model_file.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::serving {

/// One filed version of a model.
struct model_version {
  std::string name;
  std::uint64_t version = 0;
  std::string path;
  std::uint64_t size_bytes = 0;
  std::int64_t modified_unix = 0; ///< last modification, seconds since the epoch
};

/// What `publish` did.
struct publish_result {
  std::uint64_t version = 0; ///< the version the bytes are filed under
  std::string path;
  bool created = false;               ///< false: identical bytes were already `version`
  std::vector<std::uint64_t> pruned; ///< versions removed by `keep`, oldest first
};

/// True for a valid model name (see the rules above).
bool valid_model_name(std::string_view name);

class registry {
public:
  /// Touches nothing on disk; `publish` creates the root and NAME/ as needed.
  explicit registry(std::string root);

  const std::string& root() const { return root_; }

  /// Files `artifact` (model file bytes) as the next version of `name`, or returns the
  /// version that already holds identical bytes. With `keep` > 0, then removes the oldest
  /// versions beyond the newest `keep` (0 keeps all). Throws std::invalid_argument for an
  /// invalid name or bytes that do not decode (with the decoder's message).
  publish_result publish(const std::string& name, std::string_view artifact, std::size_t keep = 0);

  /// Names with at least one version, sorted (and names whose directory cannot be
  /// read: `versions` then throws for them alone).
  std::vector<std::string> names() const;
  /// The versions of `name`, ascending; empty for an unknown name.
  std::vector<model_version> versions(const std::string& name) const;
  std::optional<model_version> latest(const std::string& name) const;
  /// Where `name` version `version` is (or would be) filed.
  std::string path_of(const std::string& name, std::uint64_t version) const;
  /// Removes one version; false when it does not exist.
  bool remove(const std::string& name, std::uint64_t version);
  /// Reads and decodes one version; a missing or invalid file, or one larger than
  /// `max_bytes` (refused unread), is an error message.
  decoded<compute::model_artifact> load(const std::string& name, std::uint64_t version,
                                        std::size_t max_bytes = compute::model_file::max_file_bytes) const;

private:
  std::string dir_of(const std::string& name) const;

  std::string root_;
};

} // namespace conveyor::serving
