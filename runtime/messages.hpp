// Every message type of the runtime and its CAF type id, in one place. Every element
// type of every message has a type id and an `inspect`, so every message can cross
// process boundaries (tests/runtime/messages_test.cpp round-trips each through CAF's
// binary serializer).
// Include only from runtime .cpp files: CAF headers are heavy (about 8 s per unit).
//
// Edge protocol (producer P, consumer C, both step actors):
//   C -> P  (credit_atom, out_port, n)        C may now receive n more batches on that edge
//   P -> C  (batch_atom, out_port, in_port, batch)   consumes one credit
//   P -> C  (eos_atom, out_port, in_port)     no more batches on this edge (until a replay)
//   P -> C  (model_atom, out_port, in_port, model_message)  models need no credit (rare)
//   R -> R' (peer_atom, peer_message)         between replicas of a replica group
// Edges between processes (runtime/data_plane.hpp): C advertises, P sends over ZeroMQ,
// the receiving process's data plane hands the frames to C as local messages:
//   C -> P  (dp_endpt_atom, out_port, data_endpoint)  before C's first credit to P
//   D -> C  (dp_batch_atom, token, batch)     D: C's process's data plane receiver
//   D -> C  (dp_eos_atom, token)
//   D -> C  (dp_model_atom, token, model_message)
//   P -> C  (dp_cendpt_atom, out_port, in_port, data_endpoint)  once P is wired to C: C
//                                             returns credit to it as frames from then on
//   D -> P  (dp_credit_atom, token, n)        D: P's process's data plane receiver
// Replicas of a group in different processes: each advertises itself to every peer in
// another process, which then sends its peer messages over ZeroMQ:
//   R -> R' (dp_peer_endpt_atom, replica, data_endpoint)  after R's wiring names R'
//   D -> R  (dp_peer_atom, token, peer_message)
// Control (coordinator K, node N, step S, the runner L that started the run):
//   L -> K  (run_atom)                        start; K answers L with (done_atom) at the end
//   L -> K  (drain_atom)                      SIGINT/SIGTERM: drain the run
//   L -> K  (abandon_atom)                    the drain's grace period ran out: end now
//   K -> N  (deploy_atom, deployment)         N spawns the step instances, replies with handles
//   K -> N  (drain_atom)                      N sets its steps' stop_requested flag
//   K -> N  (respawn_atom, names, false)      respawn these instances: replay live sources, or
//                                             restart a failure's set after its backoff
//   K -> N  (stop_atom)                       the run has ended: stop every instance
//   K -> S  (wire_atom, wiring)               S's neighbours (again after every restart);
//                                             a restarted source resumes as it says
//   K -> S  (drain_atom)                      a source ends its stream early (SIGINT)
//   S -> K  (ack_atom, route, deliveries)     a terminal step consumed these batches (sent
//                                             together: by count, a short timer, the end)
//   K -> S  (delivered_atom, last_sequence, position)  source S: every terminal step has
//                                             acknowledged its batches up to last_sequence
//   S -> K  (stats_atom, step_stats)          counters, periodically, at end-of-stream and
//                                             as it ends (`last`, sent however it ends)
//   S -> K  (progress_atom, progress_info)    long work's progress (forwarded to L)
//   S -> K  (metrics_atom, step_metrics)      results for the run report
//   S -> K  (done_atom, instance, last_seq)   S sent end-of-stream on all outputs
//   S -> N  (save_atom, instance, bytes)      durable per-step state (step_context)
//   S -> K  (save_atom, instance, bytes)      the same: the coordinator keeps the latest
//                                             (re-placing, --resume); before S's later acks
//                                             (a terminal step sends its latest state with
//                                             each group of acks, just before them)
//   N -> K  (exited_atom, instance_exit)     an instance ended by itself (failed or not):
//                                             K decides the restart (runtime/supervision)
//   N -> K  (restarted_atom, handles, planned) instances respawned
//   N -> K  (failed_atom, step_failure_report) an instance could not be respawned: the run
//                                             fails
//   K -> K  (stop_atom)                       the end's wait for last counters is over
// Cluster (the runner L of `conveyor run --cluster`, a node daemon's host actor H):
//   L -> H  (resources_atom)                  H answers with node_resources
//   L -> H  (join_atom, run_id)               H spawns a node N for that run, answers N;
//                                             N serves that run only and ends with it
#pragma once

#include "data/batch.hpp"
#include "runtime/batch_counts.hpp"
#include "runtime/data_plane.hpp"
#include "runtime/run_report.hpp"
#include "step/step.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace conveyor {

