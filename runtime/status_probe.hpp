// The heartbeat behind `conveyor status`'s node table: in a cluster run, an actor asks
// every node's host for its resources twice a second and records each answer's time in
// the live counters (node_status::last_heard), so the status shows how long ago each
// node last answered. It ends with the coordinator. Failure detection itself is the
// middleman's (docs/operator-guide.md); this only reports.
#pragma once

#include "runtime/live_counters.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

void spawn_status_probe(caf::actor_system& system,
                        std::vector<std::pair<std::string, caf::actor>> hosts,
                        const caf::actor& coordinator, std::shared_ptr<live_counters> live);

} // namespace conveyor
