// The registry of actor kinds: name -> schema (for the graph language) and factory
// (for the runtime). Kinds register themselves from actors/ (see
// actors/builtin_kinds.hpp); the runtime knows none of them by name.
#pragma once

#include "dsl/graph_spec.hpp"
#include "dsl/schema.hpp"
#include "step/step.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor {

/// A node's parameters with typed accessors. The graph language already checked
/// types and filled defaults, so a missing or mistyped key here is a programming
/// error in the kind (it throws `step_failure` naming the key).
class step_params {
public:
  step_params() = default;
  explicit step_params(std::map<std::string, dsl::value> values) : values_(std::move(values)) {}

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const dsl::value& get(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::int64_t get_integer(const std::string& key) const;
  double get_number(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::int64_t get_duration_ns(const std::string& key) const;
  std::uint64_t get_size_bytes(const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& key) const;
  std::vector<double> get_numbers(const std::string& key) const;
  std::vector<std::int64_t> get_integers(const std::string& key) const;

  const std::map<std::string, dsl::value>& all() const { return values_; }

private:
  std::map<std::string, dsl::value> values_;
};

/// What a factory receives to build one step instance.
struct step_config {
  std::string name;
  step_params params;
  int replica = 0;
  int replicas = 1;
  /// The graph's name (for provenance).
  std::string graph;
  /// The node's `replicas` attribute as written. Kinds that run their replicas inside
  /// one instance (an inference server: one socket, N workers; their
  /// `replicas_from_params` returns 1) read it here.
  int replicas_attribute = 1;
};

using step_factory = std::function<std::unique_ptr<step>(const step_config&)>;

struct kind_entry {
  dsl::kind_schema schema;
  step_factory factory;
  /// Optional: how many replicas a node of this kind runs, from its parameters (a
  /// trainer's `devices = "cpu:4"`); without it, the `replicas` attribute decides.
  /// May throw step_failure for a malformed parameter.
  std::function<int(const step_params&)> replicas_from_params;
};

/// Rules: register everything before the first lookup; lookups may then run
/// concurrently (the registry is not modified after start-up).
class kind_registry : public dsl::schema_catalog {
public:
  /// Throws std::logic_error if the name is taken.
  void add(kind_entry entry);
  const kind_entry* find(std::string_view name) const;

  /// How many instances a node of the graph runs (see kind_entry::replicas_from_params).
  int replicas_of(const dsl::node_spec& node) const;

  const dsl::kind_schema* find_kind(std::string_view name) const override;
  std::vector<std::string> kind_names() const override;

private:
  std::map<std::string, kind_entry, std::less<>> entries_;
};

} // namespace conveyor
