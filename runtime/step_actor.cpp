// Credit-based edges: a consumer grants each producer `buffer` credits and returns
// one per batch it has handled, but only while its own outbox is empty, so a slow
// step stops its producers and every edge holds at most `buffer` batches in flight
// plus one waiting batch per output. Sources (and consumers with work left after
// `finish`, such as a trainer) produce one slice per turn of the mailbox, and only
// into an empty outbox. Models travel on the same outbox, in order, without credit.
// A consumer that a rewiring adds (restarted, moved) gets the latest model of each name
// sent on that port again, first: models are not replayed by the ledger.
// Counters: every batch handled is recorded by identity (batch_counts) and sent with
// the stats; the last stats go out when the actor ends, however it ends (killed by its
// node included), so no incarnation's work goes uncounted.
// Edges to another process go over the data plane (runtime/data_plane.hpp) when the
// process has one: the consumer advertises its endpoint before its first credit, the
// producer holds everything for that consumer until the advertisement has arrived,
// then sends batches, models and end-of-stream as frames, in order. The producer
// advertises itself to the consumer likewise once wired, and the consumer returns credit
// as frames from then on (the first credit, and any owed before the advertisement
// arrives, go as CAF messages). A producer blocked on credit records how long (credit
// waits, per edge).
#include "runtime/step_actor.hpp"

#include "base/sequence_set.hpp"
#include "runtime/data_plane.hpp"
#include "runtime/data_plane_codec.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <variant>

