#include "serving/model_catalog.hpp"

#include <filesystem>
#include <stdexcept>

namespace conveyor::serving {

served_model::served_model(std::string n, std::uint64_t v, const compute::model_artifact& a,
                           compute::backend& be)
    : name(std::move(n)), version(v), net(compute::instantiate(a, be)), features(a),
      classifier(net.classes() > 0) {
  if (!a.fleet) {
    be.synchronize(); // other streams on the device read the parameters
    return;
  }
  fleet.emplace();
  fleet->by = a.fleet->by;
  fleet->unknown_key_shared = a.fleet->unknown_key_shared;
  std::size_t own = 0;
  for (const auto& seg : a.fleet->segments)
    fleet->members.emplace(seg.key, seg.own ? std::make_shared<const served_model>(name, version, a, own++, be)
                                            : nullptr);
  be.synchronize();
}

served_model::served_model(std::string n, std::uint64_t v, const compute::model_artifact& a,
                           std::size_t own_index, compute::backend& be)
    : name(std::move(n)), version(v), net(compute::instantiate_segment(a, own_index, be)),
      features(a), classifier(net.classes() > 0) {}

model_lookup select_by_key(model_lookup found, const std::optional<std::string>& key) {
  if (!found.model)
    return found;
  const auto& m = *found.model;
  const auto refuse = [&](wire::error_code code, std::string message) {
    return model_lookup{nullptr, code, std::move(message)};
  };
  const std::string which = "model '" + m.name + "' version " + std::to_string(m.version);
  if (!m.fleet) {
    if (key)
      return refuse(wire::error_code::bad_request,
                    which + " is a single model, not a fleet: send no 'key'");
    return found;
  }
  if (!key)
    return refuse(wire::error_code::bad_request,
                  which + " is a fleet by '" + m.fleet->by + "': send the row's '" + m.fleet->by +
                    "' as 'key'");
  auto it = m.fleet->members.find(*key);
  if (it == m.fleet->members.end()) {
    if (m.fleet->unknown_key_shared)
      return found;
    return refuse(wire::error_code::unknown_key,
                  which + " has no model for " + m.fleet->by + " '" + key->substr(0, 128) +
                    "' (it knows " + std::to_string(m.fleet->members.size()) + " keys)");
  }
  if (it->second)
    found.model = it->second;
  return found;
}

model_catalog::model_catalog(std::string registry_root, std::size_t keep_loaded,
                             std::size_t max_model_bytes, compute::backend* device)
    : device_(device ? *device : compute::default_cpu_backend()), keep_loaded_(keep_loaded < 1 ? 1 : keep_loaded), max_model_bytes_(max_model_bytes) {
  if (!registry_root.empty())
    registry_.emplace(std::move(registry_root));
}

std::shared_ptr<const served_model> model_catalog::load_version(const std::string& name,
                                                                std::uint64_t version,
                                                                std::string& problem) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto f = failed_.find({name, version});
    if (f != failed_.end()) {
      problem = f->second;
      return nullptr;
    }
  }
  std::string path;
  try {
    path = registry_->path_of(name, version);
    auto a = registry_->load(name, version, max_model_bytes_);
    if (!a)
      throw std::invalid_argument(a.error);
    return std::make_shared<const served_model>(name, version, *a.value, device_);
  } catch (const std::exception& e) {
    problem = (path.empty() ? name + " version " + std::to_string(version) : path) + ": " + e.what();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  failed_[{name, version}] = problem;
  return nullptr;
}

std::vector<std::string> model_catalog::load_latest() {
  return refresh().problems;
}

