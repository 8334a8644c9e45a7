// The step actor, message by message, under CAF's deterministic scheduler (the test
// plays its coordinator and node, idle actors its neighbours): credits, forwarding,
// acknowledgement and deduplication at a terminal step, a failing step, the drain of a
// source, and the latest model sent again to a consumer a rewiring adds.
#include "deterministic.hpp"

#include "runtime/step_actor.hpp"

#include <numeric>
#include <string>
#include <vector>

using namespace conveyor;
namespace tt = boost::test_tools;
using conveyor::testing::deterministic_fixture;

namespace {

caf::behavior idle(caf::event_based_actor* self) {
  drop_unexpected_messages(self, "idle");
  return {[](int) {}};
}

/// Passes batches on if it has an output (a source emits batches of 10 rows); fails on
/// a batch whose sequence number is `fail_on`; counts what it consumed; records the
/// delivered positions it hears of.
class probe final : public step {
public:
  probe(bool source, bool emits, std::uint64_t fail_on, std::shared_ptr<int> consumed,
        std::shared_ptr<std::vector<source_position>> delivered)
    : source_(source), emits_(emits), fail_on_(fail_on), consumed_(std::move(consumed)),
      delivered_(std::move(delivered)) {}
  void open(step_context& ctx) override { ctx_ = &ctx; }
  bool is_source() const override { return source_; }
  void delivered(const source_position& up_to) override { delivered_->push_back(up_to); }
  bool produce(emitter& out) override {
    if (!source_)
      return false;
    batch b;
    b.rows = 10;
    b.schema = std::make_shared<table_schema>();
    out.emit(0, std::move(b));
    return true;
  }
  void consume(std::size_t, batch b, emitter& out) override {
    if (b.sequence == fail_on_)
      throw step_failure("probe: failed on batch " + std::to_string(b.sequence));
    ++*consumed_;
    if (emits_)
      out.emit(0, std::move(b));
    else // a sink's durable state: how many it consumed
      ctx_->save_state(std::to_string(*consumed_));
  }
  /// Counts a model as 100 consumed, and passes it on if it has an output; one before
  /// `open` is a failure.
  void consume_model(std::size_t, model_message m, emitter& out) override {
    if (ctx_ == nullptr)
      throw step_failure("probe: a model before open");
    *consumed_ += 100;
    if (emits_)
      out.emit_model(0, std::move(m));
  }

private:
  bool source_;
  bool emits_;
  std::uint64_t fail_on_;
  std::shared_ptr<int> consumed_;
  std::shared_ptr<std::vector<source_position>> delivered_;
  step_context* ctx_ = nullptr;
};

const dsl::kind_schema& pass_schema() {
  static dsl::kind_schema s = [] {
    dsl::kind_schema k;
    k.name = "probe";
    k.inputs = {dsl::port_schema{"in", "batch"}};
    k.outputs = {dsl::port_schema{"out", "batch"}};
    return k;
  }();
  return s;
}

const dsl::kind_schema& sink_schema() {
  static dsl::kind_schema s = [] {
    dsl::kind_schema k;
    k.name = "probe_sink";
    k.inputs = {dsl::port_schema{"in", "batch"}};
    return k;
  }();
  return s;
}

const dsl::kind_schema& source_schema() {
  static dsl::kind_schema s = [] {
    dsl::kind_schema k;
    k.name = "probe_source";
    k.outputs = {dsl::port_schema{"out", "batch"}};
    return k;
  }();
  return s;
}

batch numbered(std::uint64_t sequence) {
  batch b;
  b.source = "src";
  b.sequence = sequence;
  b.rows = 10;
  b.position.row = sequence * 10;
  b.schema = std::make_shared<table_schema>();
  return b;
}

struct step_fixture : deterministic_fixture {
  step_fixture() {
    producer = sys.spawn(idle);
    consumer = sys.spawn(idle);
  }

  ~step_fixture() override {
    for (auto& a : {step_actor, producer, consumer})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::kill);
    sched.run();
  }

  /// Spawns the step actor under test; `kind` is pass_schema, sink_schema or
  /// source_schema.
  void spawn(const dsl::kind_schema& kind, std::uint64_t fail_on = 0) {
    step_actor_config c;
    c.instance = c.step = "p";
    c.kind = kind.name;
    c.schema = &kind;
    c.source = kind.inputs.empty();
    c.terminal = kind.outputs.empty();
    c.logic = std::make_shared<probe>(c.source, !c.terminal, fail_on, consumed, delivered);
    c.buffer = 2;
    c.ack_route = "p";
    c.stop_requested = std::make_shared<std::atomic<bool>>(false);
    step_actor = spawn_step_actor(self.ptr(), std::move(c), caf::actor{self}, caf::actor{self});
  }

