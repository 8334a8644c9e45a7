#include "cli/models_command.hpp"

#include "compute/model_file.hpp"
#include "serving/registry.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>

namespace conveyor::cli {

namespace {

using json = nlohmann::ordered_json;

constexpr int exit_failed = 1;
constexpr int exit_bad_input = 2;
/// How many column names the text output shows before "... (+N more)".
constexpr std::size_t shown_columns = 8;

/// Bad input from the command line: reported as one line, exit 2.
struct bad_input : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct target {
  std::string name;
  std::optional<std::uint64_t> version;
};

/// NAME or NAME:VERSION (model names cannot contain ':').
target parse_target(const std::string& text) {
  target t;
  const auto colon = text.find(':');
  t.name = text.substr(0, colon);
  if (!serving::valid_model_name(t.name))
    throw bad_input("'" + t.name + "' is not a model name");
  if (colon == std::string::npos)
    return t;
  const auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos || digits[0] == '0')
    throw bad_input("'" + text + "': the version must be a positive number (NAME:VERSION)");
  t.version = std::stoull(digits);
  return t;
}

void require_registry(const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    throw bad_input("'" + dir + "' is not a model registry (no such directory)");
}

/// The versions of a name that exists; bad input otherwise.
std::vector<serving::model_version> versions_of(const serving::registry& reg,
                                                const std::string& name) {
  auto all = reg.versions(name);
  if (all.empty())
    throw bad_input("no model '" + name + "' in registry '" + reg.root() + "'");
  return all;
}

serving::model_version find_version(const serving::registry& reg, const target& t) {
  auto all = versions_of(reg, t.name);
  if (!t.version)
    return all.back();
  for (const auto& v : all)
    if (v.version == *t.version)
      return v;
  std::string have;
  for (const auto& v : all)
    have += (have.empty() ? "" : ", ") + std::to_string(v.version);
  throw bad_input("model '" + t.name + "' has no version " + std::to_string(*t.version) +
                  " (it has " + have + ")");
}

std::string utc_time(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  if (bytes < 1024 * 1024)
    return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024));
}

std::string layers_text(const std::vector<int>& layers) {
  std::string s;
  for (int w : layers)
    s += (s.empty() ? "" : "-") + std::to_string(w);
  return s;
}

std::string metrics_text(const std::map<std::string, double>& metrics) {
  std::string s;
  for (const auto& [k, v] : metrics)
    s += fmt::format("{}{}={:.4g}", s.empty() ? "" : " ", k, v);
  return s.empty() ? "-" : s;
}

std::string columns_text(const std::vector<std::string>& names) {
  std::string s = fmt::format("{}", names.size());
  for (std::size_t i = 0; i < names.size() && i < shown_columns; ++i)
    s += (i == 0 ? ": " : ", ") + names[i];
  if (names.size() > shown_columns)
    s += fmt::format(", ... (+{} more)", names.size() - shown_columns);
  return s;
}

/// Prints rows as left-aligned columns; the last column is not padded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      width.resize(std::max(width.size(), r.size()));
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i)
      line += i + 1 < r.size() ? fmt::format("{:<{}}  ", r[i], width[i]) : r[i];
    std::cout << line << '\n';
  }
}

int list(const serving::registry& reg, bool as_json) {
  std::vector<std::vector<std::string>> rows{
    {"NAME", "LATEST", "VERSIONS", "SIZE", "MODIFIED", "KIND", "LAYERS", "METRICS"}};
  std::vector<std::string> notes; // versions that cannot be loaded
  json out = json::array();
  for (const auto& name : reg.names()) {
    std::vector<serving::model_version> all;
    try {
      all = reg.versions(name);
    } catch (const std::runtime_error& e) { // this name is unreadable; the others are not
      out.push_back(json{{"name", name}, {"error", e.what()}});
      rows.push_back({name, "-", "-", "-", "-", "unreadable", "-", e.what()});
      continue;
    }
    if (all.empty()) // removed since names() looked
      continue;
    // LATEST is what a server serves: the newest version that loads. Newer ones that do
    // not load are listed after the table (servers log and skip them).
    json unloadable = json::array();
    const serving::model_version* served = nullptr;
    decoded<compute::model_artifact> a = decoded<compute::model_artifact>::failure("");
    for (auto it = all.rbegin(); it != all.rend() && !served; ++it) {
      a = reg.load(name, it->version);
      if (a) {
        served = &*it;
      } else {
        unloadable.push_back({{"version", it->version}, {"error", a.error}});
        notes.push_back(fmt::format("{}:{} cannot be loaded, servers skip it: {}", name,
                                    it->version, a.error));
      }
    }
    json j{{"name", name}, {"latest", nullptr}, {"versions", json::array()}};
    for (const auto& each : all)
      j["versions"].push_back(each.version);
    if (served) {
      j["latest"] = served->version;
      j["size_bytes"] = served->size_bytes;
      j["modified_unix"] = served->modified_unix;
      j["path"] = served->path;
      j["kind"] = a.value->spec.kind;
      j["layers"] = a.value->spec.layers;
      j["metrics"] = a.value->metrics;
      rows.push_back({name, std::to_string(served->version), std::to_string(all.size()),
                      human_size(served->size_bytes), utc_time(served->modified_unix),
                      a.value->spec.kind, layers_text(a.value->spec.layers),
                      metrics_text(a.value->metrics)});
    } else {
      j["error"] = "no version loads";
      rows.push_back({name, "-", std::to_string(all.size()), "-", "-", "invalid", "-",
                      "no version loads"});
    }
    if (!unloadable.empty())
      j["unloadable"] = std::move(unloadable);
    out.push_back(std::move(j));
  }
  if (as_json) {
    std::cout << out.dump(2) << '\n';
  } else if (rows.size() == 1) {
    std::cout << "no models in " << reg.root() << '\n';
  } else {
    print_table(rows);
    for (const auto& note : notes)
      std::cout << note << '\n';
  }
  return 0;
}