model_catalog::refreshed model_catalog::refresh() {
  refreshed out;
  if (!registry_)
    return out;
  std::vector<std::string> names;
  try {
    names = registry_->names();
  } catch (const std::exception& e) {
    out.problems.push_back(e.what());
    return out;
  }
  for (const auto& name : names) {
    std::vector<model_version> all;
    try {
      all = registry_->versions(name);
    } catch (const std::exception& e) { // one unreadable name does not hide the others
      out.problems.push_back(e.what());
      continue;
    }
    // The newest version that loads is served: a damaged newest file (truncated, random
    // bytes) is reported once and the next older one tried, so that it never takes the
    // whole model out of service.
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      const std::uint64_t version = it->version;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (failed_.count({name, version}) != 0)
          continue; // reported when it failed
        auto m = models_.find(name);
        if (m != models_.end()) {
          auto e = m->second.loaded.find(version);
          if (e != m->second.loaded.end() ? e->second.published : m->second.latest > version)
            break; // served already, or older than what is served
        }
      }
      std::string problem;
      auto m = load_version(name, version, problem);
      if (!m) {
        out.problems.push_back(problem);
        continue;
      }
      out.loaded.push_back({name, version, m->input_width(), m->output_width()});
      insert(std::move(m));
      break;
    }
  }
  return out;
}

bool model_catalog::add(const std::string& name, std::uint64_t version, std::string_view artifact) {
  const bool published = version != 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = models_.find(name);
    if (it != models_.end()) {
      if (version == 0)
        version = it->second.latest + 1;
      else if (it->second.loaded.count(version) != 0)
        return false;
    } else if (version == 0) {
      version = 1;
    }
  }
  if (artifact.size() > max_model_bytes_)
    throw std::invalid_argument("model file too large (" + std::to_string(artifact.size()) +
                                " bytes; the limit is " + std::to_string(max_model_bytes_) + ")");
  auto a = compute::model_file::decode(artifact);
  if (!a)
    throw std::invalid_argument(a.error);
  insert(std::make_shared<const served_model>(name, version, *a.value, device_), published);
  return true;
}

void model_catalog::insert(std::shared_ptr<const served_model> m, bool published) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& v = models_[m->name];
  if (m->version > v.latest)
    v.latest = m->version;
  auto version = m->version;
  v.loaded[version] = entry{std::move(m), ++clock_, published};
  evict(v);
}

void model_catalog::evict(versions& v) {
  while (v.loaded.size() > keep_loaded_) {
    auto victim = v.loaded.end();
    for (auto it = v.loaded.begin(); it != v.loaded.end(); ++it)
      if (it->first != v.latest &&
          (victim == v.loaded.end() || it->second.last_used < victim->second.last_used))
        victim = it;
    if (victim == v.loaded.end())
      return;
    v.loaded.erase(victim);
  }
}

model_lookup model_catalog::find(const std::string& name, std::uint64_t version) {
  std::uint64_t latest = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = models_.find(name);
    if (it == models_.end())
      return {nullptr, wire::error_code::unknown_model, "no model named '" + name + "'"};
    auto& v = it->second;
    latest = v.latest;
    auto e = v.loaded.find(version == 0 ? v.latest : version);
    if (e != v.loaded.end()) {
      e->second.last_used = ++clock_;
      return {e->second.model, {}, {}};
    }
  }
  // A pinned version not in memory: maybe in the registry (never published, pruned by
  // keep or removed: unknown_version; there but unusable: internal).
  auto unknown = model_lookup{nullptr, wire::error_code::unknown_version,
                              "model '" + name + "' has no version " + std::to_string(version) +
                                " (latest " + std::to_string(latest) + ")"};
  if (!registry_)
    return unknown;
  try {
    std::error_code ec;
    if (!std::filesystem::exists(registry_->path_of(name, version), ec))
      return unknown;
  } catch (const std::exception& e) {
    return {nullptr, wire::error_code::internal, e.what()};
  }
  std::string problem;
  auto m = load_version(name, version, problem);
  if (!m)
    return {nullptr, wire::error_code::internal,
            "model '" + name + "' version " + std::to_string(version) +
              " is in the registry but cannot be served: " + problem};
  insert(m);
  return {m, {}, {}};
}

std::vector<wire::model_summary> model_catalog::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<wire::model_summary> out;
  for (const auto& [name, v] : models_) {
    auto e = v.loaded.find(v.latest);
    if (e == v.loaded.end())
      continue;
    out.push_back({name, v.latest, e->second.model->input_width(), e->second.model->output_width()});
  }
  return out;
}

std::size_t model_catalog::loaded_versions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t n = 0;
  for (const auto& [name, v] : models_)
    n += v.loaded.size();
  return n;
}

} // namespace conveyor::serving