namespace conveyor {

namespace {

constexpr auto stats_interval = std::chrono::seconds(1);
/// A terminal step acknowledges what it consumed in groups: at most this many batches,
/// or what arrived within ack_delay, in one message (with its latest state before it).
/// Each group wakes the coordinator's process and, for its sources, their nodes: groups
/// of 64 within 2 ms took 15-20% of the throughput between two nodes (bench/cluster,
/// 25,000 batches/s); a replay after a failure re-sends at most what the last 10 ms
/// consumed, which the sinks' deduplication drops.
constexpr std::size_t max_unsent_acks = 512;
constexpr auto ack_delay = std::chrono::milliseconds(10);
constexpr int logged_rejections = 5;

struct consumer_slot {
  out_link link;
  int credit = 0;
  /// The consumer is in another process and this one has a data plane: items wait
  /// until `remote` (its advertisement) has arrived, then go as frames.
  bool via_data_plane = false;
  std::optional<data_endpoint> remote;
  /// The token this producer advertised to that consumer for its credit frames (0: none).
  std::uint64_t credit_token = 0;
};

/// The replicas of one consumer step on one output port: each batch goes to one of
/// them (round robin among those with credit); different steps each get a copy.
struct consumer_group {
  std::string step;
  std::vector<consumer_slot> members;
  std::size_t next = 0;
  /// Since when a batch has waited for credit from this group (epoch: not waiting),
  /// and the waits so far.
  std::chrono::steady_clock::time_point blocked_since{};
  std::uint64_t credit_wait_ns = 0;
};

/// What waits in the outbox: a batch (needs credit) or a model (does not), for an
/// output port; `rejected`: rows a source rejected while making the batch; `only`: a
/// model replayed to one new consumer (null: every consumer of the port).
struct outgoing {
  std::size_t port = 0;
  std::variant<batch, model_message> item;
  std::uint64_t rejected = 0;
  caf::actor_addr only;
};

/// An acknowledgement held until the end of the stream (acknowledge_on_consume false).
struct producer_slot {
  in_link link;
  bool ended = false;
  /// Credits earned by handled batches, not yet returned (held while blocked).
  int owed = 0;
  /// The token this consumer advertised to a producer in another process (0: none).
  std::uint64_t token = 0;
  /// Where that producer takes credit frames, once it has advertised (else CAF messages).
  std::optional<data_endpoint> credit_to;
};

struct host_state;

class host_context final : public step_context {
public:
  host_context(host_state& st, caf::event_based_actor* self) : st_(st), self_(self) {}
  const std::string& step_name() const override;
  int replica() const override;
  int replicas() const override;
  void reject(std::uint64_t rows, const std::string& reason) override;
  std::optional<std::string> load_state() const override;
  void save_state(std::string bytes) override;
  void log_info(const std::string& message) override;
  void log_warning(const std::string& message) override;
  void send_to_peers(std::uint64_t tag, std::shared_ptr<const std::string> bytes) override;
  void report_progress(const progress_info& p) override;
  void report_metrics(const std::map<std::string, double>& metrics) override;
  bool stop_requested() const override;

private:
  host_state& st_;
  caf::event_based_actor* self_;
};

struct host_state {
  step_actor_config cfg;
  caf::actor coordinator;
  caf::actor node;
  std::unique_ptr<host_context> ctx;
  bool opened = false;
  bool wired = false;
  /// Per output port.
  std::vector<std::vector<consumer_group>> outputs;
  std::vector<producer_slot> producers;
  std::deque<outgoing> outbox;
  /// The latest model sent on each output port, by name: replayed to a consumer that a
  /// rewiring adds (a consumer restarted or moved to another node), which may have
  /// missed it (models are not in the ledger: nothing else sends one again).
  std::map<std::pair<std::size_t, std::string>, model_message> last_models;
  std::vector<caf::actor> peers;
  /// Replica groups across processes. Where a peer in another process receives this
  /// replica's peer messages over the data plane, by (its replica, its actor): used only
  /// while that actor is the current peer of that replica (else CAF messages).
  std::map<std::pair<int, caf::actor_addr>, data_endpoint> peer_endpoints;
  /// What this replica advertised to each peer in another process, by replica: the
  /// peer's actor and the token; frames from peers are accepted under these tokens only.
  std::map<int, std::pair<caf::actor_addr, std::uint64_t>> peer_tokens;
  /// Steps that acknowledge at the end of their stream: what they consumed until then.
  deliveries held_acks;
  /// Terminal steps: acknowledgements not sent yet, and the latest durable state, which
  /// goes just before them (send_acks); `ack_timer`: a send is scheduled.
  deliveries unsent_acks;
  std::optional<std::string> unsent_state;
  bool ack_timer = false;
  /// Credit that arrived before the wiring that names its sender.
  std::map<std::pair<caf::actor_addr, std::uint32_t>, int> early_credit;
  /// Advertisements that arrived before the wiring that names their sender.
  std::map<std::pair<caf::actor_addr, std::uint32_t>, data_endpoint> early_endpoints;
  /// Ends of stream that arrived before the wiring that names their sender (a respawned
  /// source with nothing left to replay ends its stream at once, which can overtake the
  /// coordinator's new wiring of this consumer), by (producer, out port, in port).
  std::set<std::tuple<caf::actor_addr, std::uint32_t, std::uint32_t>> early_eos;
  /// Models and peer messages that arrived before the step was opened (they need no
  /// credit, so a producer wired first can send them before this step's first wiring),
  /// handed to the step, in order, once it is.
  std::vector<std::pair<std::uint32_t, model_message>> early_models;
  std::vector<peer_message> early_peers;
  /// Producers' credit advertisements that arrived before the wiring that names them, by
  /// (producer, out port, in port).
  std::map<std::tuple<caf::actor_addr, std::uint32_t, std::uint32_t>, data_endpoint>
    early_credit_endpoints;
  /// This process's data plane (null: everything goes as CAF messages) and the
  /// sockets to consumers in other processes.
  data_plane* plane = nullptr;
  std::unique_ptr<data_sender> sender;
  bool producing = false;
  bool source_done = false;
  /// A consumer whose `finish` ran and whose `produce` still has work.
  bool working = false;
  /// `finish` ran and no batch arrived since (a replay reopens the stream).
  bool finished = false;
  bool eos_pending = false;
  /// Services: the run is draining; the stream ends once the inputs have ended.
  bool draining = false;
  std::uint64_t next_sequence = 1;
  /// Terminal steps: what they acknowledged, by source.
  std::map<std::string, sequence_set> delivered;
  /// Shared with the exit hook that sends the last stats.
  std::shared_ptr<step_stats> stats;
  /// Rows rejected during the current call into the step.
  std::uint64_t rejected_in_call = 0;
  /// Inside the step's `consume` of a batch.
  bool consuming_batch = false;
  int rejections_logged = 0;
};

/// Sends a terminal step's latest state, then its acknowledgements since the last send,
/// to the coordinator (in that order, so that the ledger never counts a batch as
/// delivered by a step whose state the coordinator lacks); the state to the node too.
void send_acks(host_state& st, caf::event_based_actor* self) {
  if (st.unsent_state) {
    self->send(st.coordinator, save_atom::value, st.cfg.instance, *st.unsent_state);
    self->send(st.node, save_atom::value, st.cfg.instance, std::move(*st.unsent_state));
    st.unsent_state.reset();
  }
  if (!st.unsent_acks.entries.empty()) {
    self->send(st.coordinator, ack_atom::value, st.cfg.ack_route, std::move(st.unsent_acks));
    st.unsent_acks = deliveries{};
  }
}

/// Schedules send_acks within ack_delay (once: the timer's message is (ack_atom)).
void arm_ack_timer(host_state& st, caf::event_based_actor* self) {
  if (st.ack_timer)
    return;
  st.ack_timer = true;
  self->delayed_send(self, ack_delay, ack_atom::value);
}

const std::string& host_context::step_name() const {
  return st_.cfg.instance;
}
int host_context::replica() const {
  return st_.cfg.replica;
}
int host_context::replicas() const {
  return st_.cfg.replicas;
}
void host_context::reject(std::uint64_t rows, const std::string& reason) {
  st_.rejected_in_call += rows;
  if (st_.rejections_logged < logged_rejections)
    spdlog::warn("[{}] rejected {} row(s): {}", st_.cfg.instance, rows, reason);
  else if (st_.rejections_logged == logged_rejections)
    spdlog::warn("[{}] more rejected rows; counting them silently (see the run report)",
                 st_.cfg.instance);
  ++st_.rejections_logged;
}
std::optional<std::string> host_context::load_state() const {
  return st_.cfg.saved_state;
}
void host_context::save_state(std::string bytes) {
  st_.cfg.saved_state = bytes;
  if (st_.cfg.terminal) { // with the acknowledgements it covers
    st_.unsent_state = std::move(bytes);
    // A state saved while consuming a batch goes with that batch's acknowledgement
    // (grouped, within ack_delay); one saved for anything else (a model an inference
    // step now serves, a trainer's checkpoint) goes now: nothing replays a model, so
    // its state must not wait in this process for a timer.
    if (st_.consuming_batch)
      arm_ack_timer(st_, self_);
    else
      send_acks(st_, self_);
    return;
  }
  // To the coordinator directly, not through the node: it then has the state before any
  // acknowledgement this step sends later (one sender, one receiver: in order), so its
  // ledger never records a batch as delivered by a step whose state it lacks.
  self_->send(st_.coordinator, save_atom::value, st_.cfg.instance, bytes);
  self_->send(st_.node, save_atom::value, st_.cfg.instance, std::move(bytes));
}
void host_context::log_info(const std::string& message) {
  spdlog::info("[{}] {}", st_.cfg.instance, message);
}
void host_context::log_warning(const std::string& message) {
  spdlog::warn("[{}] {}", st_.cfg.instance, message);
}
void host_context::send_to_peers(std::uint64_t tag, std::shared_ptr<const std::string> bytes) {
  peer_message m{st_.cfg.replica, tag, std::move(bytes)};
  for (std::size_t r = 0; r < st_.peers.size(); ++r) {
    const auto& peer = st_.peers[r];
    if (static_cast<int>(r) == st_.cfg.replica || !peer)
      continue;
    auto remote = st_.peer_endpoints.find({static_cast<int>(r), peer.address()});
    if (remote == st_.peer_endpoints.end()) {
      self_->send(peer, peer_atom::value, m);
      continue;
    }
    const auto& e = remote->second;
    std::string error;
    if (!st_.sender->send(e, encode_peer_frame({frame_kind::peer, e.consumer, e.token}, m),
                          error))
      throw step_failure("data plane: " + error);
  }
}
void host_context::report_progress(const progress_info& p) {
  auto copy = p;
  copy.step = st_.cfg.step;
  self_->send(st_.coordinator, progress_atom::value, std::move(copy));
}
void host_context::report_metrics(const std::map<std::string, double>& metrics) {
  self_->send(st_.coordinator, metrics_atom::value, step_metrics{st_.cfg.step, metrics});
}
bool host_context::stop_requested() const {
  return st_.cfg.stop_requested && st_.cfg.stop_requested->load(std::memory_order_relaxed);
}

/// Collects what one call of the step emits; sources stamp identity on it.
class outbox_emitter final : public emitter {
public:
  explicit outbox_emitter(host_state& st) : st_(st) {}
  void emit(std::size_t port, batch b) override {
    if (port >= st_.outputs.size())
      throw step_failure("emitted on output port " + std::to_string(port) + " of a kind with " +
                         std::to_string(st_.outputs.size()) + " output(s)");
    std::uint64_t rejected = 0;
    if (st_.cfg.source) {
      b.source = st_.cfg.instance;
      b.sequence = st_.next_sequence;
      if (!stamped_) // what the call rejected goes with its first batch
        rejected = std::exchange(st_.rejected_in_call, 0);
      stamped_ = true;
    }
    st_.outbox.push_back(outgoing{port, std::move(b), rejected, {}});
  }
  void emit_model(std::size_t port, model_message m) override {
    if (port >= st_.outputs.size())
      throw step_failure("emitted a model on output port " + std::to_string(port) +
                         " of a kind with " + std::to_string(st_.outputs.size()) + " output(s)");
    st_.outbox.push_back(outgoing{port, std::move(m), 0, {}});
  }
  /// A source's call emitted something: the sequence number is used up.
  bool stamped() const { return stamped_; }

private:
  host_state& st_;
  bool stamped_ = false;
};

class step_host {
public:
  using actor_type = caf::stateful_actor<host_state>;