/// A producer's view of one consumer on one of its output ports.
struct out_link {
  std::uint32_t out_port = 0;
  std::string consumer_step;
  std::string consumer_instance;
  caf::actor consumer;
  std::uint32_t in_port = 0;
  /// The consumer step is a replica group: every replica gets every batch.
  bool broadcast = false;
};

/// A consumer's view of one producer feeding one of its input ports.
struct in_link {
  std::uint32_t in_port = 0;
  std::string producer_instance;
  caf::actor producer;
  std::uint32_t out_port = 0;
};

/// Which batches of one source a terminal step already acknowledged: everything up
/// to `watermark`, plus the sequence numbers in `above`.
struct source_acks {
  std::string source;
  std::uint64_t watermark = 0;
  std::vector<std::uint64_t> above;
};

/// Everything a step instance needs to know about its neighbours and its start.
struct wiring {
  std::vector<in_link> inputs;
  std::vector<out_link> outputs;
  /// Sources after a restart: continue after this position, numbering from
  /// `next_sequence`. Absent (`resume` false): start at the beginning.
  bool resume = false;
  source_position resume_after;
  std::uint64_t next_sequence = 1;
  /// Terminal steps: batches already acknowledged (skipped if they arrive again).
  std::vector<source_acks> delivered;
  /// Replica groups: every replica of this step, indexed by replica (self included).
  std::vector<caf::actor> peers;
};

/// One step instance to run on a node.
struct instance_assignment {
  std::string step;
  int replica = 0;
  /// The first GPU ordinal placement gave it on its node; -1: none.
  int device = -1;
  /// Its incarnation: 0 at the start; an instance moved from a lost node continues the
  /// count, so that the coordinator recognises its reports.
  std::int32_t incarnation = 0;
};

/// What the coordinator asks a node to host. The node compiles the same graph text
/// itself (so parameters never need a wire form) and spawns the listed instances.
struct deployment {
  std::string file_name;
  std::string graph_source;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::vector<instance_assignment> instances;
  /// Durable state of instances re-placed from a lost node (by instance name).
  std::vector<std::pair<std::string, std::string>> saved;
};

struct spawned_instance {
  std::string instance;
  caf::actor handle;
};

/// Named results of one step for the run report (step_context::report_metrics).
struct step_metrics {
  std::string step;
  std::map<std::string, double> values;
};

/// An instance that ended by itself, as its node saw it (the node stops instances
/// itself only when told to; those exits are not reported).
struct instance_exit {
  std::string instance;
  /// The incarnation that ended: the coordinator ignores reports about replaced ones.
  std::int32_t incarnation = 0;
  bool failed = false;
  /// The error's text; empty for an exit without error.
  std::string reason;
};

/// Batches a terminal step consumed, what the coordinator's ledger records: `count`
/// consecutive sequence numbers of `source` from `sequence` (a run; usually the whole
/// group a step acknowledges at once), the last of which ends at `position`.
struct delivery {
  std::string source;
  std::uint64_t sequence = 0;
  source_position position;
  std::uint64_t count = 1;
  bool operator==(const delivery& o) const {
    return source == o.source && sequence == o.sequence && position == o.position &&
           count == o.count;
  }
};

/// The batches a terminal step consumed since its last acknowledgement, in order, as
/// runs. One message per many batches, and one run per stretch of consecutive batches
/// of a source: a message per batch cost the coordinator most of its time when batches
/// crossed nodes at full speed (bench/cluster), and decoding and recording each batch
/// of a group was still a sixth of it.
struct deliveries {
  std::vector<delivery> entries;
  /// Appends `d`, extending the last run where `d` continues it.
  void add(delivery d) {
    if (!entries.empty()) {
      auto& last = entries.back();
      if (last.source == d.source && d.sequence == last.sequence + last.count) {
        last.count += d.count;
        last.position = d.position;
        return;
      }
    }
    entries.push_back(std::move(d));
  }
  /// The batches in all runs.
  std::uint64_t batches() const {
    std::uint64_t n = 0;
    for (const auto& e : entries)
      n += e.count;
    return n;
  }
  bool operator==(const deliveries& o) const { return entries == o.entries; }
};

/// What a node daemon offers (its answer to `resources_atom`).
struct node_resources {
  std::string name;
  std::vector<std::string> labels;
  std::int32_t cores = 0;
  std::uint64_t memory_bytes = 0;
  std::int32_t gpus = 0;
};

