#include "runtime/node_host.hpp"

#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/node.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <memory>

namespace conveyor {

namespace {

struct hosted_run {
  std::string run_id;
  caf::actor node;
  std::shared_ptr<std::atomic<bool>> stop_requested;
};

struct node_host_state {
  node_host_options options;
  std::map<caf::actor_addr, hosted_run> runs; // by the run's node
  bool draining = false;
};

using node_host_actor = caf::stateful_actor<node_host_state>;

caf::behavior node_host_behavior(node_host_actor* self, node_host_options options) {
  self->state.options = std::move(options);
  handle_exceptions(self);
  drop_unexpected_messages(self, "node host " + self->state.options.name);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.runs.find(msg.source);
    if (i == st.runs.end())
      return;
    spdlog::info("[node {}] run {} ended", st.options.name, i->second.run_id);
    st.runs.erase(i);
    if (st.draining && st.runs.empty())
      self->quit();
  });
  return {
    [=](resources_atom) {
      const auto& o = self->state.options;
      return node_resources{o.name, o.labels, o.cores, o.memory_bytes, o.gpus};
    },
    [=](join_atom, std::string& run_id) -> caf::result<caf::actor> {
      auto& st = self->state;
      if (st.draining)
        return make_error(runtime_errc::deploy_failed,
                          "node '" + st.options.name + "' is shutting down");
      for (const auto& [addr, run] : st.runs)
        if (run.run_id == run_id)
          return make_error(runtime_errc::deploy_failed,
                            "node '" + st.options.name + "' already hosts run " + run_id);
      node_options o;
      o.name = st.options.name;
      o.labels = st.options.labels;
      o.gpus = st.options.gpus;
      o.registry = st.options.registry;
      o.stop_requested = std::make_shared<std::atomic<bool>>(false);
      o.owner = caf::actor_cast<caf::actor>(self->current_sender());
      auto node = spawn_node(self->system(), o);
      self->monitor(node);
      st.runs[node.address()] = hosted_run{run_id, node, o.stop_requested};
      spdlog::info("[node {}] joined run {}", st.options.name, run_id);
      return node;
    },
    [=](drain_atom) {
      auto& st = self->state;
      if (st.draining)
        return;
      st.draining = true;
      spdlog::info("[node {}] draining: stopping {} run(s)", st.options.name, st.runs.size());
      for (auto& [addr, run] : st.runs) {
        run.stop_requested->store(true); // steps inside a call see it at once
        self->send(run.node, stop_atom::value);
      }
      if (st.runs.empty())
        self->quit();
    },
  };
}

} // namespace

caf::actor spawn_node_host(caf::actor_system& system, node_host_options options) {
  return system.spawn(node_host_behavior, std::move(options));
}

} // namespace conveyor