  explicit step_host(actor_type* self) : self_(self), st_(self->state) {}

  void on_wire(wiring w) {
    apply_outputs(w.outputs);
    apply_inputs(w.inputs);
    st_.peers = std::move(w.peers);
    advertise_to_peers();
    for (const auto& d : w.delivered) {
      auto& entry = st_.delivered[d.source];
      entry.advance_to(d.watermark);
      for (auto sequence : d.above)
        entry.insert(sequence);
    }
    if (!st_.opened) {
      st_.opened = true;
      if (!call([&] { st_.cfg.logic->open(*st_.ctx); }))
        return;
      if (st_.cfg.source) {
        st_.next_sequence = w.next_sequence;
        if (w.resume && !call([&] { st_.cfg.logic->resume(w.resume_after); }))
          return;
        if (w.resume)
          spdlog::info("[{}] resuming after batch {}", st_.cfg.instance, w.next_sequence - 1);
      }
    }
    st_.wired = true;
    for (auto& [in_port, m] : std::exchange(st_.early_models, {}))
      on_model(in_port, m);
    for (auto& m : std::exchange(st_.early_peers, {}))
      on_peer(m);
    if (self_->getf(caf::abstract_actor::is_terminated_flag))
      return; // one of them failed the step
    for (auto& p : st_.producers)
      if (st_.early_eos.erase({caf::actor_cast<caf::actor_addr>(p.link.producer),
                               p.link.out_port, p.link.in_port}) != 0)
        end_input(&p);
    if (!st_.cfg.source && st_.producers.empty() && !st_.finished)
      finish_step();
    flush();
    maybe_produce();
  }

  void on_batch(std::uint32_t out_port, std::uint32_t in_port, batch& b) {
    consume_batch(find_producer(self_->current_sender(), out_port, in_port), in_port, b);
  }

  /// Frames from the data plane: accepted only under a token of the current wiring.
  void on_data_batch(std::uint64_t token, batch& b) {
    if (auto slot = find_token(token))
      consume_batch(slot, slot->link.in_port, b);
  }
  void on_data_eos(std::uint64_t token) {
    if (auto slot = find_token(token))
      end_input(slot);
  }
  void on_data_model(std::uint64_t token, model_message& m) {
    if (auto slot = find_token(token))
      on_model(slot->link.in_port, m);
  }