// -- inspect -----------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_position& x) {
  return f(caf::meta::type_name("source_position"), x.byte_offset, x.line, x.row);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, column_spec& x) {
  auto kind = static_cast<std::uint8_t>(x.kind);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (kind > static_cast<std::uint8_t>(column_kind::label))
      return caf::sec::invalid_argument;
    x.kind = static_cast<column_kind>(kind);
    return caf::none;
  });
  return f(caf::meta::type_name("column_spec"), x.name, kind, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, table_schema& x) {
  return f(caf::meta::type_name("table_schema"), x.columns);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, categorical_column& x) {
  return f(caf::meta::type_name("categorical_column"), x.dictionary, x.codes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, column_op& x) {
  auto op = static_cast<std::uint8_t>(x.op);
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (op > static_cast<std::uint8_t>(column_op::kind::one_hot))
      return caf::sec::invalid_argument;
    x.op = static_cast<column_op::kind>(op);
    return caf::none;
  });
  return f(caf::meta::type_name("column_op"), op, x.column, x.a, x.b, x.categories, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, preprocessing& x) {
  return f(caf::meta::type_name("preprocessing"), x.ops);
}

/// Batches travel with their floats as raw bytes: element-wise serialization of a
/// float vector measured 2-2.6x slower across processes with CAF 0.17's binary
/// serializer. Shared parts
/// (schema, transform) are sent by value and shared again on arrival.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch& x) {
  table_schema schema = x.schema ? *x.schema : table_schema{};
  bool has_transform = x.transform != nullptr;
  preprocessing transform = x.transform ? *x.transform : preprocessing{};
  std::vector<char> float_bytes;
  if (Inspector::reads_state && !x.floats.empty()) {
    float_bytes.resize(x.floats.size() * sizeof(float));
    std::memcpy(float_bytes.data(), x.floats.data(), float_bytes.size());
  }
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (float_bytes.size() % sizeof(float) != 0)
      return caf::sec::invalid_argument;
    x.floats.resize(float_bytes.size() / sizeof(float));
    if (!float_bytes.empty())
      std::memcpy(x.floats.data(), float_bytes.data(), float_bytes.size());
    x.schema = std::make_shared<const table_schema>(std::move(schema));
    x.transform = has_transform ? std::make_shared<const preprocessing>(std::move(transform))
                                : nullptr;
    return caf::none;
  });
  return f(caf::meta::type_name("batch"), x.source, x.sequence, x.position, x.first_row,
           x.rows, schema, float_bytes, x.categoricals, has_transform, transform, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, out_link& x) {
  return f(caf::meta::type_name("out_link"), x.out_port, x.consumer_step, x.consumer_instance,
           x.consumer, x.in_port, x.broadcast);
}

