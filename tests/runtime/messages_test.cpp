// Every message the runtime sends crosses a process boundary unchanged: each shape of
// runtime/messages.hpp, serialized with CAF's binary serializer into a caf::message and
// read back, renders the same (every element, through its `inspect`) and serializes to
// the same bytes. A message with an element type that has no type id fails here.
#include "deterministic.hpp"

#include <functional>

using namespace conveyor;
using conveyor::testing::deterministic_fixture;

namespace {

caf::behavior idle(caf::event_based_actor*) {
  return {[](int) {}};
}

batch sample_batch() {
  batch b;
  b.source = "read#1";
  b.sequence = 42;
  b.position = source_position{1234, 56, 55};
  b.first_row = 100;
  b.rows = 2;
  auto schema = std::make_shared<table_schema>();
  schema->columns = {{"x", column_kind::numeric}, {"city", column_kind::categorical},
                     {"y", column_kind::label}};
  b.schema = schema;
  b.floats = {1.5f, -2.25f, 0.0f, 1.0f};
  b.categoricals = {categorical_column{{"Oslo", "Bergen"}, {1, -1}}};
  auto transform = std::make_shared<preprocessing>();
  column_op op;
  op.op = column_op::kind::one_hot;
  op.column = "city";
  op.categories = {"Oslo", "Bergen"};
  transform->ops.push_back(op);
  b.transform = transform;
  return b;
}

peer_message round_trip_peer(const peer_message& out) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto copy = out;
  BOOST_TEST_REQUIRE(!sink(copy));
  peer_message in;
  caf::binary_deserializer source{nullptr, buf};
  BOOST_TEST_REQUIRE(!source(in));
  return in;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(messages, deterministic_fixture)

BOOST_AUTO_TEST_CASE(every_runtime_message_round_trips_through_the_binary_serializer) {
  auto peer = sys.spawn(idle);
  auto other = sys.spawn(idle);
  wiring w;
  w.inputs = {in_link{1, "read", peer, 0}};
  w.outputs = {out_link{0, "train", "train#1", other, 0, true}};
  w.resume = true;
  w.resume_after = source_position{10, 2, 1};
  w.next_sequence = 7;
  w.delivered = {source_acks{"read", 5, {7, 9}}};
  w.peers = {peer, other};
  deployment d{"g.flow", "graph g\n", {{"epochs", "2"}}, {{"train", 0, 0}, {"train", 1, 2}},
               {{"train#1", "\x02state"}}};
  step_stats stats;
  stats.instance = "train#1";
  stats.step = "train";
  stats.incarnation = 2;
  stats.scope = "train#1";
  stats.busy_ns = 123456789;
  stats.rejected_outside_batches = 3;
  stats.handled = {handled_batch{false, 0, "read", 4, 100, 400, 2},
                   handled_batch{true, 1, "read", 4, 98, 0, 0}};
  model_message model{"fashion", std::make_shared<const std::string>("model bytes\0", 12), 3};
  peer_message pm{1, 77, std::make_shared<const std::string>("grad\0ients\xff", 11)};
  progress_info progress{"train", 2, 10, 300, 4690, 0.41, 61000};
  std::vector<std::pair<std::string, caf::message>> all = {
    {"batch", caf::make_message(batch_atom::value, std::uint32_t{0}, std::uint32_t{1},
                                sample_batch())},
    {"credit", caf::make_message(credit_atom::value, std::uint32_t{0}, std::int32_t{8})},
    {"eos", caf::make_message(eos_atom::value, std::uint32_t{0}, std::uint32_t{1})},
    {"model", caf::make_message(model_atom::value, std::uint32_t{0}, std::uint32_t{0}, model)},
    {"peer", caf::make_message(peer_atom::value, pm)},
    {"run", caf::make_message(run_atom::value)},
    {"drain", caf::make_message(drain_atom::value)},
    {"abandon", caf::make_message(abandon_atom::value)},
    {"deploy", caf::make_message(deploy_atom::value, d)},
    {"deploy reply", caf::make_message(std::vector<spawned_instance>{{"train", peer}})},
    {"respawn", caf::make_message(respawn_atom::value, std::vector<std::string>{"read"}, false)},
    {"stop", caf::make_message(stop_atom::value)},
    {"wire", caf::make_message(wire_atom::value, w)},
    {"ack", caf::make_message(ack_atom::value, std::string{"write"},
                              deliveries{{{"read", 4, source_position{1, 2, 3}},
                                          {"read#1", 5, source_position{4, 5, 6}, 3}}})},
    {"delivered", caf::make_message(delivered_atom::value, std::uint64_t{4},
                                    source_position{1, 2, 3})},
    {"stats", caf::make_message(stats_atom::value, stats)},
    {"progress", caf::make_message(progress_atom::value, progress)},
    {"metrics", caf::make_message(metrics_atom::value,
                                  step_metrics{"check", {{"accuracy", 0.875}, {"loss", 0.3}}})},
    {"done", caf::make_message(done_atom::value, std::string{"read"}, std::uint64_t{12})},
    {"run done", caf::make_message(done_atom::value)},
    {"save", caf::make_message(save_atom::value, std::string{"clean"}, std::string{"\x01state"})},
    {"restarted", caf::make_message(restarted_atom::value,
                                    std::vector<spawned_instance>{{"clean", other}}, true)},
    {"failed", caf::make_message(failed_atom::value,
                                 step_failure_report{"flaky", "flaky", 2, "injected failure"})},
    {"exited", caf::make_message(exited_atom::value,
                                 instance_exit{"fit#1", 3, true, "trainer: diverged"})},
    {"tick", caf::make_message(tick_atom::value)},
    {"produce", caf::make_message(produce_atom::value)},
    {"resources", caf::make_message(resources_atom::value)},
    {"resources reply",
     caf::make_message(node_resources{"a", {"csv", "gpu"}, 16, 1ull << 37, 2})},
    {"join", caf::make_message(join_atom::value, std::string{"houses-1f2e"})},
    {"join reply", caf::make_message(peer)},
    {"data plane endpoint",
     caf::make_message(dp_endpt_atom::value, std::uint32_t{1},
                       data_endpoint{"tcp://10.0.0.2:40123", 17, 0x1234567890abcdefull,
                                     "server-key", "client-public", "client-secret"})},
    {"data plane batch", caf::make_message(dp_batch_atom::value, std::uint64_t{99}, sample_batch())},
    {"data plane eos", caf::make_message(dp_eos_atom::value, std::uint64_t{99})},
    {"data plane model",
     caf::make_message(dp_model_atom::value, std::uint64_t{99},
                       model_message{"fashion", std::make_shared<const std::string>("bytes"), 3})},
    {"data plane peer endpoint",
     caf::make_message(dp_peer_endpt_atom::value, 1,
                       data_endpoint{"tcp://10.0.0.2:40123", 18, 0x42ull, "", "", ""})},
    {"data plane peer",
     caf::make_message(dp_peer_atom::value, std::uint64_t{99},
                       peer_message{1, 7, std::make_shared<const std::string>("grads")})},
    {"data plane credit endpoint",
     caf::make_message(dp_cendpt_atom::value, std::uint32_t{0}, std::uint32_t{1},
                       data_endpoint{"tcp://10.0.0.1:40124", 19, 0x43ull, "", "", ""})},
    {"data plane credit", caf::make_message(dp_credit_atom::value, std::uint64_t{99}, 16)},
  };
  for (const auto& [name, original] : all) {
    byte_buffer bytes;
    {
      caf::binary_serializer sink{sys, bytes};
      auto copy = original;
      auto err = sink(copy);
      BOOST_TEST_REQUIRE(!err, name << ": serializing failed: " << sys.render(err));
    }
    caf::message restored;
    {
      caf::binary_deserializer source{sys, bytes};
      auto err = source(restored);
      BOOST_TEST_REQUIRE(!err, name << ": deserializing failed: " << sys.render(err));
    }
    BOOST_TEST(caf::to_string(restored) == caf::to_string(original), name);
    byte_buffer again;
    caf::binary_serializer sink{sys, again};
    BOOST_TEST_REQUIRE(!sink(restored), name);
    BOOST_TEST((again == bytes), name << ": the bytes differ after a round trip");
  }
  caf::anon_send_exit(peer, caf::exit_reason::kill);
  caf::anon_send_exit(other, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_CASE(a_batch_keeps_its_floats_bit_for_bit_and_shares_its_schema_again) {
  auto original = sample_batch();
  original.floats[1] = std::nanf("");
  byte_buffer bytes;
  caf::binary_serializer sink{sys, bytes};
  BOOST_TEST_REQUIRE(!sink(original));
  batch restored;
  caf::binary_deserializer source{sys, bytes};
  BOOST_TEST_REQUIRE(!source(restored));
  BOOST_TEST_REQUIRE(restored.floats.size() == original.floats.size());
  BOOST_TEST(std::memcmp(restored.floats.data(), original.floats.data(),
                         original.floats.size() * sizeof(float)) == 0);
  BOOST_TEST_REQUIRE(restored.schema != nullptr);
  BOOST_TEST((*restored.schema == *original.schema));
  BOOST_TEST_REQUIRE(restored.transform != nullptr);
  BOOST_TEST(restored.transform->ops.at(0).categories ==
             original.transform->ops.at(0).categories);
  BOOST_TEST(restored.categoricals.at(0).codes == original.categoricals.at(0).codes);
}

BOOST_AUTO_TEST_CASE(a_peer_message_crosses_the_wire_with_its_bytes) {
  const std::string payload("grad\0ients\xff", 11);
  auto in = round_trip_peer(peer_message{1, 7, std::make_shared<const std::string>(payload)});
  BOOST_TEST(in.from_replica == 1);
  BOOST_TEST(in.tag == 7u);
  BOOST_TEST_REQUIRE(in.bytes != nullptr);
  BOOST_TEST(*in.bytes == payload);
  auto empty = round_trip_peer(peer_message{0, 1, nullptr});
  BOOST_TEST_REQUIRE(empty.bytes != nullptr);
  BOOST_TEST(empty.bytes->empty());
}

BOOST_AUTO_TEST_CASE(deliveries_extend_their_last_run_with_the_next_batch_of_its_source) {
  deliveries d;
  d.add({"read", 4, source_position{40, 4, 4}});
  d.add({"read", 5, source_position{50, 5, 5}});
  d.add({"read", 6, source_position{60, 6, 6}});
  d.add({"read", 9, source_position{90, 9, 9}});   // a gap: a new run
  d.add({"read#1", 10, source_position{1, 1, 1}}); // another source: a new run
  d.add({"read", 10, source_position{100, 10, 10}});
  BOOST_TEST_REQUIRE(d.entries.size() == 4u);
  BOOST_TEST((d.entries[0] == delivery{"read", 4, source_position{60, 6, 6}, 3}));
  BOOST_TEST((d.entries[1] == delivery{"read", 9, source_position{90, 9, 9}, 1}));
  BOOST_TEST(d.entries[3].count == 1u); // not joined to 9 across the other source
  BOOST_TEST(d.batches() == 6u);
}

BOOST_AUTO_TEST_SUITE_END()