  /// Tells each peer in another process (new in this wiring) where to send its peer
  /// messages, under a fresh token; peers in this process get CAF messages.
  void advertise_to_peers() {
    if (st_.plane == nullptr)
      return;
    std::map<int, std::pair<caf::actor_addr, std::uint64_t>> tokens;
    for (std::size_t r = 0; r < st_.peers.size(); ++r) {
      const auto& peer = st_.peers[r];
      const int replica = static_cast<int>(r);
      if (replica == st_.cfg.replica || !peer || peer.node() == self_->node())
        continue;
      auto old = st_.peer_tokens.find(replica);
      if (old != st_.peer_tokens.end() && old->second.first == peer.address()) {
        tokens.insert(*old); // the same peer as before: it already sends under that token
        continue;
      }
      auto e = st_.plane->advertise(self_->id());
      tokens[replica] = {peer.address(), e.token};
      self_->send(peer, dp_peer_endpt_atom::value, st_.cfg.replica, std::move(e));
    }
    st_.peer_tokens = std::move(tokens);
  }

  /// A peer in another process says where to send it peer messages.
  void on_peer_endpoint(int replica, data_endpoint& e) {
    auto sender = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    st_.peer_endpoints[{replica, sender}] = std::move(e);
  }

  /// Peer messages from the data plane: accepted only under a token this replica
  /// advertised to a peer of its current wiring.
  void on_data_peer(std::uint64_t token, peer_message& m) {
    for (const auto& t : st_.peer_tokens)
      if (t.second.second == token) {
        on_peer(m);
        return;
      }
    st_.plane->counters().fenced.fetch_add(1, std::memory_order_relaxed);
  }

  /// A consumer in another process says where to send.
  void on_endpoint(std::uint32_t out_port, data_endpoint& e) {
    auto sender = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    bool matched = false;
    if (out_port < st_.outputs.size())
      for (auto& g : st_.outputs[out_port])
        for (auto& m : g.members)
          if (m.link.consumer.address() == sender) {
            m.remote = e;
            matched = true;
          }
    if (!matched)
      st_.early_endpoints[{sender, out_port}] = std::move(e);
    flush();
    maybe_produce();
  }

  /// A producer in another process says where to send credit for its edge to here.
  void on_credit_endpoint(std::uint32_t out_port, std::uint32_t in_port, data_endpoint& e) {
    auto sender = self_->current_sender();
    if (auto slot = find_producer(sender, out_port, in_port)) {
      slot->credit_to = std::move(e);
      flush(); // credit owed so far goes now
      return;
    }
    st_.early_credit_endpoints[{caf::actor_cast<caf::actor_addr>(sender), out_port, in_port}] =
      std::move(e);
  }