/// Models and peer payloads are shared locally; on the wire they travel by value.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_message& x) {
  std::string artifact = x.artifact ? *x.artifact : std::string{};
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.artifact = std::make_shared<const std::string>(std::move(artifact));
    return caf::none;
  });
  return f(caf::meta::type_name("model_message"), x.name, artifact, x.version, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_message& x) {
  std::string bytes;
  if (Inspector::reads_state && x.bytes)
    bytes = *x.bytes;
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.bytes = std::make_shared<const std::string>(std::move(bytes));
    return caf::none;
  });
  return f(caf::meta::type_name("peer_message"), x.from_replica, x.tag, bytes, load);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, progress_info& x) {
  return f(caf::meta::type_name("progress_info"), x.step, x.epoch, x.epochs, x.step_in_run,
           x.steps, x.loss, x.samples_per_second);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, in_link& x) {
  return f(caf::meta::type_name("in_link"), x.in_port, x.producer_instance, x.producer,
           x.out_port);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, source_acks& x) {
  return f(caf::meta::type_name("source_acks"), x.source, x.watermark, x.above);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wiring& x) {
  return f(caf::meta::type_name("wiring"), x.inputs, x.outputs, x.resume, x.resume_after,
           x.next_sequence, x.delivered, x.peers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_assignment& x) {
  return f(caf::meta::type_name("instance_assignment"), x.step, x.replica, x.device,
           x.incarnation);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deployment& x) {
  return f(caf::meta::type_name("deployment"), x.file_name, x.graph_source, x.overrides,
           x.instances, x.saved);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, spawned_instance& x) {
  return f(caf::meta::type_name("spawned_instance"), x.instance, x.handle);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, handled_batch& x) {
  return f(caf::meta::type_name("handled_batch"), x.output, x.port, x.source, x.sequence, x.rows,
           x.bytes, x.rejected, x.count);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, credit_wait& x) {
  return f(caf::meta::type_name("credit_wait"), x.port, x.consumer_step, x.wait_ns);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_stats& x) {
  return f(caf::meta::type_name("step_stats"), x.instance, x.step, x.incarnation, x.scope,
           x.busy_ns, x.rejected_outside_batches, x.handled, x.credit_waits, x.last);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_metrics& x) {
  return f(caf::meta::type_name("step_metrics"), x.step, x.values);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_failure_report& x) {
  return f(caf::meta::type_name("step_failure_report"), x.step, x.instance, x.restarts,
           x.last_error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("delivery"), x.source, x.sequence, x.position, x.count);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deliveries& x) {
  return f(caf::meta::type_name("deliveries"), x.entries);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, instance_exit& x) {
  return f(caf::meta::type_name("instance_exit"), x.instance, x.incarnation, x.failed, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_resources& x) {
  return f(caf::meta::type_name("node_resources"), x.name, x.labels, x.cores, x.memory_bytes,
           x.gpus);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, data_endpoint& x) {
  return f(caf::meta::type_name("data_endpoint"), x.address, x.consumer, x.token, x.server_key,
           x.client_public, x.client_secret);
}

} // namespace conveyor

CAF_BEGIN_TYPE_ID_BLOCK(conveyor, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(conveyor, (conveyor::batch))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::source_position))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::wiring))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::deployment))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::spawned_instance))
  CAF_ADD_TYPE_ID(conveyor, (std::vector<conveyor::spawned_instance>))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::step_stats))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::step_failure_report))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::model_message))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::peer_message))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::progress_info))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::step_metrics))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::node_resources))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::instance_exit))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::data_endpoint))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::delivery))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::deliveries))
  CAF_ADD_ATOM(conveyor, conveyor, batch_atom, "batch")
  CAF_ADD_ATOM(conveyor, conveyor, credit_atom, "credit")
  CAF_ADD_ATOM(conveyor, conveyor, eos_atom, "eos")
  CAF_ADD_ATOM(conveyor, conveyor, produce_atom, "produce")
  CAF_ADD_ATOM(conveyor, conveyor, deploy_atom, "deploy")
  CAF_ADD_ATOM(conveyor, conveyor, wire_atom, "wire")
  CAF_ADD_ATOM(conveyor, conveyor, drain_atom, "drain")
  CAF_ADD_ATOM(conveyor, conveyor, ack_atom, "ack")
  CAF_ADD_ATOM(conveyor, conveyor, stats_atom, "stats")
  CAF_ADD_ATOM(conveyor, conveyor, done_atom, "done")
  CAF_ADD_ATOM(conveyor, conveyor, save_atom, "save")
  CAF_ADD_ATOM(conveyor, conveyor, restarted_atom, "restarted")
  CAF_ADD_ATOM(conveyor, conveyor, failed_atom, "failed")
  CAF_ADD_ATOM(conveyor, conveyor, respawn_atom, "respawn")
  CAF_ADD_ATOM(conveyor, conveyor, tick_atom, "tick")
  CAF_ADD_ATOM(conveyor, conveyor, stop_atom, "stop")
  CAF_ADD_ATOM(conveyor, conveyor, run_atom, "run")
  CAF_ADD_ATOM(conveyor, conveyor, model_atom, "model")
  CAF_ADD_ATOM(conveyor, conveyor, peer_atom, "peer")
  CAF_ADD_ATOM(conveyor, conveyor, progress_atom, "progress")
  CAF_ADD_ATOM(conveyor, conveyor, metrics_atom, "metrics")
  CAF_ADD_ATOM(conveyor, conveyor, abandon_atom, "abandon")
  CAF_ADD_ATOM(conveyor, conveyor, delivered_atom, "delivered")
  CAF_ADD_ATOM(conveyor, conveyor, resources_atom, "resources")
  CAF_ADD_ATOM(conveyor, conveyor, join_atom, "join")
  CAF_ADD_ATOM(conveyor, conveyor, exited_atom, "exited")
  CAF_ADD_ATOM(conveyor, conveyor, dp_endpt_atom, "dp_endpt")
  CAF_ADD_ATOM(conveyor, conveyor, dp_batch_atom, "dp_batch")
  CAF_ADD_ATOM(conveyor, conveyor, dp_eos_atom, "dp_eos")
  CAF_ADD_ATOM(conveyor, conveyor, dp_model_atom, "dp_model")
  CAF_ADD_ATOM(conveyor, conveyor, dp_peer_endpt_atom, "dp_pendpt")
  CAF_ADD_ATOM(conveyor, conveyor, dp_peer_atom, "dp_peer")
  CAF_ADD_ATOM(conveyor, conveyor, dp_cendpt_atom, "dp_cendpt")
  CAF_ADD_ATOM(conveyor, conveyor, dp_credit_atom, "dp_credit")
CAF_END_TYPE_ID_BLOCK(conveyor)
