// The models an inference server offers: per name, the latest version plus a few
// recently used older ones, each decoded, instantiated and compiled once and shared
// read-only by every worker.
//
// Rules:
// - All members may be called concurrently (one mutex guards the table; loading and
//   compiling a model happen outside it).
// - A lookup hands out a shared_ptr: a request keeps the version it resolved for as long
//   as it runs, whatever is added or evicted meanwhile (this is what makes a hot swap
//   fail no request).
// - Memory is bounded: per name at most `keep_loaded` versions stay loaded (the latest
//   always); an evicted older version is reloaded from the registry when pinned again.
// - Lookups touch the disk only for a pinned version of a known model that is not
//   loaded; a registry version that failed to load is remembered (registry files never
//   change) and answered `internal` without reading it again. Models new to the
//   registry arrive through `load_latest` and `refresh`, not through lookups.
// - Registry I/O errors never escape: they become problems (load_latest, refresh) or
//   `internal` answers (find).
#pragma once

#include "compute/model.hpp"
#include "serving/features.hpp"
#include "wire/server_codec.hpp"
#include "serving/registry.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::serving {

struct served_model;

/// A fleet's key index, held by its shared model's served_model.
struct served_fleet {
  std::string by;                 ///< the key column the fleet was trained by
  bool unknown_key_shared = true; ///< an unknown key: the shared model (false: unknown_key)
  /// Every key the fleet knows; null: the key answers with the shared model.
  std::map<std::string, std::shared_ptr<const served_model>, std::less<>> members;
};

/// One loaded version, ready to compute. A fleet (a model file with one model per key) is
/// one served_model for its shared model, holding one more per key with its own model:
/// the same name, version and features, their own weights. A request picks one with
/// `select_by_key`; batches never mix them (the server batches by served_model).
/// Its parameters live in `be` (the catalog's device; see model_catalog) and are in place
/// when the constructor returns.
struct served_model {
  served_model(std::string name, std::uint64_t version, const compute::model_artifact& a,
               compute::backend& be = compute::default_cpu_backend());
  /// A fleet's member: the own segment `own_index` of `a`.
  served_model(std::string name, std::uint64_t version, const compute::model_artifact& a,
               std::size_t own_index, compute::backend& be = compute::default_cpu_backend());


  std::string name;
  std::uint64_t version = 0;
  compute::model net;
  feature_builder features;
  bool classifier = false;
  std::optional<served_fleet> fleet; ///< set on a fleet (its shared model), never on a member

  std::uint32_t input_width() const { return features.input_width(); }
  std::uint32_t output_width() const { return static_cast<std::uint32_t>(net.output_width()); }
};

/// A lookup's result: the model, or the protocol error that answers the request.
struct model_lookup {
  std::shared_ptr<const served_model> model;
  wire::error_code code = wire::error_code::unknown_model;
  std::string message;
};

/// The model that answers a request with `key` (protocol v1's optional `key`), given
/// what `find` returned: a fleet's member for the key, its shared model for a key without
/// one (and for an unknown key when the fleet was built so), or the error that answers
/// the request: a fleet asked without a key, or a key for a model that is no fleet
/// (bad_request), a key the fleet does not know (unknown_key). Never throws.
model_lookup select_by_key(model_lookup found, const std::optional<std::string>& key);

class model_catalog {
public:
  /// `registry_root` empty: models arrive only through `add`. Model files larger than
  /// `max_model_bytes` are refused (from the registry unread, see model_file::load).
  /// `device`: where the models' parameters live, shared by every model and thread (a
  /// compute::locked_backend: the inference step's device); null: the CPU's default
  /// backend. It must outlive the catalog and every model handed out.
  explicit model_catalog(std::string registry_root = {}, std::size_t keep_loaded = 4,
                         std::size_t max_model_bytes = compute::model_file::max_file_bytes,
                         compute::backend* device = nullptr);

  /// Loads the newest version that loads of every model in the registry. Returns one
  /// message per version that could not be loaded (skipped, not fatal: an older version
  /// of that model is served instead, if one loads).
  std::vector<std::string> load_latest();

  /// What `refresh` found.
  struct refreshed {
    std::vector<wire::model_summary> loaded;  ///< versions newer than those served, now loaded
    std::vector<std::string> problems;  ///< newer versions that could not be loaded
  };
  /// Loads every model whose newest loadable version in the registry is newer than the
  /// one served (published by another process, say): the same hot swap as `add`. A
  /// version that failed to load is reported once and never retried (files never change
  /// once published); an older one is served instead.
  refreshed refresh();

  /// Decodes, checks and loads `artifact` as `name` version `version` (0: one above the
  /// latest loaded, for unpublished models; a registry version with that number replaces
  /// it when `refresh` finds one). A version newer than the latest becomes the latest:
  /// new lookups get it, requests holding the old one finish on it. Returns false when
  /// that version was already loaded (a replay). Throws std::invalid_argument when the
  /// artifact is larger than `max_model_bytes` or cannot be decoded or served.
  bool add(const std::string& name, std::uint64_t version, std::string_view artifact);

  /// `version` 0: the latest. A pinned version of a served model that is not loaded is
  /// loaded from the registry. Never throws.
  model_lookup find(const std::string& name, std::uint64_t version);

  /// Every model's latest version, by name.
  std::vector<wire::model_summary> list() const;
  std::size_t loaded_versions() const;

private:
  struct entry {
    std::shared_ptr<const served_model> model;
    std::uint64_t last_used = 0;
    bool published = true; ///< false: arrived without a registry version
  };
  struct versions {
    std::uint64_t latest = 0;
    std::map<std::uint64_t, entry> loaded;
  };

  void insert(std::shared_ptr<const served_model> m, bool published = true);
  /// Loads one registry version; a message instead when it cannot be served.
  std::shared_ptr<const served_model> load_version(const std::string& name, std::uint64_t version,
                                                   std::string& problem);
  void evict(versions& v);

  std::optional<registry> registry_;
  compute::backend& device_;
  std::size_t keep_loaded_;
  std::size_t max_model_bytes_;
  mutable std::mutex mutex_;
  std::map<std::string, versions, std::less<>> models_;
  std::uint64_t clock_ = 0;
  /// Registry versions that could not be loaded, with why (not retried: files never
  /// change once published).
  std::map<std::pair<std::string, std::uint64_t>, std::string> failed_;
};

} // namespace conveyor::serving
