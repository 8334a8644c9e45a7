// nats_source against a real `nats-server -js` on 127.0.0.1: rows arrive as batches,
// malformed messages are rejected and quarantined, acknowledgements follow `delivered`
// only, and a restarted source rebuilds exactly the batches that were not delivered.
#include "actors/nats_source.hpp"
#include "step_harness.hpp"
#include "tests/support/nats_test_server.hpp"
#include "tests/support/wait_until.hpp"

#include <future>

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;
using conveyor::testing::wait_until;

namespace {

struct nats_fixture {
  temp_dir dir;
  nats_test_server server{dir.file("store")};

  nats_fixture() { server.create_stream("ROWS", "rows.in"); }

  void publish_rows(int from, int to) {
    for (int i = from; i < to; ++i)
      server.publish("rows.in", pack_row({{"id", double(i)}, {"tag", std::string(i % 2 ? "odd" : "even")}}));
  }

  std::unique_ptr<step> make(std::int64_t batch, const std::string& quarantine = "",
                             std::int64_t takeover_wait_ns = 30'000'000'000) {
    return make_step(nats_source_kind(),
                     {{"url", dsl::value{server.url()}},
                      {"takeover_wait", dsl::value{dsl::duration_value{takeover_wait_ns}}},
                      {"stream", dsl::value{std::string("ROWS")}},
                      {"durable", dsl::value{std::string("reader")}},
                      {"subject", dsl::value{std::string("rows.in")}},
                      {"columns", dsl::value{dsl::list_value{dsl::value{std::string("id")},
                                                             dsl::value{std::string("tag")}}}},
                      {"categorical", dsl::value{dsl::list_value{dsl::value{std::string("tag")}}}},
                      {"batch", dsl::value{batch}},
                      {"max_wait", dsl::value{dsl::duration_value{50'000'000}}},
                      {"quarantine", dsl::value{quarantine}}});
  }
};

/// Produces (stamping sequences from `first`) until `rows` rows came, with a deadline.
std::vector<batch> produce_rows(step& s, std::uint64_t rows, std::uint64_t first = 1) {
  collector c;
  std::vector<batch> out;
  std::uint64_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (got < rows && std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST_REQUIRE(s.produce(c));
    for (auto& b : c.on(0)) {
      b.source = "src";
      b.sequence = first++;
      got += b.rows;
      out.push_back(std::move(b));
    }
    c.on(0).clear();
  }
  return out;
}

std::vector<float> ids_of(const std::vector<batch>& batches) {
  std::vector<float> ids;
  for (const auto& b : batches)
    ids.insert(ids.end(), b.floats.begin(), b.floats.begin() + b.rows);
  return ids;
}

std::vector<float> range(int from, int to) {
  std::vector<float> v;
  for (int i = from; i < to; ++i)
    v.push_back(float(i));
  return v;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(nats_source_suite, nats_fixture)

BOOST_AUTO_TEST_CASE(every_published_row_arrives_in_batches_of_at_most_batch_messages) {
  publish_rows(0, 25);
  auto s = make(10);
  fake_context ctx;
  s->open(ctx);
  auto batches = produce_rows(*s, 25);
  BOOST_TEST(ids_of(batches) == range(0, 25));
  for (const auto& b : batches) {
    BOOST_TEST(b.rows <= 10u);
    BOOST_TEST(b.schema->columns[1].kind == column_kind::categorical);
  }
  BOOST_TEST(batches.back().position.byte_offset == 25u); // the stream sequence
  BOOST_TEST(batches.back().position.row == 25u);
}

BOOST_AUTO_TEST_CASE(a_malformed_message_is_rejected_with_its_sequence_and_field_and_quarantined) {
  publish_rows(0, 2);
  server.publish("rows.in", pack_row({{"id", std::string("x")}, {"tag", std::string("a")}}));
  server.publish("rows.in", "not msgpack \xc1");
  publish_rows(2, 4);
  auto s = make(100, dir.file("bad.csv"));
  fake_context ctx;
  s->open(ctx);
  auto batches = produce_rows(*s, 4);
  BOOST_TEST(ids_of(batches) == range(0, 4));
  BOOST_TEST(ctx.rejected == 2u);
  BOOST_TEST_REQUIRE(ctx.reject_reasons.size() == 2u);
  BOOST_TEST(ctx.reject_reasons[0] == "stream sequence 3: field 'id': expected a number, got a string");
  BOOST_TEST(ctx.reject_reasons[1].find("stream sequence 4: ") == 0u);
  auto quarantine = read_file(dir.file("bad.csv"));
  BOOST_TEST(quarantine.find("sequence,reason,message_hex\n3,\"field 'id': expected a number, got a string\",82") == 0u,
             quarantine);
  BOOST_TEST(quarantine.find("\n4,") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_delivered_batches_are_acknowledged_and_a_new_reader_gets_the_rest) {
  publish_rows(0, 30);
  {
    auto s = make(10);
    fake_context ctx;
    s->open(ctx);
    auto batches = produce_rows(*s, 30);
    BOOST_TEST(server.ack_floor("ROWS", "reader") == 0u);
    s->delivered(batches[0].position);
    BOOST_TEST(server.ack_floor("ROWS", "reader") == batches[0].position.byte_offset);
  }
  // A new run (no durable state): what was not acknowledged comes again, at once.
  auto floor = server.ack_floor("ROWS", "reader");
  auto s = make(100);
  fake_context ctx;
  s->open(ctx);
  auto batches = produce_rows(*s, 30 - floor);
  BOOST_TEST(ids_of(batches) == range(int(floor), 30));
}

BOOST_AUTO_TEST_CASE(a_restarted_source_rebuilds_the_undelivered_batches_with_the_same_rows) {
  publish_rows(0, 10);
  fake_context ctx;
  std::vector<batch> first;
  {
    auto s = make(4);
    s->open(ctx);
    first = produce_rows(*s, 10);
    BOOST_TEST_REQUIRE(first.size() >= 2u);
    s->delivered(first[0].position);
  }
  publish_rows(10, 14); // more arrive while it is down
  auto s = make(4);
  s->open(ctx); // the same durable state: a restart within the run
  s->resume(first[0].position);
  auto again = produce_rows(*s, 14 - first[0].rows, 2);
  BOOST_TEST_REQUIRE(again.size() >= first.size() - 1);
  for (std::size_t i = 1; i < first.size(); ++i) {
    BOOST_TEST(again[i - 1].sequence == first[i].sequence);
    BOOST_TEST(ids_of({again[i - 1]}) == ids_of({first[i]}));
    BOOST_TEST(again[i - 1].position == first[i].position);
  }
  BOOST_TEST(ids_of(again) == range(int(first[0].rows), 14));
}

BOOST_AUTO_TEST_CASE(a_delivery_reported_before_its_batch_is_rebuilt_is_acknowledged_once_rebuilt) {
  publish_rows(0, 12);
  fake_context ctx;
  std::vector<batch> first;
  {
    auto s = make(4);
    s->open(ctx);
    first = produce_rows(*s, 12);
    BOOST_TEST_REQUIRE(first.size() >= 2u);
  }
  auto s = make(4);
  s->open(ctx); // nothing was delivered before the restart: it rebuilds from the start
  // The sinks' acknowledgements of the first incarnation's batch 2 arrive late.
  s->delivered(first[1].position);
  BOOST_TEST(server.ack_floor("ROWS", "reader") == 0u);
  auto again = produce_rows(*s, first[0].rows + first[1].rows);
  BOOST_TEST_REQUIRE(again.size() >= 2u);
  BOOST_TEST(ids_of({again[1]}) == ids_of({first[1]}));
  BOOST_TEST(server.ack_floor("ROWS", "reader") == first[1].position.byte_offset);
}

BOOST_AUTO_TEST_CASE(messages_taken_by_an_earlier_holder_of_the_durable_name_come_again_at_once) {
  publish_rows(0, 10);
  jetstream_target target{server.url(), "ROWS", "reader", "rows.in"};
  jetstream_consumer earlier(target, 5000);
  jetstream_consumer later(target, 5000); // recreates the consumer: `earlier` now pulls from it
  auto stolen = earlier.fetch(3, 2000);
  BOOST_TEST_REQUIRE(stolen.size() == 3u);
  // `later` sees deliveries 4, 5, ...: the gap makes it reset the consumer to its floor.
  std::vector<std::uint64_t> sequences;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (sequences.size() < 10 && std::chrono::steady_clock::now() < deadline)
    for (auto& m : later.fetch(10, 200))
      sequences.push_back(m.stream_sequence);
  BOOST_TEST(later.resets() == 1u);
  std::vector<std::uint64_t> expected{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  BOOST_TEST(sequences == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_respawned_source_reads_only_once_the_previous_incarnation_closed_its_consumer) {
  publish_rows(0, 20);
  fake_context old_ctx;
  auto old = make(4);
  old->open(old_ctx);
  auto first = produce_rows(*old, 8);
  BOOST_TEST_REQUIRE(first.size() == 2u);
  old->delivered(first[0].position);
  // The supervisor's respawn: the new incarnation opens (on another thread) while the
  // old one still reads. It waits for the old one's lease.
  fake_context new_ctx;
  new_ctx.state = old_ctx.state;
  auto fresh = make(4);
  const auto key = consumer_lease::key_of({server.url(), "ROWS", "reader", "rows.in"});
  auto opened = std::async(std::launch::async, [&] { fresh->open(new_ctx); });
  BOOST_TEST_REQUIRE(wait_until([&] { return consumer_lease::waiting(key) == 1u; },
                                std::chrono::seconds(30)));
  // The old incarnation still reads alone: its deliveries stay contiguous (no reset).
  auto more = produce_rows(*old, 8, 3);
  BOOST_TEST(ids_of(more) == range(8, 16));
  BOOST_TEST(old_ctx.warnings.empty());
  BOOST_TEST((opened.wait_for(std::chrono::seconds(0)) == std::future_status::timeout));
  old.reset(); // it ends: its consumer closes and the lease passes on
  opened.get();
  BOOST_TEST(consumer_lease::waiting(key) == 0u);
  fresh->resume(first[0].position);
  auto again = produce_rows(*fresh, 20 - first[0].rows, 2);
  BOOST_TEST(ids_of(again) == range(int(first[0].rows), 20));
  BOOST_TEST(new_ctx.warnings.empty()); // no "another connection took messages"
  bool said = false;
  for (const auto& line : new_ctx.info)
    said = said || line.find("for an earlier incarnation to close the durable consumer") !=
                     std::string::npos;
  BOOST_TEST(said);
}

BOOST_AUTO_TEST_CASE(a_consumer_still_held_past_takeover_wait_fails_open_naming_it) {
  consumer_lease held;
  const auto key = consumer_lease::key_of({server.url(), "ROWS", "reader", "rows.in"});
  BOOST_TEST_REQUIRE(held.acquire(key, std::chrono::milliseconds(0), {}));
  fake_context ctx;
  auto s = make(4, "", 100'000'000);
  try {
    s->open(ctx);
    BOOST_FAIL("opened a consumer another holder in this process has");
  } catch (const step_failure& e) {
    const std::string text = e.what();
    BOOST_TEST(text.find("durable 'reader'") != std::string::npos, text);
    BOOST_TEST(text.find("still open in this process after 100 ms (takeover_wait)") !=
               std::string::npos, text);
  }
  held.release();
  auto later = make(4);
  later->open(ctx); // free again: opens at once
  BOOST_TEST(consumer_lease::waiting(key) == 0u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_or_missing_stream_fails_open_naming_them) {
  fake_context ctx;
  auto s = make_step(nats_source_kind(),
                     {{"url", dsl::value{server.url()}},
                      {"stream", dsl::value{std::string("NOPE")}},
                      {"durable", dsl::value{std::string("reader")}},
                      {"subject", dsl::value{std::string("rows.in")}},
                      {"columns", dsl::value{dsl::list_value{dsl::value{std::string("id")}}}}});
  try {
    s->open(ctx);
    BOOST_FAIL("opened a missing stream");
  } catch (const step_failure& e) {
    BOOST_TEST(std::string(e.what()).find("stream 'NOPE'") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("no such stream") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(parameters_it_refuses_name_the_parameter) {
  auto base = [](std::map<std::string, dsl::value> extra) {
    std::map<std::string, dsl::value> p{
      {"stream", dsl::value{std::string("S")}},
      {"durable", dsl::value{std::string("d")}},
      {"subject", dsl::value{std::string("s")}},
      {"columns", dsl::value{dsl::list_value{dsl::value{std::string("id")}}}}};
    for (auto& [k, v] : extra)
      p[k] = v;
    return p;
  };
  BOOST_CHECK_THROW(make_step(nats_source_kind(), base({{"durable", dsl::value{std::string("a.b")}}})),
                    step_failure);
  BOOST_CHECK_THROW(make_step(nats_source_kind(), base({{"batch", dsl::value{std::int64_t{0}}}})),
                    step_failure);
  BOOST_CHECK_NO_THROW(make_step(nats_source_kind(), base({})));
}

BOOST_AUTO_TEST_SUITE_END()
