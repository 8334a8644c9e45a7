#include "runtime/status_probe.hpp"

#include "runtime/messages.hpp"

#include <chrono>

namespace conveyor {

namespace {

constexpr auto probe_interval = std::chrono::milliseconds(500);

struct probe_state {
  std::vector<std::pair<std::string, caf::actor>> hosts;
  std::shared_ptr<live_counters> live;
};

caf::behavior status_probe(caf::stateful_actor<probe_state>* self,
                           std::vector<std::pair<std::string, caf::actor>> hosts,
                           caf::actor coordinator, std::shared_ptr<live_counters> live) {
  self->state.hosts = std::move(hosts);
  self->state.live = std::move(live);
  self->monitor(coordinator);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      for (const auto& [name, host] : self->state.hosts)
        self->request(host, probe_interval * 2, resources_atom::value)
          .then([self, name = name](node_resources&) { self->state.live->heard_from(name); },
                [](caf::error&) {}); // not answering is what the age shows
      self->delayed_send(self, probe_interval, tick_atom::value);
    },
  };
}

} // namespace

void spawn_status_probe(caf::actor_system& system,
                        std::vector<std::pair<std::string, caf::actor>> hosts,
                        const caf::actor& coordinator, std::shared_ptr<live_counters> live) {
  system.spawn(status_probe, std::move(hosts), coordinator, std::move(live));
}

} // namespace conveyor