/// Everything in the artifact but its weights (their count stands in for them).
json describe(const serving::model_version& v, const compute::model_artifact& a) {
  json j{{"name", v.name}, {"version", v.version}, {"path", v.path},
         {"size_bytes", v.size_bytes}, {"modified_unix", v.modified_unix},
         {"checksum_ok", true}, {"kind", a.spec.kind}};
  j["spec"] = {{"layers", a.spec.layers},
               {"activation", std::string(compute::to_string(a.spec.hidden))},
               {"task", std::string(compute::to_string(a.spec.objective))},
               {"seed", a.spec.seed},
               {"weight_decay", a.spec.weight_decay}};
  j["parameters"] = a.weights.size();
  j["classes"] = a.classes;
  j["input_columns"] = a.input_columns;
  j["feature_columns"] = a.feature_columns;
  j["preprocessing"] = json::array();
  for (const auto& op : a.preprocessing.ops)
    j["preprocessing"].push_back({{"op", std::string(to_string(op.op))},
                                  {"column", op.column},
                                  {"a", op.a},
                                  {"b", op.b},
                                  {"categories", op.categories}});
  j["metrics"] = a.metrics;
  if (a.fleet) {
    const auto& f = *a.fleet;
    j["fleet"] = {{"by", f.by},
                  {"unknown_key", f.unknown_key_shared ? "shared" : "error"},
                  {"min_rows", f.min_rows},
                  {"shared", f.shared},
                  {"own_models", f.own_count()},
                  {"segments", json::array()}};
    for (const auto& seg : f.segments)
      j["fleet"]["segments"].push_back(
        {{"key", seg.key}, {"rows", seg.rows}, {"own", seg.own}, {"metrics", seg.metrics}});
  }
  if (a.trained_on) {
    j["feature_distribution"] = {{"rows", a.trained_on->rows}, {"features", json::array()}};
    for (const auto& h : a.trained_on->features)
      j["feature_distribution"]["features"].push_back(
        {{"column", h.column}, {"edges", h.edges}, {"counts", h.counts}});
  }
  const auto& p = a.provenance;
  j["provenance"] = {{"graph", p.graph},
                     {"step", p.step},
                     {"data_source", p.data_source},
                     {"created_unix", p.created_unix},
                     {"conveyor_version", p.conveyor_version}};
  return j;
}

