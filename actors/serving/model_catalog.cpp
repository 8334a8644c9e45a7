#include "actors/serving/model_catalog.hpp"

#include <filesystem>
#include <stdexcept>

namespace conveyor::serving {

served_model::served_model(std::string n, std::uint64_t v, const compute::model_artifact& a)
    : name(std::move(n)), version(v), net(compute::instantiate(a)), features(a),
      classifier(net.classes() > 0) {}

model_catalog::model_catalog(std::string registry_root, std::size_t keep_loaded)
    : keep_loaded_(keep_loaded < 1 ? 1 : keep_loaded) {
  if (!registry_root.empty())
    registry_.emplace(std::move(registry_root));
}

std::vector<std::string> model_catalog::load_latest() {
  std::vector<std::string> problems;
  if (!registry_)
    return problems;
  for (const auto& name : registry_->names()) {
    auto latest = registry_->latest(name);
    if (!latest)
      continue;
    auto a = registry_->load(name, latest->version);
    if (!a) {
      problems.push_back(latest->path + ": " + a.error);
      continue;
    }
    try {
      insert(std::make_shared<const served_model>(name, latest->version, *a.value));
    } catch (const std::exception& e) {
      problems.push_back(latest->path + ": cannot be served: " + e.what());
    }
  }
  return problems;
}

model_catalog::refreshed model_catalog::refresh() {
  refreshed out;
  if (!registry_)
    return out;
  for (const auto& name : registry_->names()) {
    auto latest = registry_->latest(name);
    if (!latest)
      continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = models_.find(name);
      if (it != models_.end() && it->second.latest >= latest->version)
        continue;
      auto f = failed_.find(name);
      if (f != failed_.end() && f->second >= latest->version)
        continue;
    }
    auto a = registry_->load(name, latest->version);
    try {
      if (!a)
        throw std::invalid_argument(a.error);
      auto m = std::make_shared<const served_model>(name, latest->version, *a.value);
      out.loaded.push_back({name, latest->version, m->input_width(), m->output_width()});
      insert(std::move(m));
    } catch (const std::exception& e) {
      out.problems.push_back(latest->path + ": " + e.what());
      std::lock_guard<std::mutex> lock(mutex_);
      failed_[name] = latest->version;
    }
  }
  return out;
}

bool model_catalog::add(const std::string& name, std::uint64_t version, std::string_view artifact) {
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
  auto a = compute::model_file::decode(artifact);
  if (!a)
    throw std::invalid_argument(a.error);
  insert(std::make_shared<const served_model>(name, version, *a.value));
  return true;
}

void model_catalog::insert(std::shared_ptr<const served_model> m) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& v = models_[m->name];
  if (m->version > v.latest)
    v.latest = m->version;
  auto version = m->version;
  v.loaded[version] = entry{std::move(m), ++clock_};
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
    if (it != models_.end()) {
      auto& v = it->second;
      latest = v.latest;
      auto e = v.loaded.find(version == 0 ? v.latest : version);
      if (e != v.loaded.end()) {
        e->second.last_used = ++clock_;
        return {e->second.model, {}, {}};
      }
    }
  }
  // Not loaded: a pinned version may still be in the registry.
  if (registry_ && valid_model_name(name)) {
    auto wanted = version == 0 ? (registry_->latest(name) ? registry_->latest(name)->version : 0)
                               : version;
    auto a = wanted != 0 ? registry_->load(name, wanted)
                         : compute::decoded<compute::model_artifact>::failure("absent");
    if (a) {
      try {
        auto m = std::make_shared<const served_model>(name, wanted, *a.value);
        insert(m);
        return {m, {}, {}};
      } catch (const std::exception& e) {
        return {nullptr, error_code::internal,
                "model '" + name + "' version " + std::to_string(wanted) +
                  " cannot be served: " + e.what()};
      }
    }
    if (wanted != 0 && std::filesystem::exists(registry_->path_of(name, wanted)))
      return {nullptr, error_code::internal,
              "model '" + name + "' version " + std::to_string(wanted) +
                " is in the registry but cannot be loaded: " + a.error};
    if (latest == 0 && registry_->latest(name))
      latest = registry_->latest(name)->version;
  }
  if (latest == 0)
    return {nullptr, error_code::unknown_model, "no model named '" + name + "'"};
  return {nullptr, error_code::unknown_version,
          "model '" + name + "' has no version " + std::to_string(version) + " (latest " +
            std::to_string(latest) + ")"};
}

std::vector<model_summary> model_catalog::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<model_summary> out;
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
