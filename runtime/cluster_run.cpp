#include "runtime/cluster_run.hpp"

#include "runtime/actor_system_setup.hpp"
#include "runtime/coordinator.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/run_driver.hpp"
#include "runtime/status_probe.hpp"

#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

namespace conveyor {

namespace {

constexpr auto node_answer_time = std::chrono::seconds(10);
/// A TLS handshake with a busy node can fail transiently (CAF's OpenSSL module gives up
/// on it with `connection_timeout` after a few tries): connecting is tried this often.
constexpr int connect_attempts = 5;
constexpr auto connect_retry_delay = std::chrono::milliseconds(200);

/// A run id unique across coordinators and restarts: the graph's name and 64 random bits.
std::string new_run_id(const std::string& graph) {
  std::random_device entropy;
  std::uint64_t bits = (std::uint64_t{entropy()} << 32) ^ entropy();
  std::ostringstream id;
  id << graph << '-' << std::hex << bits;
  return id.str();
}

run_report not_started(const dsl::graph_spec& graph, const caf::error& why) {
  run_report r;
  r.graph = graph.name;
  r.status = run_status::failed;
  r.error = error_text(why);
  return r;
}

struct joined_node {
  node_resources resources;
  caf::actor host;
  caf::actor run_node;
};

/// Connects to one node, checks its name and joins it to the run.
caf::expected<joined_node> join(caf::actor_system& system, caf::scoped_actor& self,
                                const cluster::node_entry& entry, const std::string& run_id,
                                bool tls) {
  auto where = "node '" + entry.name + "' at " + cluster::to_string(entry.where);
  auto host = connect_actor(system, entry.where, tls);
  for (int attempt = 1; !host && attempt < connect_attempts; ++attempt) {
    std::this_thread::sleep_for(connect_retry_delay);
    host = connect_actor(system, entry.where, tls);
  }
  if (!host)
    return make_error(runtime_errc::node_lost,
                      "cannot reach " + where + ": " + system.render(host.error()));
  joined_node out;
  out.host = *host;
  caf::error failed;
  self->request(*host, node_answer_time, resources_atom::value)
    .receive([&](node_resources& r) { out.resources = std::move(r); },
             [&](caf::error& e) { failed = std::move(e); });
  if (failed)
    return make_error(runtime_errc::node_lost,
                      where + " did not report its resources: " + system.render(failed));
  if (out.resources.name != entry.name)
    return make_error(runtime_errc::deploy_failed,
                      "the node at " + cluster::to_string(entry.where) + " is named '" +
                        out.resources.name + "', not '" + entry.name + "' as the cluster file says");
  self->request(*host, node_answer_time, join_atom::value, run_id)
    .receive([&](caf::actor& node) { out.run_node = std::move(node); },
             [&](caf::error& e) { failed = std::move(e); });
  if (failed)
    return make_error(runtime_errc::deploy_failed,
                      where + " did not join the run: " + error_text(failed));
  return out;
}

} // namespace

run_report run_on_cluster(const dsl::graph_spec& graph, const kind_registry& registry,
                          const local_run_options& options,
                          const cluster::cluster_config& cluster) {
  caf::actor_system_config cfg;
  system_setup setup;
  setup.threads = options.threads;
  setup.network = true;
  setup.heartbeat_interval_ms = cluster.heartbeat_interval_ms;
  setup.connection_timeout_ms = cluster.connection_timeout_ms;
  setup.tls = cluster.tls;
  setup.control_only = true; // every step runs on the nodes
  configure_actor_system(cfg, setup);
  auto system = std::make_unique<caf::actor_system>(cfg);

  auto run_id = new_run_id(graph.name);
  auto report = std::make_shared<run_report>();
  coordinator_options coord_opts;
  coord_opts.graph = graph;
  coord_opts.file_name = options.file_name;
  coord_opts.graph_source = options.graph_source;
  coord_opts.overrides = options.overrides;
  coord_opts.registry = &registry;
  coord_opts.report = report;
  coord_opts.live = options.live;
  coord_opts.state_dir = options.state_dir.empty() ? cluster.state_dir : options.state_dir;
  coord_opts.resume = options.resume;
  std::vector<caf::actor> nodes;
  std::vector<std::pair<std::string, caf::actor>> hosts;
  // Joins the nodes and lives as long as the run: a node's run ends with it.
  caf::scoped_actor runner{*system};
  for (const auto& entry : cluster.nodes) {
    auto joined = join(*system, runner, entry, run_id, cluster.tls.has_value());
    if (!joined) {
      // Nodes already joined end their run's node when `runner` ends.
      return not_started(graph, joined.error());
    }
    const auto& r = joined->resources;
    spdlog::info("run {}: node '{}' at {} ({} cores, {} MiB, {} GPU(s))", run_id, r.name,
                 cluster::to_string(entry.where), r.cores, r.memory_bytes >> 20, r.gpus);
    coord_opts.nodes.push_back(cluster::node_offer{r.name, r.labels, r.cores, r.gpus});
    nodes.push_back(joined->run_node);
    hosts.emplace_back(r.name, joined->host);
    if (options.live)
      options.live->set_node(node_status{r.name, cluster::to_string(entry.where), r.labels, r.cores,
                                         r.memory_bytes, r.gpus,
                                         std::chrono::steady_clock::now()});
  }
  auto coordinator = spawn_coordinator(*system, std::move(coord_opts), std::move(nodes));
  if (options.live)
    spawn_status_probe(*system, std::move(hosts), coordinator, options.live);
  auto result = drive_run(*system, coordinator, report, graph, options, nullptr);
  if (!result.abandoned.empty())
    system.release(); // see run_locally
  return result;
}

} // namespace conveyor