  /// Credit frames from the data plane: accepted only under a token this producer
  /// advertised to a consumer of its current wiring.
  void on_data_credit(std::uint64_t token, std::int32_t n) {
    bool matched = false;
    for (auto& groups : st_.outputs)
      for (auto& g : groups)
        for (auto& m : g.members)
          if (m.credit_token != 0 && m.credit_token == token) {
            m.credit += n;
            matched = true;
          }
    if (!matched) {
      st_.plane->counters().fenced.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    flush();
    maybe_produce();
  }

  void consume_batch(producer_slot* slot, std::uint32_t in_port, batch& b) {
    if (slot != nullptr)
      slot->ended = false;
    st_.finished = false;
    handled_batch record{false, in_port, b.source, b.sequence, b.rows, b.payload_bytes(), 0};
    if (st_.cfg.terminal && already_delivered(b.source, b.sequence)) {
      // A replay of something this step already acknowledged: skip it.
    } else {
      auto source = b.source;
      auto sequence = b.sequence;
      auto position = b.position;
      outbox_emitter out{st_};
      st_.consuming_batch = true;
      const bool ok =
        call([&] { st_.cfg.logic->consume(in_port, std::move(b), out); }, &record.rejected);
      st_.consuming_batch = false;
      if (!ok)
        return;
      if (st_.cfg.terminal) {
        mark_delivered(source, sequence);
        if (!st_.cfg.logic->acknowledge_on_consume()) {
          st_.held_acks.add(delivery{source, sequence, position});
        } else {
          st_.unsent_acks.add(delivery{source, sequence, position});
          if (st_.unsent_acks.batches() >= max_unsent_acks)
            send_acks(st_, self_);
          else
            arm_ack_timer(st_, self_);
        }
      }
    }
    append_handled(st_.stats->handled, std::move(record));
    if (slot != nullptr)
      ++slot->owed;
    flush();
  }

  void on_model(std::uint32_t in_port, model_message& m) {
    if (!st_.opened) {
      st_.early_models.emplace_back(in_port, std::move(m));
      return;
    }
    outbox_emitter out{st_};
    if (!call([&] { st_.cfg.logic->consume_model(in_port, std::move(m), out); }))
      return;
    flush();
  }

  void on_peer(peer_message& m) {
    if (!st_.opened) {
      st_.early_peers.push_back(std::move(m));
      return;
    }
    if (!call([&] { st_.cfg.logic->consume_peer(std::move(m)); }))
      return;
    maybe_produce();
  }

  void on_eos(std::uint32_t out_port, std::uint32_t in_port) {
    auto sender = self_->current_sender();
    if (auto slot = find_producer(sender, out_port, in_port)) {
      end_input(slot);
      return;
    }
    st_.early_eos.insert({caf::actor_cast<caf::actor_addr>(sender), out_port, in_port});
  }

  void end_input(producer_slot* slot) {
    if (slot == nullptr)
      return;
    const bool again = slot->ended;
    slot->ended = true;
    for (const auto& p : st_.producers)
      if (!p.ended)
        return;
    if (again) {
      // The producer ended again with no batch in between: a replay upstream had nothing
      // left to send. The end goes on once more (finish does not run again), so that a
      // consumer restarted or moved since, which never saw it, learns it too. A service
      // ends its stream only when drained.
      if (st_.finished && !st_.working && !st_.cfg.logic->is_service()) {
        st_.eos_pending = true;
        flush();
      }
      return;
    }
    finish_step();
    flush();
  }

  void on_credit(std::uint32_t out_port, std::int32_t n) {
    auto sender = caf::actor_cast<caf::actor_addr>(self_->current_sender());
    bool matched = false;
    if (out_port < st_.outputs.size())
      for (auto& g : st_.outputs[out_port])
        for (auto& m : g.members)
          if (m.link.consumer.address() == sender) {
            m.credit += n;
            matched = true;
          }
    if (!matched)
      st_.early_credit[{sender, out_port}] += n;
    flush();
    maybe_produce();
  }

  void on_produce() {
    st_.producing = false;
    if (!has_work() || !st_.wired || !st_.outbox.empty())
      return;
    outbox_emitter out{st_};
    bool more = true;
    if (!call([&] { more = st_.cfg.logic->produce(out); }))
      return;
    if (out.stamped())
      ++st_.next_sequence;
    if (!more) {
      st_.source_done = true;
      st_.working = false;
      st_.eos_pending = true;
    }
    flush();
    maybe_produce();
  }

  void on_drain() {
    if (st_.cfg.logic->is_service()) {
      st_.draining = true;
      on_tick(); // its final metrics
      if (st_.finished && !st_.working) {
        spdlog::info("[{}] draining: stopping the service", st_.cfg.instance);
        st_.eos_pending = true;
        flush();
      }
      return;
    }
    if (!st_.cfg.source || st_.source_done)
      return;
    spdlog::info("[{}] draining: ending the stream early", st_.cfg.instance);
    st_.source_done = true;
    st_.eos_pending = true;
    flush();
  }

  /// Sources: the ledger's delivered watermark advanced.
  void on_delivered(const source_position& up_to) {
    if (st_.cfg.source && st_.opened)
      call([&] { st_.cfg.logic->delivered(up_to); });
  }

  /// The periodic upkeep call (step::tick), for every step once opened.
  void on_ack_timer() {
    st_.ack_timer = false;
    send_acks(st_, self_);
  }

  void on_tick() {
    if (st_.opened && !self_->getf(caf::abstract_actor::is_terminated_flag))
      call([&] { st_.cfg.logic->tick(); });
  }

  /// Sends the counters and the batches handled since the last report.
  void send_stats() {
    record_credit_waits();
    self_->send(st_.coordinator, stats_atom::value, *st_.stats);
    st_.stats->handled.clear();
  }

private:
  /// Runs a call into the step's logic, timing it; a throw ends the actor with
  /// `step_failed` and the message (its node supervises). Returns false after such a
  /// failure. Rows the call rejected count for the batch it handled (`batch_rejections`;
  /// a source's go with the batch it emits) or, for calls that handle none, outside
  /// batches; a failed call's count not at all (its batch comes again).
  template <class F>
  bool call(F&& f, std::uint64_t* batch_rejections = nullptr) {
    auto start = std::chrono::steady_clock::now();
    st_.rejected_in_call = 0;
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("[{}] failed: {}", st_.cfg.instance, e.what());
      // What it acknowledged before and the state it saved, even in the failed call (a
      // failure count that supervision's restarts read), still count.
      send_acks(st_, self_);
      self_->quit(make_error(runtime_errc::step_failed, e.what()));
      return false;
    }
    st_.stats->busy_ns += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                           start)
        .count());
    auto rejected = std::exchange(st_.rejected_in_call, 0);
    (batch_rejections != nullptr ? *batch_rejections : st_.stats->rejected_outside_batches) +=
      rejected;
    return true;
  }

  /// Calls `finish`; the stream ends once `produce` has no more work.
  void finish_step() {
    outbox_emitter out{st_};
    if (!call([&] { st_.cfg.logic->finish(out); }))
      return;
    st_.finished = true;
    // A service keeps its stream open (and the run going) until the run drains.
    st_.working = !st_.cfg.logic->is_service() || st_.draining;
    flush();
    maybe_produce();
  }

  bool has_work() const {
    return st_.cfg.source ? !st_.source_done : st_.working;
  }

  void maybe_produce() {
    if (has_work() && st_.wired && st_.outbox.empty() && !st_.producing &&
        !st_.cfg.logic->blocked() && !self_->getf(caf::abstract_actor::is_terminated_flag)) {
      st_.producing = true;
      self_->send(self_, produce_atom::value);
    }
  }

