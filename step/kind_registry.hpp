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
#include <optional>
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
  /// How many instances of the node run (graph_spec's node_spec::instances).
  int replicas = 1;
  /// The graph's name (for provenance).
  std::string graph;
  /// The node's `replicas` attribute as written. Kinds that run their replicas inside
  /// one instance (an inference server: one socket, N workers; their instance rule
  /// says 1) read it here.
  int replicas_attribute = 1;
  /// The first GPU ordinal placement gave this instance on its node (`gpus = N`: N
  /// consecutive ordinals from it); -1: none.
  int device = -1;
};

/// Builds a step. Rules: it validates the parameters (throwing step_failure with a
/// one-line reason that names the parameter in quotes, 'batch', for a value it refuses)
/// and does no I/O and nothing slow: the graph compiler calls it once per node to check
/// the values (`conveyor check` reports what it refuses at that parameter), before any
/// instance is built for real. Files are opened in `step::open`.
using step_factory = std::function<std::unique_ptr<step>(const step_config&)>;

/// How many instances a node of a kind runs when the kind decides it rather than the
/// node's `replicas` attribute.
struct instance_rule {
  /// The parameter the count comes from (a diagnostic for a bad value points at it);
  /// empty for a count that no parameter decides.
  std::string parameter;
  /// The count (>= 1); throws step_failure for a value it refuses.
  std::function<int(const step_params&)> count;
};

struct kind_entry {
  dsl::kind_schema schema;
  step_factory factory;
  /// Optional: a trainer's `devices = "cpu:4"` runs 4 instances; an inference server
  /// runs 1 whatever `replicas` says. Without it, the `replicas` attribute decides.
  /// Evaluated once, when the graph is compiled (the result is node_spec::instances).
  std::optional<instance_rule> instances;
};

/// Rules: register everything before the first lookup; lookups may then run
/// concurrently (the registry is not modified after start-up).
class kind_registry : public dsl::schema_catalog {
public:
  /// Throws std::logic_error if the name is taken.
  void add(kind_entry entry);
  const kind_entry* find(std::string_view name) const;

  const dsl::kind_schema* find_kind(std::string_view name) const override;
  std::vector<std::string> kind_names() const override;
  /// The kind's instance rule, else the `replicas` attribute.
  dsl::instance_count instances_of(const dsl::node_spec& node) const override;
  /// Builds the step once with the node's parameters (see step_factory): what the
  /// factory refuses, at the first of the kind's parameters its message names in quotes.
  std::optional<dsl::param_problem> check_params(const dsl::node_spec& node) const override;

private:
  std::map<std::string, kind_entry, std::less<>> entries_;
};

} // namespace conveyor