  /// Spawns a pass-through step actor and wires it from `producer` to `consumer`; it
  /// grants the producer its `buffer` (2) credits. Returns that wiring.
  wiring spawn_between_producer_and_consumer() {
    spawn(pass_schema());
    wiring w;
    w.inputs = {in_link{0, "src", producer, 0}};
    w.outputs = {out_link{0, "sink", "sink", consumer, 0, false}};
    self->send(step_actor, wire_atom::value, w);
    expect((wire_atom, wiring), from(self).to(step_actor));
    expect((credit_atom, std::uint32_t, std::int32_t),
           from(step_actor).to(producer).with(_, std::uint32_t{0}, std::int32_t{2}));
    return w;
  }

  /// The producer sends batch `sequence` of "src"; the step actor handles it.
  void inject_batch(std::uint64_t sequence) {
    caf::send_as(producer, step_actor, batch_atom::value, std::uint32_t{0}, std::uint32_t{0},
                 numbered(sequence));
    expect((batch_atom, std::uint32_t, std::uint32_t, batch), from(producer).to(step_actor));
  }

  std::shared_ptr<int> consumed = std::make_shared<int>(0);
  std::shared_ptr<std::vector<source_position>> delivered =
    std::make_shared<std::vector<source_position>>();
  caf::actor producer;
  caf::actor consumer;
  caf::actor step_actor;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(step_actor_suite, step_fixture)

BOOST_AUTO_TEST_CASE(a_consumer_grants_buffer_credit_and_returns_it_only_once_a_batch_went_on) {
  spawn_between_producer_and_consumer();
  inject_batch(1);
  BOOST_TEST(*consumed == 1);
  // The consumer granted no credit: the batch waits.
  BOOST_TEST(caf::actor_cast<caf::abstract_actor*>(consumer)->peek_at_next_mailbox_element() ==
             nullptr);
  inject((credit_atom, std::uint32_t, std::int32_t),
         from(consumer).to(step_actor).with(credit_atom::value, std::uint32_t{0}, std::int32_t{1}));
  expect((batch_atom, std::uint32_t, std::uint32_t, batch),
         from(step_actor).to(consumer).with(_, std::uint32_t{0}, std::uint32_t{0}, _));
  expect((credit_atom, std::uint32_t, std::int32_t),
         from(step_actor).to(producer).with(_, std::uint32_t{0}, std::int32_t{1}));
}

BOOST_AUTO_TEST_CASE(a_terminal_step_acknowledges_batches_in_groups_after_its_state_and_skips_delivered_ones) {
  spawn(sink_schema());
  wiring w;
  w.inputs = {in_link{0, "src", producer, 0}};
  w.delivered = {source_acks{"src", 3, {}}};
  self->send(step_actor, wire_atom::value, w);
  sched.run();
  inject_batch(3); // a replay of a delivered batch
  // A group holds at most 512 acknowledgements (step_actor.cpp's max_unsent_acks).
  for (std::uint64_t seq = 4; seq < 4 + 518; ++seq)
    inject_batch(seq);
  BOOST_TEST(*consumed == 518);
  sched.trigger_timeouts(); // the rest after the short delay
  sched.run();
  // The coordinator and the node are both `self` here: each state comes twice.
  std::vector<std::string> order;
  std::vector<std::uint64_t> acked;
  for (bool more = true; more;)
    self->receive(
      [&](save_atom, std::string& instance, std::string& bytes) {
        BOOST_TEST(instance == "p");
        order.push_back("state " + bytes);
      },
      [&](ack_atom, std::string& route, deliveries& d) {
        BOOST_TEST(route == "p");
        BOOST_TEST(d.entries.size() == 1u); // consecutive batches: one run
        for (const auto& e : d.entries) {
          BOOST_TEST(e.source == "src");
          BOOST_TEST(e.position.row == (e.sequence + e.count - 1) * 10); // where the last ends
          for (std::uint64_t k = 0; k < e.count; ++k)
            acked.push_back(e.sequence + k);
        }
        order.push_back("acks " + std::to_string(d.batches()));
      },
      caf::after(std::chrono::seconds(0)) >> [&] { more = false; });
  std::vector<std::uint64_t> expected(518);
  std::iota(expected.begin(), expected.end(), 4);
  BOOST_TEST(acked == expected, tt::per_element());
  // 512 at once, the other 6 after the delay; each group after the state that counts it.
  BOOST_TEST(order == (std::vector<std::string>{"state 512", "state 512", "acks 512",
                                                "state 518", "state 518", "acks 6"}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(a_failing_step_ends_with_step_failed_and_its_counters_still_arrive) {
  spawn(pass_schema(), 2);
  self->monitor(step_actor);
  wiring w;
  w.inputs = {in_link{0, "src", producer, 0}};
  w.outputs = {out_link{0, "sink", "sink", consumer, 0, false}};
  self->send(step_actor, wire_atom::value, w);
  sched.run();
  inject((credit_atom, std::uint32_t, std::int32_t),
         from(consumer).to(step_actor).with(credit_atom::value, std::uint32_t{0}, std::int32_t{4}));
  inject_batch(1);
  inject_batch(2);
  sched.run();
  caf::error reason;
  std::vector<handled_batch> handled;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg& down) { reason = down.reason; },
                  [&](stats_atom, step_stats& s) {
                    handled.insert(handled.end(), s.handled.begin(), s.handled.end());
                  });
  BOOST_TEST(is(reason, runtime_errc::step_failed), sys.render(reason));
  BOOST_TEST(error_text(reason) == "probe: failed on batch 2");
  // Batch 1 in and out; batch 2 failed, so it is not counted (it comes again).
  BOOST_TEST_REQUIRE(handled.size() == 2u);
  BOOST_TEST(!handled[0].output);
  BOOST_TEST(handled[0].sequence == 1u);
  BOOST_TEST(handled[1].output);
  BOOST_TEST(handled[1].sequence == 1u);
  step_actor = nullptr; // gone
}

BOOST_AUTO_TEST_CASE(an_end_of_stream_that_comes_again_without_batches_is_passed_on_again) {
  spawn_between_producer_and_consumer();
  auto end_from_producer = [&] {
    caf::send_as(producer, step_actor, eos_atom::value, std::uint32_t{0}, std::uint32_t{0});
    expect((eos_atom, std::uint32_t, std::uint32_t), from(producer).to(step_actor));
  };
  end_from_producer();
  expect((produce_atom), from(step_actor).to(step_actor)); // finish, then the end
  expect((eos_atom, std::uint32_t, std::uint32_t), from(step_actor).to(consumer));
  // A replay upstream that had nothing left to send ends again: a consumer restarted
  // since (a new incarnation waiting for the end) hears it too.
  end_from_producer();
  expect((eos_atom, std::uint32_t, std::uint32_t), from(step_actor).to(consumer));
  BOOST_TEST(*consumed == 0);
}

BOOST_AUTO_TEST_CASE(an_end_of_stream_that_overtakes_the_wiring_naming_its_producer_still_counts) {
  // A respawned source with nothing left to replay ends its stream at once; that end can
  // reach this consumer before the coordinator's wiring that names the new source does.
  spawn(pass_schema());
  wiring w;
  w.outputs = {out_link{0, "sink", "sink", consumer, 0, false}};
  w.inputs = {in_link{0, "src", consumer, 0}}; // an earlier producer (the old incarnation)
  self->send(step_actor, wire_atom::value, w);
  expect((wire_atom, wiring), from(self).to(step_actor));
  expect((credit_atom, std::uint32_t, std::int32_t), from(step_actor).to(consumer));
  caf::send_as(producer, step_actor, eos_atom::value, std::uint32_t{0}, std::uint32_t{0});
  expect((eos_atom, std::uint32_t, std::uint32_t), from(producer).to(step_actor));
  // Not from a producer of the current wiring: nothing ends yet.
  BOOST_TEST(caf::actor_cast<caf::abstract_actor*>(consumer)->peek_at_next_mailbox_element() ==
             nullptr);
  w.inputs = {in_link{0, "src", producer, 0}}; // the new wiring names the new source
  self->send(step_actor, wire_atom::value, w);
  expect((wire_atom, wiring), from(self).to(step_actor));
  expect((credit_atom, std::uint32_t, std::int32_t), from(step_actor).to(producer));
  expect((produce_atom), from(step_actor).to(step_actor)); // finish, then the end
  expect((eos_atom, std::uint32_t, std::uint32_t), from(step_actor).to(consumer));
}

BOOST_AUTO_TEST_CASE(a_model_that_arrives_before_the_first_wiring_is_handled_once_opened) {
  // Models need no credit: a producer wired first can send one before this step's first
  // wiring (and its `open`) arrives. It is held, then handled in order before the end.
  spawn(sink_schema());
  caf::send_as(producer, step_actor, model_atom::value, std::uint32_t{0}, std::uint32_t{0},
               model_message{"m", std::make_shared<const std::string>("bytes"), 1});
  expect((model_atom, std::uint32_t, std::uint32_t, model_message),
         from(producer).to(step_actor));
  caf::send_as(producer, step_actor, eos_atom::value, std::uint32_t{0}, std::uint32_t{0});
  expect((eos_atom, std::uint32_t, std::uint32_t), from(producer).to(step_actor));
  BOOST_TEST(*consumed == 0);
  wiring w;
  w.inputs = {in_link{0, "src", producer, 0}};
  self->send(step_actor, wire_atom::value, w);
  expect((wire_atom, wiring), from(self).to(step_actor));
  BOOST_TEST(*consumed == 100);
  sched.run();
  BOOST_TEST(!caf::actor_cast<caf::abstract_actor*>(step_actor)
                ->getf(caf::abstract_actor::is_terminated_flag));
}

BOOST_AUTO_TEST_CASE(a_drained_source_ends_its_stream_and_reports_its_last_batch) {
  spawn(source_schema());
  wiring w;
  w.outputs = {out_link{0, "sink", "sink", consumer, 0, false}};
  self->send(step_actor, wire_atom::value, w);
  expect((wire_atom, wiring), from(self).to(step_actor));
  expect((produce_atom), from(step_actor).to(step_actor)); // batch 1 waits for credit
  inject((credit_atom, std::uint32_t, std::int32_t),
         from(consumer).to(step_actor).with(credit_atom::value, std::uint32_t{0}, std::int32_t{1}));
  expect((batch_atom, std::uint32_t, std::uint32_t, batch), from(step_actor).to(consumer));
  expect((produce_atom), from(step_actor).to(step_actor)); // batch 2 waits for credit
  self->send(step_actor, drain_atom::value);
  expect((drain_atom), from(self).to(step_actor));
  inject((credit_atom, std::uint32_t, std::int32_t),
         from(consumer).to(step_actor).with(credit_atom::value, std::uint32_t{0}, std::int32_t{1}));
  expect((batch_atom, std::uint32_t, std::uint32_t, batch), from(step_actor).to(consumer));
  expect((eos_atom, std::uint32_t, std::uint32_t), from(step_actor).to(consumer));
  std::uint64_t last = 0;
  self->receive([&](done_atom, std::string& instance, std::uint64_t seq) {
    BOOST_TEST(instance == "p");
    last = seq;
  });
  BOOST_TEST(last == 2u);
  // The ledger's word that both batches reached every sink comes after the end of the
  // stream; the source still hears it (a broker source acknowledges its messages then).
  self->send(step_actor, delivered_atom::value, std::uint64_t{2}, source_position{7, 0, 20});
  expect((delivered_atom, std::uint64_t, source_position), from(self).to(step_actor));
  BOOST_TEST_REQUIRE(delivered->size() == 1u);
  BOOST_TEST((delivered->front() == source_position{7, 0, 20}));
}

BOOST_AUTO_TEST_CASE(a_consumer_that_a_rewiring_adds_gets_the_latest_model_of_each_name_again) {
  // A consumer restarted or moved to another node may have missed the model (nothing
  // in the ledger sends a model again): the new wiring's new consumer gets the latest
  // one of each name, before anything else; a consumer wired before gets none again.
  auto w = spawn_between_producer_and_consumer();
  for (std::uint64_t version : {1, 2})
    for (const char* name : {"a", "b"}) {
      caf::send_as(producer, step_actor, model_atom::value, std::uint32_t{0}, std::uint32_t{0},
                   model_message{name, std::make_shared<const std::string>("bytes"), version});
      expect((model_atom, std::uint32_t, std::uint32_t, model_message),
             from(producer).to(step_actor));
      expect((model_atom, std::uint32_t, std::uint32_t, model_message),
             from(step_actor).to(consumer));
    }
  auto moved = sys.spawn(idle);
  w.outputs = {out_link{0, "sink", "sink", consumer, 0, false},
               out_link{0, "sink", "sink", moved, 0, false}};
  self->send(step_actor, wire_atom::value, w);
  expect((wire_atom, wiring), from(self).to(step_actor));
  std::vector<std::pair<std::string, std::uint64_t>> replayed;
  for (int i = 0; i < 2; ++i) {
    auto m = next_element<model_message>(moved, 3);
    replayed.emplace_back(m.name, m.version);
    expect((model_atom, std::uint32_t, std::uint32_t, model_message),
           from(step_actor).to(moved));
  }
  BOOST_TEST((replayed == std::vector<std::pair<std::string, std::uint64_t>>{{"a", 2}, {"b", 2}}));
  BOOST_TEST(!sched.has_job()); // nothing more, none to the consumer wired before
  caf::anon_send_exit(moved, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_SUITE_END()