  /// Sends what the outbox holds, in order: a batch once every consumer group of its
  /// port has credit (replica groups: every member), a model at once. Then returns
  /// held credit and, at the end of the stream, acknowledgements held back and eos.
  void flush() {
    while (!st_.outbox.empty()) {
      auto& [port, item, rejected, only] = st_.outbox.front();
      auto& groups = st_.outputs[port];
      if (!all_ready(groups))
        return;
      if (auto m = std::get_if<model_message>(&item)) {
        for (auto& g : groups)
          for (auto& member : g.members)
            if ((!only || member.link.consumer.address() == only) && !send_model(member, *m))
              return;
        if (!only)
          st_.last_models[{port, m->name}] = *m;
        st_.outbox.pop_front();
        continue;
      }
      auto& b = std::get<batch>(item);
      for (auto& g : groups)
        if (!has_credit(g)) {
          if (g.blocked_since == std::chrono::steady_clock::time_point{})
            g.blocked_since = std::chrono::steady_clock::now();
          return;
        }
      for (auto& g : groups)
        if (g.blocked_since != std::chrono::steady_clock::time_point{}) {
          g.credit_wait_ns += static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now() - g.blocked_since)
              .count());
          g.blocked_since = {};
        }
      if (!groups.empty())
        append_handled(st_.stats->handled, handled_batch{true, static_cast<std::uint32_t>(port),
                                                   b.source, b.sequence, b.rows, 0, rejected});
      else // emitted nowhere; what the call rejected still counts
        st_.stats->rejected_outside_batches += rejected;
      std::vector<consumer_slot*> targets;
      for (auto& g : groups) {
        if (is_broadcast(g))
          for (auto& member : g.members)
            targets.push_back(&member);
        else
          targets.push_back(&pick(g));
      }
      for (std::size_t i = 0; i < targets.size(); ++i) {
        --targets[i]->credit;
        if (!send_batch(*targets[i], b, i + 1 == targets.size()))
          return;
      }
      st_.outbox.pop_front();
    }
    for (auto& p : st_.producers)
      if (p.owed > 0 && (p.token == 0 || p.owed >= remote_credit_chunk())) {
        if (p.credit_to) {
          const auto& e = *p.credit_to;
          if (!send_frame(e, encode_credit_frame({frame_kind::credit, e.consumer, e.token},
                                                 static_cast<std::uint32_t>(p.owed))))
            return;
        } else {
          self_->send(p.link.producer, credit_atom::value, p.link.out_port,
                      static_cast<std::int32_t>(p.owed));
        }
        p.owed = 0;
      }
    if (st_.eos_pending) {
      for (const auto& groups : st_.outputs)
        if (!all_ready(groups))
          return; // sent once every consumer in another process has advertised
      st_.eos_pending = false;
      for (auto& a : st_.held_acks.entries)
        st_.unsent_acks.add(std::move(a));
      st_.held_acks = deliveries{};
      send_acks(st_, self_);
      for (auto& groups : st_.outputs)
        for (auto& g : groups)
          for (auto& m : g.members)
            if (!send_eos(m))
              return;
      std::uint64_t last = st_.cfg.source ? st_.next_sequence - 1 : 0;
      send_stats();
      self_->send(st_.coordinator, done_atom::value, st_.cfg.instance, last);
    }
  }

  /// The credit waits so far, a wait still going on included, into the stats.
  void record_credit_waits() {
    const auto now = std::chrono::steady_clock::now();
    st_.stats->credit_waits.clear();
    for (std::size_t port = 0; port < st_.outputs.size(); ++port)
      for (const auto& g : st_.outputs[port]) {
        auto ns = g.credit_wait_ns;
        if (g.blocked_since != std::chrono::steady_clock::time_point{})
          ns += static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - g.blocked_since).count());
        st_.stats->credit_waits.push_back(
          credit_wait{static_cast<std::uint32_t>(port), g.step, ns});
      }
  }

  /// Credit to a producer in another process goes back in chunks of a quarter of the
  /// window: each credit message wakes threads in both processes (and, before the
  /// producer's advertisement, crosses the control plane through the coordinator's
  /// process), which one per batch made the limit of cross-node throughput. It cannot
  /// stall: a producer out of credit has `buffer` batches on their way here, whose
  /// handling owes at least a chunk.
  int remote_credit_chunk() const { return std::max(1, st_.cfg.buffer / 4); }

  static bool ready(const consumer_slot& m) { return !m.via_data_plane || m.remote; }

  static bool all_ready(const std::vector<consumer_group>& groups) {
    for (const auto& g : groups)
      for (const auto& m : g.members)
        if (!ready(m))
          return false;
    return true;
  }

  /// Sends `frame` to `to` over the data plane; a send that fails (the address cannot
  /// be used) fails the step, which its node restarts, and returns false.
  bool send_frame(const data_endpoint& to, encoded_frame frame) {
    std::string error;
    if (st_.sender->send(to, std::move(frame), error))
      return true;
    spdlog::error("[{}] failed: data plane: {}", st_.cfg.instance, error);
    send_acks(st_, self_);
    self_->quit(make_error(runtime_errc::step_failed, "data plane: " + error));
    return false;
  }

  frame_header header_for(const consumer_slot& m) const {
    return frame_header{frame_kind::batch, m.remote->consumer, m.remote->token};
  }

  /// `last`: the batch is not needed after this send (moved where possible).
  bool send_batch(consumer_slot& m, batch& b, bool last) {
    if (m.remote) {
      // The last send takes the batch's float block: ZeroMQ sends it from there.
      return send_frame(*m.remote, last ? encode_batch_frame(header_for(m), std::move(b))
                                        : encode_batch_frame(header_for(m), b));
    }
    if (last)
      self_->send(m.link.consumer, batch_atom::value, m.link.out_port, m.link.in_port,
                  std::move(b));
    else
      self_->send(m.link.consumer, batch_atom::value, m.link.out_port, m.link.in_port, b);
    return true;
  }

  bool send_model(consumer_slot& m, const model_message& model) {
    if (m.remote) {
      return send_frame(*m.remote, encode_model_frame(header_for(m), model));
    }
    self_->send(m.link.consumer, model_atom::value, m.link.out_port, m.link.in_port, model);
    return true;
  }

  bool send_eos(consumer_slot& m) {
    if (m.remote) {
      return send_frame(*m.remote, encode_eos_frame(header_for(m)));
    }
    self_->send(m.link.consumer, eos_atom::value, m.link.out_port, m.link.in_port);
    return true;
  }

  static bool is_broadcast(const consumer_group& g) {
    return !g.members.empty() && g.members.front().link.broadcast;
  }

  /// A batch can go to the group: a member with credit, or (broadcast) all have credit.
  static bool has_credit(const consumer_group& g) {
    if (is_broadcast(g)) {
      for (const auto& m : g.members)
        if (m.credit <= 0 || !ready(m))
          return false;
      return true;
    }
    return any_credit(g);
  }

  static bool any_credit(const consumer_group& g) {
    for (const auto& m : g.members)
      if (m.credit > 0 && ready(m))
        return true;
    return false;
  }

  static consumer_slot& pick(consumer_group& g) {
    for (std::size_t k = 0; k < g.members.size(); ++k) {
      auto& m = g.members[(g.next + k) % g.members.size()];
      if (m.credit > 0 && ready(m)) {
        g.next = (g.next + k + 1) % g.members.size();
        return m;
      }
    }
    return g.members.front(); // unreachable: callers check has_credit first
  }

  void apply_outputs(const std::vector<out_link>& links) {
    std::vector<std::vector<consumer_group>> next(st_.cfg.schema->outputs.size());
    for (const auto& link : links) {
      if (link.out_port >= next.size())
        continue;
      auto& groups = next[link.out_port];
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const consumer_group& x) { return x.step == link.consumer_step; });
      const auto& previous = st_.outputs.size() > link.out_port ? st_.outputs[link.out_port]
                                                                 : std::vector<consumer_group>{};
      if (g == groups.end()) {
        groups.push_back(consumer_group{link.consumer_step, {}, 0});
        g = std::prev(groups.end());
        for (const auto& old : previous)
          if (old.step == link.consumer_step) { // the edge's waits outlive rewiring
            g->credit_wait_ns = old.credit_wait_ns;
            g->blocked_since = old.blocked_since;
          }
      }
      consumer_slot slot;
      slot.link = link;
      bool known = false;
      slot.via_data_plane = st_.plane != nullptr && link.consumer &&
                            link.consumer.node() != self_->node();
      for (const auto& old : previous)
        for (const auto& m : old.members)
          if (m.link.consumer == link.consumer && m.link.in_port == link.in_port) {
            known = true;
            slot.credit = m.credit;
            slot.remote = m.remote;
            slot.credit_token = m.credit_token;
          }
      if (slot.via_data_plane && slot.credit_token == 0) {
        auto e = st_.plane->advertise(self_->id());
        slot.credit_token = e.token;
        self_->send(link.consumer, dp_cendpt_atom::value, link.out_port, link.in_port,
                    std::move(e));
      }
      auto early = st_.early_credit.find({link.consumer.address(), link.out_port});
      if (early != st_.early_credit.end()) {
        slot.credit += early->second;
        st_.early_credit.erase(early);
      }
      auto advertised = st_.early_endpoints.find({link.consumer.address(), link.out_port});
      if (advertised != st_.early_endpoints.end()) {
        slot.remote = std::move(advertised->second);
        st_.early_endpoints.erase(advertised);
      }
      if (!known && link.consumer)
        replay_models(link.out_port, link.consumer.address());
      g->members.push_back(std::move(slot));
    }
    st_.outputs = std::move(next);
  }

  /// Puts the latest models sent on `port` first in the outbox, for `consumer` alone
  /// (consumers treat a model they hold as the same version: a publisher does not
  /// publish it again, an inference step serves it on).
  void replay_models(std::uint32_t port, const caf::actor_addr& consumer) {
    for (auto i = st_.last_models.rbegin(); i != st_.last_models.rend(); ++i)
      if (i->first.first == port)
        st_.outbox.push_front(outgoing{port, i->second, 0, consumer});
  }

  void apply_inputs(const std::vector<in_link>& links) {
    std::vector<producer_slot> next;
    for (const auto& link : links) {
      producer_slot slot{link, false, 0, 0, std::nullopt};
      bool known = false;
      for (const auto& old : st_.producers)
        if (old.link.producer == link.producer && old.link.out_port == link.out_port &&
            old.link.in_port == link.in_port) {
          slot = old;
          known = true;
        }
      if (!known) {
        auto early = st_.early_credit_endpoints.find(
          {caf::actor_cast<caf::actor_addr>(link.producer), link.out_port, link.in_port});
        if (early != st_.early_credit_endpoints.end()) {
          slot.credit_to = std::move(early->second);
          st_.early_credit_endpoints.erase(early);
        }
        if (st_.plane != nullptr && link.producer && link.producer.node() != self_->node()) {
          auto endpoint = st_.plane->advertise(self_->id());
          slot.token = endpoint.token;
          self_->send(link.producer, dp_endpt_atom::value, link.out_port, std::move(endpoint));
        }
        self_->send(link.producer, credit_atom::value, link.out_port,
                    static_cast<std::int32_t>(st_.cfg.buffer));
      }
      next.push_back(std::move(slot));
    }
    st_.producers = std::move(next);
  }

  producer_slot* find_producer(const caf::strong_actor_ptr& sender, std::uint32_t out_port,
                               std::uint32_t in_port) {
    for (auto& p : st_.producers)
      if (p.link.producer == caf::actor_cast<caf::actor>(sender) &&
          p.link.out_port == out_port && p.link.in_port == in_port)
        return &p;
    return nullptr;
  }

  /// The producer slot a data-plane frame's token names; null (the frame dropped and
  /// counted as fenced) for a token of an earlier wiring or a replaced incarnation.
  producer_slot* find_token(std::uint64_t token) {
    for (auto& p : st_.producers)
      if (p.token != 0 && p.token == token)
        return &p;
    if (st_.plane != nullptr)
      st_.plane->counters().fenced.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }

  bool already_delivered(const std::string& source, std::uint64_t sequence) const {
    auto i = st_.delivered.find(source);
    return i != st_.delivered.end() && i->second.contains(sequence);
  }

  void mark_delivered(const std::string& source, std::uint64_t sequence) {
    st_.delivered[source].insert(sequence);
  }

  actor_type* self_;
  host_state& st_;
};