void print_description(const serving::model_version& v, const compute::model_artifact& a) {
  auto row = [](const std::string& key, const std::string& value) {
    std::cout << fmt::format("  {:<18}{}\n", key + ":", value);
  };
  std::cout << v.name << " version " << v.version << '\n';
  row("file", fmt::format("{} ({} bytes, modified {})", v.path, v.size_bytes,
                          utc_time(v.modified_unix)));
  row("checksum", "ok");
  row("kind", a.spec.kind);
  row("layers", layers_text(a.spec.layers));
  row("activation", std::string(compute::to_string(a.spec.hidden)));
  row("task", std::string(compute::to_string(a.spec.objective)));
  row("classes", std::to_string(a.classes));
  row("parameters", std::to_string(a.weights.size()));
  row("seed", std::to_string(a.spec.seed));
  row("weight decay", fmt::format("{:g}", a.spec.weight_decay));
  row("input columns", columns_text(a.input_columns));
  row("feature columns", columns_text(a.feature_columns));
  row("preprocessing", a.preprocessing.ops.empty()
                         ? std::string("none")
                         : fmt::format("{} op(s)", a.preprocessing.ops.size()));
  for (const auto& op : a.preprocessing.ops) {
    std::string line = fmt::format("    {} {}", std::string(to_string(op.op)), op.column);
    if (op.op != column_op::kind::drop && op.op != column_op::kind::one_hot)
      line += fmt::format(" (a={:g}, b={:g})", op.a, op.b);
    if (!op.categories.empty())
      line += " [" + columns_text(op.categories) + "]";
    std::cout << line << '\n';
  }
  row("metrics", metrics_text(a.metrics));
  if (a.fleet) {
    const auto& f = *a.fleet;
    row("fleet", fmt::format("by '{}', {} keys, {} with their own model (min_rows {}); "
                             "unknown keys: {}",
                             f.by, f.segments.size(), f.own_count(), f.min_rows,
                             f.unknown_key_shared ? "the shared model" : "error"));
    for (const auto& seg : f.segments)
      std::cout << fmt::format("    {} ({} rows{}): {}\n", seg.key, seg.rows,
                               seg.own ? "" : ", shared model", metrics_text(seg.metrics));
  }
  row("trained on", a.trained_on ? fmt::format("histograms of {} features over {} rows",
                                               a.trained_on->features.size(), a.trained_on->rows)
                                 : std::string("no histograms (no drift checks)"));
  const auto& p = a.provenance;
  row("graph", p.graph.empty() ? "-" : p.graph);
  row("step", p.step.empty() ? "-" : p.step);
  row("data source", p.data_source.empty() ? "-" : p.data_source);
  row("created", p.created_unix > 0 ? utc_time(p.created_unix) : "-");
  row("conveyor version", p.conveyor_version.empty() ? "-" : p.conveyor_version);
}

int show(const serving::registry& reg, const target& t, bool as_json) {
  const auto v = find_version(reg, t);
  auto a = reg.load(v.name, v.version);
  if (!a) {
    std::cerr << "error: " << v.name << ":" << v.version << ": " << a.error << '\n';
    return exit_failed;
  }
  if (as_json)
    std::cout << describe(v, *a.value).dump(2) << '\n';
  else
    print_description(v, *a.value);
  return 0;
}

int remove(serving::registry& reg, const target& t, bool all) {
  if (all && t.version)
    throw bad_input("give NAME:VERSION or NAME --all, not both");
  if (!all && !t.version)
    throw bad_input("say which version to remove (" + t.name + ":VERSION), or --all to remove "
                    "every version of '" + t.name + "'");
  const auto chosen = all ? versions_of(reg, t.name)
                          : std::vector<serving::model_version>{find_version(reg, t)};
  for (const auto& v : chosen)
    if (reg.remove(v.name, v.version))
      std::cout << "removed " << v.name << ":" << v.version << " (" << v.path << ")\n";
  return 0;
}

} // namespace

models_command::models_command(CLI::App& app) {
  models_ = app.add_subcommand("models", "List, inspect and remove models in a model registry");
  models_->require_subcommand(1);
  auto registry_option = [this](CLI::App* sub) {
    sub->add_option("--registry", registry_, "the registry directory (NAME/VERSION.model)")
      ->required();
  };
  list_ = models_->add_subcommand("list", "One line per model: its latest version and kind");
  registry_option(list_);
  list_->add_flag("--json", json_, "print JSON instead of a table");

  show_ = models_->add_subcommand("show", "Everything a model version holds but its weights");
  show_->add_option("model", target_, "NAME or NAME:VERSION (default: the latest)")->required();
  registry_option(show_);
  show_->add_flag("--json", json_, "print JSON");

  rm_ = models_->add_subcommand("rm", "Remove one version of a model, or all with --all");
  rm_->add_option("model", target_, "NAME:VERSION, or NAME with --all")->required();
  registry_option(rm_);
  rm_->add_flag("--all", all_, "remove every version of NAME");
}

bool models_command::parsed() const { return models_->parsed(); }

int models_command::run() const {
  try {
    require_registry(registry_);
    serving::registry reg(registry_);
    if (list_->parsed())
      return list(reg, json_);
    if (show_->parsed())
      return show(reg, parse_target(target_), json_);
    return remove(reg, parse_target(target_), all_);
  } catch (const bad_input& e) {
    std::cerr << "error: " << e.what() << '\n';
    return exit_bad_input;
  } catch (const std::invalid_argument& e) {
    std::cerr << "error: " << e.what() << '\n';
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return exit_failed;
  }
}

} // namespace conveyor::cli
