// Placement is cluster::place over what the nodes offer.
// Wiring is recomputed from the graph's edges and the current handles whenever an
// instance changes; delivery state lives in one delivery_ledger, row counts in one
// batch_counts.
#include "runtime/coordinator.hpp"

#include "runtime/batch_counts.hpp"
#include "runtime/delivery_ledger.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/supervision.hpp"
#include "runtime/topology.hpp"
#include "step/kind_registry.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

namespace conveyor {

namespace {

constexpr auto deploy_timeout = std::chrono::seconds(30);
/// How long the end of a run waits for the last counters of its step actors (they send
/// them as they end); past it the report is filled without those still missing.
constexpr auto last_stats_timeout = std::chrono::seconds(2);
/// The state directory is written at most this often (and at the end of the run).
constexpr auto journal_interval = std::chrono::milliseconds(100);

struct instance_info {
  std::string step;
  int replica = 0;
  std::size_t node = 0;
  caf::actor handle;
  int incarnation = 0;
  bool done = false;
  /// The current incarnation's last counters arrived (it has ended).
  bool last_stats = false;
};

struct coordinator_state {
  coordinator_options options;
  std::vector<caf::actor> nodes;
  std::optional<topology> shape;
  std::optional<graph_supervisor> supervisor;
  delivery_ledger ledger;
  std::map<std::string, instance_info> instances;
  std::map<std::string, int> failure_restarts; // by step
  /// The cumulative counters of each incarnation: by (instance, incarnation).
  std::map<std::pair<std::string, int>, step_stats> incarnations;
  batch_counts counts;
  std::map<std::string, std::map<std::string, double>> metrics; // by step
  caf::actor requester;
  std::chrono::steady_clock::time_point started;
  run_status status = run_status::completed;
  bool draining = false;
  bool wired = false;
  bool ended = false;
  /// While the run ends: instances whose last counters have not arrived yet.
  std::set<std::string> awaiting_last_stats;
  std::size_t deploy_replies = 0;
  /// Nodes declared lost (by index), and their CAF node ids: messages from their
  /// actors are dropped (fenced), whatever comes back after a freeze.
  std::set<std::size_t> lost;
  std::set<caf::node_id> lost_ids;
  /// The latest durable state of every instance, forwarded by the nodes.
  std::map<std::string, std::string> saved;
  /// The state directory's writer (options.state_dir), and whether a flush is due.
  std::unique_ptr<state_journal> journal;
  bool ledger_changed = false;
  bool flush_due = false;
};

using coordinator_actor = caf::stateful_actor<coordinator_state>;

std::uint32_t port_index(const std::vector<dsl::port_schema>& ports, const std::string& name) {
  for (std::size_t i = 0; i < ports.size(); ++i)
    if (ports[i].name == name)
      return static_cast<std::uint32_t>(i);
  return 0;
}

const dsl::kind_schema& schema_of(coordinator_state& st, const std::string& step) {
  return *st.options.registry->find_kind(st.options.graph.find_node(step)->kind);
}

std::vector<std::string> instances_of(coordinator_state& st, const std::string& step) {
  std::vector<std::string> out;
  for (const auto& [name, info] : st.instances)
    if (info.step == step)
      out.push_back(name);
  return out;
}

wiring wiring_for(coordinator_state& st, const std::string& name, bool resume) {
  const auto& me = st.instances.at(name);
  wiring w;
  for (const auto& e : st.options.graph.edges) {
    if (e.to_node == me.step) {
      auto in_port = port_index(schema_of(st, me.step).inputs, e.to_port);
      auto out_port = port_index(schema_of(st, e.from_node).outputs, e.from_port);
      for (const auto& p : instances_of(st, e.from_node))
        w.inputs.push_back(in_link{in_port, p, st.instances.at(p).handle, out_port});
    }
    if (e.from_node == me.step) {
      auto out_port = port_index(schema_of(st, me.step).outputs, e.from_port);
      auto in_port = port_index(schema_of(st, e.to_node).inputs, e.to_port);
      bool broadcast = schema_of(st, e.to_node).replica_group;
      for (const auto& c : instances_of(st, e.to_node))
        w.outputs.push_back(
          out_link{out_port, e.to_node, c, st.instances.at(c).handle, in_port, broadcast});
    }
  }
  if (resume && st.shape->is_source(me.step)) {
    auto point = st.ledger.resume_point_of(name);
    if (point.last_sequence > 0) {
      w.resume = true;
      w.resume_after = point.position;
      w.next_sequence = point.last_sequence + 1;
    }
  }
  bool group = schema_of(st, me.step).replica_group;
  if (st.shape->is_terminal(me.step))
    for (const auto& a : st.ledger.delivered_to(group ? name : me.step))
      w.delivered.push_back(source_acks{a.source, a.watermark, a.above});
  if (group) {
    auto replicas = instances_of(st, me.step);
    w.peers.resize(replicas.size());
    for (const auto& r : replicas) {
      const auto& info = st.instances.at(r);
      if (info.replica >= 0 && static_cast<std::size_t>(info.replica) < w.peers.size())
        w.peers[info.replica] = info.handle;
    }
  }
  return w;
}

/// What `step` has done so far (its report line).
step_summary summarize(coordinator_state& st, const dsl::node_spec& n) {
  step_summary s;
  s.step = n.name;
  s.kind = n.kind;
  s.replicas = n.instances;
  if (auto m = st.metrics.find(n.name); m != st.metrics.end())
    s.metrics = m->second;
  s.restarts = st.failure_restarts[n.name];
  auto counted = st.counts.of(n.name);
  s.rows_in = counted.rows_in;
  s.rows_out = counted.rows_out;
  s.rows_rejected = counted.rows_rejected;
  s.bytes_in = counted.bytes_in;
  s.batches_out = counted.batches_out;
  bool source = st.shape && st.shape->is_source(n.name);
  s.rows_replayed = source ? counted.replayed_out : counted.replayed_in;
  for (const auto& [key, stats] : st.incarnations) {
    if (stats.step != n.name)
      continue;
    s.rows_rejected += stats.rejected_outside_batches;
    s.busy_seconds += static_cast<double>(stats.busy_ns) / 1e9;
    for (const auto& w : stats.credit_waits)
      s.credit_wait_seconds[{w.port, w.consumer_step}] += static_cast<double>(w.wait_ns) / 1e9;
  }
  return s;
}

/// Hands `step`'s summary so far to the live counters, if the runner asked for them.
void publish(coordinator_state& st, const std::string& step) {
  if (!st.options.live)
    return;
  if (const auto* n = st.options.graph.find_node(step))
    st.options.live->set(summarize(st, *n));
  for (const auto& [name, info] : st.instances)
    if (info.step == step)
      st.options.live->set_instance(
        {name, step, info.node < st.options.nodes.size() ? st.options.nodes[info.node].name : "",
         st.lost.count(info.node) != 0 ? "lost" : info.done ? "ended" : "running",
         info.incarnation});
}

/// Writes what changed to the state directory; false (and the run's error set) if it
/// cannot.
bool flush_journal(coordinator_actor* self) {
  auto& st = self->state;
  st.flush_due = false;
  if (!st.journal)
    return true;
  if (st.ledger_changed)
    st.journal->put_ledger(st.ledger.encode());
  st.ledger_changed = false;
  try {
    st.journal->flush();
  } catch (const std::exception& e) {
    st.status = run_status::failed;
    st.options.report->error =
      error_text(make_error(runtime_errc::state_dir_failed, e.what()));
    st.journal.reset(); // written no more; the run ends
    return false;
  }
  return true;
}

void fill_report(coordinator_actor* self) {
  auto& st = self->state;
  auto& r = *st.options.report;
  r.graph = st.options.graph.name;
  r.status = st.status;
  r.wall_seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count();
  r.steps.clear();
  for (const auto& n : st.options.graph.nodes)
    r.steps.push_back(summarize(st, n));
}

/// Fills the report, tells the requester and quits.
void report_and_quit(coordinator_actor* self) {
  auto& st = self->state;
  flush_journal(self);
  fill_report(self);
  if (st.requester)
    self->send(st.requester, done_atom::value);
  self->quit();
}

/// Ends the run: nodes stop every instance, and the report is filled once every step
/// actor has sent its last counters as it ended (or `last_stats_timeout` passed). Steps
/// may still be handling batches when the run is complete (a replay that the ledger
/// no longer needs), and their counters are part of the report.
void end_run(coordinator_actor* self, const std::vector<std::string>& not_waiting_for = {}) {
  auto& st = self->state;
  if (st.ended)
    return;
  st.ended = true;
  for (auto& n : st.nodes)
    self->send(n, stop_atom::value);
  for (const auto& [name, info] : st.instances)
    if (info.handle && !info.last_stats &&
        std::find(not_waiting_for.begin(), not_waiting_for.end(), name) == not_waiting_for.end())
      st.awaiting_last_stats.insert(name);
  if (st.awaiting_last_stats.empty()) {
    report_and_quit(self);
    return;
  }
  self->delayed_send(self, last_stats_timeout, stop_atom::value);
}

/// Ends the run as failed; `error` (if any) says why when no single step did.
void fail_run(coordinator_actor* self, const caf::error& error) {
  self->state.status = run_status::failed;
  if (error)
    self->state.options.report->error = error_text(error);
  end_run(self);
}

/// The state directory has news: written within journal_interval.
void journal_changed(coordinator_actor* self) {
  auto& st = self->state;
  if (!st.journal || st.flush_due)
    return;
  st.flush_due = true;
  self->delayed_send(self, journal_interval, tick_atom::value);
}

void check_complete(coordinator_actor* self) {
  auto& st = self->state;
  if (!st.wired || st.ended)
    return;
  for (const auto& [name, info] : st.instances)
    if (!info.done)
      return;
  if (st.ledger.complete())
    end_run(self);
}

void wire_all(coordinator_actor* self) {
  auto& st = self->state;
  for (const auto& [name, info] : st.instances) {
    self->send(info.handle, wire_atom::value, wiring_for(st, name, st.options.resume.has_value()));
    if (st.draining) // the drain came while the nodes were deploying
      self->send(info.handle, drain_atom::value);
  }
  st.wired = true;
  spdlog::info("graph {}: {} step instance(s) running", st.options.graph.name,
               st.instances.size());
}

/// Instances were respawned: give them (and their neighbours) fresh wiring, and
/// replay the live sources upstream of them from the last acknowledged batch.
void on_restarted(coordinator_actor* self, std::vector<spawned_instance>& spawned,
                  bool planned) {
  auto& st = self->state;
  std::set<std::string> restarted_steps;
  std::set<std::string> restarted;
  for (auto& s : spawned) {
    auto i = st.instances.find(s.instance);
    if (i == st.instances.end())
      continue;
    i->second.handle = s.handle;
    i->second.done = false;
    i->second.last_stats = false;
    ++i->second.incarnation;
    if (st.shape->is_source(i->second.step))
      st.ledger.clear_final(s.instance);
    restarted_steps.insert(i->second.step);
    restarted.insert(s.instance);
  }
  if (!planned) // a restart of a set (group, rest_for_one) counts once per step
    for (const auto& step : restarted_steps) {
      ++st.failure_restarts[step];
      publish(st, step);
    }
  std::set<std::string> to_wire = restarted;
  for (const auto& step : restarted_steps) {
    for (const auto& n : st.shape->neighbours_of(step))
      for (const auto& inst : instances_of(st, n))
        to_wire.insert(inst);
    // A replica group restarted across nodes arrives in parts: each part's peers learn
    // the others' new handles.
    if (schema_of(st, step).replica_group)
      for (const auto& inst : instances_of(st, step))
        to_wire.insert(inst);
  }
  for (const auto& name : to_wire)
    self->send(st.instances.at(name).handle, wire_atom::value,
               wiring_for(st, name, restarted.count(name) != 0));
  if (st.draining) // so is the new incarnation
    for (const auto& name : restarted)
      self->send(st.instances.at(name).handle, drain_atom::value);
  std::map<std::size_t, std::vector<std::string>> replay; // by node
  std::map<std::string, std::set<std::string>> replayed_for; // by source: restarted instances
  for (const auto& step : restarted_steps) {
    std::vector<std::string> parts; // this step's instances in this restart
    for (const auto& r : restarted)
      if (st.instances.at(r).step == step)
        parts.push_back(r);
    for (const auto& source : st.shape->sources_upstream_of(step))
      for (const auto& inst : instances_of(st, source))
        if (restarted.count(inst) == 0) {
          auto& list = replay[st.instances.at(inst).node];
          if (std::find(list.begin(), list.end(), inst) == list.end())
            list.push_back(inst);
          replayed_for[inst].insert(parts.begin(), parts.end());
        }
  }
  for (auto& [node, names] : replay) {
    // A lost node's steps come back in parts (one per node that takes some), and each
    // part replays their sources: the instances say which part a line is for.
    for (const auto& n : names)
      spdlog::info("replaying source {} from batch {} for {}", n,
                   st.ledger.resume_point_of(n).last_sequence + 1,
                   fmt::join(replayed_for[n], ", "));
    self->send(st.nodes[node], respawn_atom::value, names, false);
  }
}

/// An instance ended by itself: the supervisor decides over the whole graph, and every
/// node hosting part of the restart set respawns its part after the backoff. A restart
/// counts once per step of the set, however many nodes it spans.
void on_instance_exit(coordinator_actor* self, instance_exit& exit) {
  auto& st = self->state;
  auto i = st.instances.find(exit.instance);
  if (i == st.instances.end() || i->second.incarnation != exit.incarnation || st.ended)
    return;
  std::map<std::string, std::string> steps;
  for (const auto& [name, info] : st.instances)
    steps[name] = info.step;
  const auto step = i->second.step;
  auto d = st.supervisor->on_exit(exit.instance, step, exit.failed, steps,
                                  restart_tracker::clock::now());
  const auto reason = exit.failed ? exit.reason : std::string{"exited"};
  const auto& attrs = st.options.graph.find_node(step)->attributes;
  switch (d.what) {
  case supervision_decision::verdict::ignore:
    spdlog::warn("graph {}: step {} exited before the end of the run", st.options.graph.name,
                 exit.instance);
    return;
  case supervision_decision::verdict::give_up: {
    spdlog::error("graph {}: step {} failed and will not restart ({} restart(s) used): {}",
                  st.options.graph.name, exit.instance, d.restarts, reason);
    st.failure_restarts[step] = d.restarts;
    st.options.report->failures.push_back(
      step_failure_report{step, exit.instance, d.restarts, reason});
    fail_run(self, caf::none);
    return;
  }
  case supervision_decision::verdict::restart:
    break;
  }
  std::set<std::string> steps_restarted;
  std::map<std::size_t, std::vector<std::string>> per_node;
  std::string names;
  for (const auto& name : d.instances) {
    const auto& info = st.instances.at(name);
    steps_restarted.insert(info.step);
    per_node[info.node].push_back(name);
    names += (names.empty() ? "" : ", ") + name + " on '" + st.options.nodes[info.node].name + "'";
  }
  spdlog::warn("graph {}: step {} failed: {}; restart {}/{} in {} ms ({}: {})",
               st.options.graph.name, exit.instance, reason, d.restarts, attrs.max_restarts,
               std::chrono::duration_cast<std::chrono::milliseconds>(d.delay).count(),
               dsl::to_string(attrs.strategy), names);
  for (const auto& s : steps_restarted) {
    ++st.failure_restarts[s];
    publish(st, s);
  }
  // `false`: the node reports them as planned respawns, already counted here.
  for (auto& [node, list] : per_node)
    self->delayed_send(st.nodes[node], d.delay, respawn_atom::value, list, false);
}

/// Assigns every instance to a node; `placement_failed` if a step fits on none.
caf::error place(coordinator_state& st, std::vector<deployment>& per_node) {
  std::vector<cluster::step_demand> demands;
  for (const auto& n : st.options.graph.nodes)
    demands.push_back(
      cluster::step_demand{n.name, n.instances, n.attributes.on, n.attributes.gpus});
  auto placed = cluster::place(demands, st.options.nodes);
  if (!placed)
    return make_error(runtime_errc::placement_failed, placed.error);
  for (const auto& p : *placed.value) {
    per_node[p.node].instances.push_back(instance_assignment{p.step, p.replica, p.device, 0});
    st.instances[instance_name(p.step, p.replica)] =
      instance_info{p.step, p.replica, p.node, {}, 0, false};
  }
  return caf::none;
}

void start_run(coordinator_actor* self) {
  auto& st = self->state;
  st.started = std::chrono::steady_clock::now();
  st.shape.emplace(st.options.graph, *st.options.registry);
  std::vector<std::string> groups;
  for (const auto& n : st.options.graph.nodes)
    if (schema_of(st, n.name).replica_group)
      groups.push_back(n.name);
  st.supervisor.emplace(st.options.graph, *st.shape, std::move(groups));
  for (const auto& n : st.options.graph.nodes) {
    if (!st.shape->is_source(n.name))
      continue;
    for (int r = 0; r < n.instances; ++r) {
      auto name = instance_name(n.name, r);
      st.ledger.add_source(name);
      for (const auto& t : st.shape->terminals_reached_from(n.name)) {
        const auto& terminal = *st.options.graph.find_node(t);
        if (schema_of(st, t).replica_group)
          for (int tr = 0; tr < terminal.instances; ++tr)
            st.ledger.add_route(name, instance_name(t, tr));
        else
          st.ledger.add_route(name, t);
      }
    }
  }
  if (!st.options.state_dir.empty()) {
    try {
      st.journal = std::make_unique<state_journal>(st.options.state_dir);
    } catch (const std::exception& e) {
      fail_run(self, make_error(runtime_errc::state_dir_failed, e.what()));
      return;
    }
    st.journal->put_run(
      run_record{st.options.file_name, st.options.graph_source, st.options.overrides});
    journal_changed(self);
  }
  if (st.options.resume) {
    if (auto line = st.ledger.restore(st.options.resume->ledger)) {
      fail_run(self, make_error(runtime_errc::state_dir_failed,
                                "the ledger record is malformed at line " + std::to_string(line)));
      return;
    }
    st.saved = st.options.resume->states;
    st.ledger_changed = true;
    for (const auto& [name, bytes] : st.saved)
      if (st.journal)
        st.journal->put_state(name, bytes);
  }
  std::vector<deployment> per_node(st.nodes.size());
  if (auto error = place(st, per_node)) {
    fail_run(self, error);
    return;
  }
  for (auto& d : per_node)
    for (const auto& a : d.instances)
      if (auto saved = st.saved.find(instance_name(a.step, a.replica)); saved != st.saved.end())
        d.saved.emplace_back(saved->first, saved->second);
  std::vector<std::size_t> used;
  for (std::size_t i = 0; i < per_node.size(); ++i) {
    per_node[i].file_name = st.options.file_name;
    per_node[i].graph_source = st.options.graph_source;
    for (const auto& [k, v] : st.options.overrides)
      per_node[i].overrides.emplace_back(k, v);
    if (!per_node[i].instances.empty())
      used.push_back(i);
  }
  for (auto i : used)
    self->request(st.nodes[i], deploy_timeout, deploy_atom::value, per_node[i])
      .then(
        [=](std::vector<spawned_instance>& spawned) {
          auto& st = self->state;
          for (auto& s : spawned) {
            auto known = st.instances.find(s.instance);
            if (known == st.instances.end() || known->second.node != i || !s.handle) {
              fail_run(self, make_error(runtime_errc::deploy_failed,
                                        "node '" + st.options.nodes[i].name +
                                          "' answered with an instance it was not given: '" +
                                          s.instance + "'"));
              return;
            }
            known->second.handle = s.handle;
          }
          if (++st.deploy_replies == used.size())
            wire_all(self);
        },
        [=](caf::error& e) {
          fail_run(self, make_error(runtime_errc::deploy_failed,
                                    "deploying on node '" + self->state.options.nodes[i].name +
                                      "' failed: " + error_text(e)));
        });
}

/// True if the current message comes from an actor on a node declared lost.
bool from_lost_node(coordinator_actor* self) {
  const auto& sender = self->current_sender();
  return sender && self->state.lost_ids.count(sender->node()) != 0;
}

/// Node `lost` is gone: its instances are placed again on the surviving nodes (by the
/// same rules; its GPUs no longer count), deployed there with their last durable state,
/// and treated as restarted after a failure: neighbours are rewired and the sources
/// upstream replay from the last acknowledged batch, so nothing is lost and terminal
/// steps skip what they already acknowledged. The run fails if they fit nowhere.
void replace_lost_node(coordinator_actor* self, std::size_t lost, const std::string& why) {
  auto& st = self->state;
  std::vector<std::string> moved;
  for (const auto& [name, info] : st.instances)
    if (info.node == lost)
      moved.push_back(name);
  if (moved.empty()) {
    spdlog::warn("graph {}: {}; none of its steps ran there", st.options.graph.name, why);
    return;
  }
  if (!st.wired || st.draining) {
    fail_run(self, make_error(runtime_errc::node_lost, why));
    return;
  }
  std::vector<cluster::node_offer> offers;
  std::vector<std::size_t> survivor;
  for (std::size_t i = 0; i < st.nodes.size(); ++i)
    if (st.lost.count(i) == 0) {
      offers.push_back(st.options.nodes[i]);
      survivor.push_back(i);
    }
  if (offers.empty()) {
    fail_run(self, make_error(runtime_errc::node_lost, why + "; no other node is left"));
    return;
  }
  std::vector<cluster::step_demand> demands;
  for (const auto& name : moved) {
    const auto& spec = *st.options.graph.find_node(st.instances.at(name).step);
    demands.push_back(cluster::step_demand{name, 1, spec.attributes.on, spec.attributes.gpus});
  }
  auto placed = cluster::place(demands, offers);
  if (!placed) {
    fail_run(self, make_error(runtime_errc::node_lost, why + "; its steps cannot move: " +
                                                         placed.error));
    return;
  }
  std::map<std::size_t, deployment> per_node;
  for (std::size_t k = 0; k < moved.size(); ++k) {
    auto& info = st.instances.at(moved[k]);
    auto node = survivor[placed.value->at(k).node];
    info.node = node;
    auto& d = per_node[node];
    // on_restarted counts the move as the next incarnation
    d.instances.push_back(instance_assignment{info.step, info.replica, placed.value->at(k).device,
                                              info.incarnation + 1});
    if (auto saved = st.saved.find(moved[k]); saved != st.saved.end())
      d.saved.emplace_back(moved[k], saved->second);
    spdlog::warn("graph {}: {}; moving {} to node '{}'", st.options.graph.name, why, moved[k],
                 st.options.nodes[node].name);
  }
  // The replicas of a moved replica group that survived restart with it: they were in
  // the middle of one computation with the lost replica.
  std::map<std::size_t, std::vector<std::string>> group_rest;
  for (const auto& [name, info] : st.instances)
    if (info.node != lost && std::find(moved.begin(), moved.end(), name) == moved.end() &&
        schema_of(st, info.step).replica_group)
      for (const auto& m : moved)
        if (st.instances.at(m).step == info.step) {
          group_rest[info.node].push_back(name);
          break;
        }
  for (auto& [node, names] : group_rest)
    self->send(st.nodes[node], respawn_atom::value, names, false);
  for (auto& [node, d] : per_node) {
    d.file_name = st.options.file_name;
    d.graph_source = st.options.graph_source;
    for (const auto& [k, v] : st.options.overrides)
      d.overrides.emplace_back(k, v);
    auto target = node;
    self->request(st.nodes[node], deploy_timeout, deploy_atom::value, d)
      .then([=](std::vector<spawned_instance>& spawned) {
              if (self->state.ended)
                return;
              for (const auto& i : spawned)
                spdlog::info("graph {}: {} running again on node '{}'",
                             self->state.options.graph.name, i.instance,
                             self->state.options.nodes[target].name);
              on_restarted(self, spawned, false);
            },
            [=](caf::error& e) {
              fail_run(self, make_error(runtime_errc::deploy_failed,
                                        "moving steps to node '" +
                                          self->state.options.nodes[target].name +
                                          "' failed: " + error_text(e)));
            });
  }
}

caf::behavior coordinator_behavior(coordinator_actor* self, coordinator_options options,
                                   std::vector<caf::actor> nodes) {
  auto& st = self->state;
  st.options = std::move(options);
  st.nodes = std::move(nodes);
  handle_exceptions(self);
  drop_unexpected_messages(self, "coordinator");
  // An error sent to the coordinator ends the run with that error (CAF's default would
  // end the coordinator without a report).
  self->set_error_handler([=](caf::error& e) {
    if (!self->state.ended)
      fail_run(self, e);
  });
  for (auto& n : st.nodes)
    self->monitor(n);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    if (st.ended)
      return;
    for (std::size_t i = 0; i < st.nodes.size(); ++i)
      if (st.nodes[i].address() == msg.source && st.lost.count(i) == 0) {
        auto why = "lost node '" + st.options.nodes[i].name + "': " + error_text(msg.reason);
        spdlog::error("graph {}: {}", st.options.graph.name, why);
        st.lost.insert(i);
        st.lost_ids.insert(msg.source.node());
        replace_lost_node(self, i, why);
      }
  });
  return {
    [=](run_atom) {
      self->state.requester = caf::actor_cast<caf::actor>(self->current_sender());
      start_run(self);
    },
    [=](ack_atom, std::string& step, deliveries& d) {
      if (from_lost_node(self))
        return;
      auto& st = self->state;
      std::map<std::string, std::uint64_t> before; // per source, the floor before these
      for (const auto& e : d.entries) {
        before.try_emplace(e.source, st.ledger.resume_point_of(e.source).last_sequence);
        if (st.ledger.ack(step, e.source, e.sequence, e.position, e.count))
          st.ledger_changed = true;
      }
      if (st.ledger_changed)
        journal_changed(self);
      // Each source learns what is delivered everywhere (a broker source acknowledges it).
      for (const auto& [source, floor] : before) {
        auto after = st.ledger.resume_point_of(source);
        auto i = st.instances.find(source);
        if (after.last_sequence > floor && i != st.instances.end() && i->second.handle)
          self->send(i->second.handle, delivered_atom::value, after.last_sequence,
                     after.position);
      }
      check_complete(self);
    },
    [=](done_atom, std::string& instance, std::uint64_t last_sequence) {
      auto& st = self->state;
      auto i = st.instances.find(instance);
      if (i == st.instances.end())
        return;
      if (caf::actor_cast<caf::actor>(self->current_sender()) != i->second.handle)
        return; // from an incarnation that has since been replaced
      i->second.done = true;
      if (st.shape->is_source(i->second.step))
        st.ledger.set_final(instance, last_sequence);
      check_complete(self);
    },
    [=](stats_atom, step_stats& s) {
      if (from_lost_node(self))
        return;
      auto& st = self->state;
      st.counts.add(s);
      if (s.last) {
        auto i = st.instances.find(s.instance);
        if (i != st.instances.end() && i->second.incarnation == s.incarnation) {
          i->second.last_stats = true;
          if (st.awaiting_last_stats.erase(s.instance) != 0 && st.awaiting_last_stats.empty())
            report_and_quit(self);
        }
      }
      s.handled.clear();
      const auto step = s.step;
      st.incarnations[{s.instance, s.incarnation}] = std::move(s);
      publish(st, step);
    },
    [=](stop_atom) { // last_stats_timeout: report without the counters still missing
      if (self->state.ended)
        report_and_quit(self);
    },
    [=](restarted_atom, std::vector<spawned_instance>& spawned, bool planned) {
      if (from_lost_node(self))
        return;
      on_restarted(self, spawned, planned);
    },
    [=](exited_atom, instance_exit& exit) {
      if (!from_lost_node(self))
        on_instance_exit(self, exit);
    },
    [=](failed_atom, step_failure_report& report) {
      if (from_lost_node(self))
        return;
      auto& st = self->state;
      st.failure_restarts[report.step] = report.restarts;
      st.options.report->failures.push_back(std::move(report));
      fail_run(self, caf::none);
    },
    [=](progress_atom, progress_info& p) {
      if (self->state.requester)
        self->send(self->state.requester, progress_atom::value, std::move(p));
    },
    [=](save_atom, std::string& instance, std::string& bytes) {
      if (from_lost_node(self))
        return;
      auto& st = self->state;
      if (st.journal) {
        st.journal->put_state(instance, bytes);
        journal_changed(self);
      }
      st.saved[instance] = std::move(bytes);
    },
    [=](tick_atom) { // journal_interval after a change
      if (!flush_journal(self) && !self->state.ended)
        end_run(self);
    },
    [=](metrics_atom, step_metrics& m) {
      auto& into = self->state.metrics[m.step];
      for (const auto& [name, value] : m.values)
        into[name] = value;
    },
    [=](drain_atom) {
      auto& st = self->state;
      if (st.draining)
        return;
      st.draining = true;
      if (st.status == run_status::completed)
        st.status = run_status::interrupted;
      // Nodes set their steps' stop flag; sources end their streams early; services end
      // theirs once their inputs have ended; every other step ignores it.
      for (const auto& n : st.nodes)
        self->send(n, drain_atom::value);
      for (const auto& [name, info] : st.instances)
        if (info.handle)
          self->send(info.handle, drain_atom::value);
    },
    [=](abandon_atom) {
      auto& st = self->state;
      if (st.ended)
        return;
      std::string names;
      for (const auto& [name, info] : st.instances)
        if (!info.done) {
          st.options.report->abandoned.push_back(name);
          names += (names.empty() ? "" : ", ") + name;
        }
      if (!names.empty())
        st.options.report->error =
          error_text(make_error(runtime_errc::drain_timeout,
                                "still running when the drain's grace period ran out: " + names));
      end_run(self, st.options.report->abandoned);
    },
  };
}

} // namespace

caf::actor spawn_coordinator(caf::actor_system& system, coordinator_options options,
                             std::vector<caf::actor> nodes) {
  return system.spawn(coordinator_behavior, std::move(options), std::move(nodes));
}

} // namespace conveyor
