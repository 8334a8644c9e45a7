// Supervision: every hosted instance is monitored; a down message from an instance
// the node did not stop itself is reported to the coordinator (`exited`), which decides
// the restart over the whole graph and sends `respawn` after the backoff.
#include "runtime/node.hpp"

#include "dsl/front_end.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "step/kind_registry.hpp"
#include "runtime/step_actor.hpp"
#include "runtime/topology.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>

namespace conveyor {

namespace {

struct hosted_instance {
  std::string step;
  int replica = 0;
  int device = -1;
  caf::actor handle;
  int incarnation = 0;
  std::optional<std::string> saved_state;
};

struct node_state {
  node_options options;
  caf::actor coordinator;
  std::optional<dsl::graph_spec> graph;
  std::optional<topology> shape;
  std::map<std::string, hosted_instance> instances;
  /// Live handles to instance names; an instance the node stops itself is removed
  /// first, so its down message is recognised as expected.
  std::map<caf::actor_addr, std::string> by_address;
  bool stopping = false;
};

using node_actor = caf::stateful_actor<node_state>;

/// Spawns (or respawns) one instance; `step_not_built` if the graph has no such step,
/// the node no such kind, or the kind refuses the parameters.
caf::error spawn_instance(node_actor* self, const std::string& name) {
  auto& st = self->state;
  auto& inst = st.instances.at(name);
  const auto* spec_ptr = st.graph->find_node(inst.step);
  if (spec_ptr == nullptr)
    return make_error(runtime_errc::step_not_built,
                      "step '" + name + "': the graph has no step '" + inst.step + "'");
  const auto& spec = *spec_ptr;
  const auto* entry = st.options.registry->find(spec.kind);
  if (entry == nullptr)
    return make_error(runtime_errc::step_not_built,
                      "step '" + name + "': node '" + st.options.name + "' has no kind '" +
                        spec.kind + "'");
  auto replicas = spec.instances;
  step_config config;
  config.name = name;
  config.params = step_params{spec.params};
  config.replica = inst.replica;
  config.replicas = replicas;
  config.graph = st.graph->name;
  config.replicas_attribute = spec.attributes.replicas;
  config.device = inst.device;
  step_actor_config cfg;
  cfg.instance = name;
  cfg.step = inst.step;
  cfg.kind = spec.kind;
  cfg.schema = &entry->schema;
  try {
    cfg.logic = std::shared_ptr<step>(entry->factory(config));
  } catch (const std::exception& e) {
    return make_error(runtime_errc::step_not_built, "step '" + name + "': " + e.what());
  }
  cfg.replica = inst.replica;
  cfg.replicas = replicas;
  cfg.incarnation = inst.incarnation;
  cfg.buffer = spec.attributes.buffer;
  cfg.source = st.shape->is_source(inst.step);
  cfg.terminal = st.shape->is_terminal(inst.step);
  cfg.replica_group = entry->schema.replica_group;
  cfg.ack_route = cfg.replica_group ? name : inst.step;
  cfg.saved_state = inst.saved_state;
  cfg.stop_requested = st.options.stop_requested;
  inst.handle = spawn_step_actor(self, std::move(cfg), st.coordinator, caf::actor{self});
  self->monitor(inst.handle);
  st.by_address[inst.handle.address()] = name;
  return caf::none;
}

/// Stops an instance without treating its exit as a failure.
void stop_instance(node_actor* self, hosted_instance& inst) {
  if (!inst.handle)
    return;
  self->state.by_address.erase(inst.handle.address());
  self->send_exit(inst.handle, caf::exit_reason::kill);
  inst.handle = nullptr;
}

/// Kills every instance and ends the node.
void stop_node(node_actor* self) {
  auto& st = self->state;
  st.stopping = true;
  for (auto& [name, inst] : st.instances)
    stop_instance(self, inst);
  self->quit();
}

void on_instance_down(node_actor* self, const caf::down_msg& msg) {
  auto& st = self->state;
  if ((st.coordinator && msg.source == st.coordinator.address()) ||
      (st.options.owner && msg.source == st.options.owner.address())) {
    if (!st.stopping)
      spdlog::warn("[node {}] lost the run's coordinator ({}): stopping its steps",
                   st.options.name, error_text(msg.reason));
    stop_node(self);
    return;
  }
  auto i = st.by_address.find(msg.source);
  if (i == st.by_address.end() || st.stopping)
    return;
  auto name = i->second;
  st.by_address.erase(i);
  auto& inst = st.instances.at(name);
  inst.handle = nullptr;
  // The coordinator decides whether and what restarts (runtime/supervision.hpp), over
  // the whole graph wherever its steps run.
  instance_exit exit{name, inst.incarnation, static_cast<bool>(msg.reason),
                     msg.reason ? error_text(msg.reason) : std::string{}};
  if (exit.failed)
    spdlog::warn("[node {}] step {} failed: {}", st.options.name, name, exit.reason);
  self->send(st.coordinator, exited_atom::value, std::move(exit));
}

void respawn(node_actor* self, const std::vector<std::string>& names, bool after_failure) {
  auto& st = self->state;
  if (st.stopping)
    return;
  std::vector<spawned_instance> spawned;
  for (const auto& name : names) {
    auto i = st.instances.find(name);
    if (i == st.instances.end())
      continue;
    stop_instance(self, i->second);
    ++i->second.incarnation;
    if (auto error = spawn_instance(self, name)) {
      step_failure_report report{i->second.step, name, i->second.incarnation, error_text(error)};
      self->send(st.coordinator, failed_atom::value, std::move(report));
      return;
    }
    spawned.push_back(spawned_instance{name, i->second.handle});
  }
  self->send(st.coordinator, restarted_atom::value, std::move(spawned), !after_failure);
}

caf::behavior node_behavior(node_actor* self, node_options options) {
  self->state.options = std::move(options);
  handle_exceptions(self);
  drop_unexpected_messages(self, "node " + self->state.options.name);
  self->set_down_handler([=](caf::down_msg& msg) { on_instance_down(self, msg); });
  if (self->state.options.owner)
    self->monitor(self->state.options.owner);
  return {
    [=](deploy_atom, deployment& d) -> caf::result<std::vector<spawned_instance>> {
      auto& st = self->state;
      if (!st.coordinator) {
        // The run's steps live as long as its coordinator: a node whose coordinator
        // ends or becomes unreachable stops them.
        st.coordinator = caf::actor_cast<caf::actor>(self->current_sender());
        self->monitor(st.coordinator);
      }
      dsl::compile_options opts;
      opts.file_name = d.file_name;
      for (const auto& [k, v] : d.overrides)
        opts.overrides[k] = v;
      auto compiled = dsl::compile(d.graph_source, *st.options.registry, opts);
      if (!compiled.ok())
        return make_error(runtime_errc::graph_invalid,
                          dsl::format_diagnostics(compiled.diagnostics, d.graph_source));
      st.graph = std::move(compiled.spec);
      st.shape.emplace(*st.graph, *st.options.registry);
      std::vector<spawned_instance> result;
      for (const auto& a : d.instances) {
        auto name = instance_name(a.step, a.replica);
        st.instances[name] = hosted_instance{a.step, a.replica, a.device, {}, a.incarnation, {}};
        for (const auto& [instance, bytes] : d.saved)
          if (instance == name)
            st.instances[name].saved_state = bytes;
        if (auto error = spawn_instance(self, name))
          return error;
        result.push_back(spawned_instance{name, st.instances[name].handle});
      }
      std::string names;
      for (const auto& r : result)
        names += (names.empty() ? "" : ", ") + r.instance;
      spdlog::info("[node {}] hosting {}", st.options.name, names);
      return result;
    },
    [=](respawn_atom, std::vector<std::string>& names, bool after_failure) {
      respawn(self, names, after_failure);
    },
    [=](drain_atom) {
      // Directly: a step blocked inside a call sees it without reading its mailbox.
      self->state.options.stop_requested->store(true);
    },
    [=](save_atom, std::string& instance, std::string& bytes) {
      auto& st = self->state;
      auto i = st.instances.find(instance);
      if (i == st.instances.end())
        return;
      // For the instance's next incarnation here; the step sent the coordinator its copy.
      i->second.saved_state = std::move(bytes);
    },
    [=](stop_atom) { stop_node(self); },
  };
}

} // namespace

caf::actor spawn_node(caf::actor_system& system, node_options options) {
  if (!options.stop_requested)
    options.stop_requested = std::make_shared<std::atomic<bool>>(false);
  return system.spawn(node_behavior, std::move(options));
}

} // namespace conveyor