caf::behavior step_actor(caf::stateful_actor<host_state>* self, step_actor_config cfg,
                         caf::actor coordinator, caf::actor node) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.coordinator = std::move(coordinator);
  st.node = std::move(node);
  st.ctx = std::make_unique<host_context>(st, self);
  st.outputs.resize(st.cfg.schema->outputs.size());
  st.stats = std::make_shared<step_stats>();
  st.stats->instance = st.cfg.instance;
  st.stats->step = st.cfg.step;
  st.stats->incarnation = st.cfg.incarnation;
  st.stats->scope = st.cfg.ack_route;
  st.plane = data_plane::get();
  if (st.plane != nullptr) {
    st.plane->attach(self->id(), caf::actor_cast<caf::actor>(self));
    st.sender = std::make_unique<data_sender>(*st.plane);
  }
  handle_exceptions(self);
  drop_unexpected_messages(self, "[" + st.cfg.instance + "]");
  // The last counters, however the actor ends (a failure, or killed by its node).
  self->attach_functor([stats = st.stats, coordinator = st.coordinator, plane = st.plane,
                        id = self->id()](const caf::error&) {
    if (plane != nullptr)
      plane->detach(id);
    stats->last = true;
    caf::anon_send(coordinator, stats_atom::value, *stats);
  });
  auto host = std::make_shared<step_host>(self);
  self->delayed_send(self, stats_interval, tick_atom::value);
  return {
    [=](wire_atom, wiring& w) { host->on_wire(std::move(w)); },
    [=](batch_atom, std::uint32_t out_port, std::uint32_t in_port, batch& b) {
      host->on_batch(out_port, in_port, b);
    },
    [=](eos_atom, std::uint32_t out_port, std::uint32_t in_port) {
      host->on_eos(out_port, in_port);
    },
    [=](credit_atom, std::uint32_t out_port, std::int32_t n) { host->on_credit(out_port, n); },
    [=](model_atom, std::uint32_t, std::uint32_t in_port, model_message& m) {
      host->on_model(in_port, m);
    },
    [=](peer_atom, peer_message& m) { host->on_peer(m); },
    [=](dp_endpt_atom, std::uint32_t out_port, data_endpoint& e) { host->on_endpoint(out_port, e); },
    [=](dp_batch_atom, std::uint64_t token, batch& b) { host->on_data_batch(token, b); },
    [=](dp_eos_atom, std::uint64_t token) { host->on_data_eos(token); },
    [=](dp_model_atom, std::uint64_t token, model_message& m) { host->on_data_model(token, m); },
    [=](dp_peer_endpt_atom, int replica, data_endpoint& e) { host->on_peer_endpoint(replica, e); },
    [=](dp_peer_atom, std::uint64_t token, peer_message& m) { host->on_data_peer(token, m); },
    [=](dp_cendpt_atom, std::uint32_t out_port, std::uint32_t in_port, data_endpoint& e) {
      host->on_credit_endpoint(out_port, in_port, e);
    },
    [=](dp_credit_atom, std::uint64_t token, std::int32_t n) { host->on_data_credit(token, n); },
    [=](produce_atom) { host->on_produce(); },
    [=](drain_atom) { host->on_drain(); },
    [=](delivered_atom, std::uint64_t, source_position& up_to) { host->on_delivered(up_to); },
    [=](ack_atom) { host->on_ack_timer(); },
    [=](tick_atom) {
      host->on_tick();
      if (self->getf(caf::abstract_actor::is_terminated_flag))
        return;
      host->send_stats();
      self->delayed_send(self, stats_interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_step_actor(caf::local_actor* parent, step_actor_config config,
                            caf::actor coordinator, caf::actor node) {
  return parent->spawn(step_actor, std::move(config), std::move(coordinator), std::move(node));
}

} // namespace conveyor
