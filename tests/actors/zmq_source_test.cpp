// zmq_source: rows pushed by a PUSH socket arrive as batches; malformed messages are
// counted with their number and field, and quarantined.
#include "actors/zmq_source.hpp"
#include "step_harness.hpp"
#include "tests/support/nats_test_server.hpp"

#include <boost/test/unit_test.hpp>
#include <zmq.hpp>

using namespace conveyor;
using namespace conveyor::test;

namespace {

std::unique_ptr<step> make_source(const std::string& endpoint, const std::string& quarantine) {
  return make_step(zmq_source_kind(),
                   {{"endpoint", dsl::value{endpoint}},
                    {"columns", dsl::value{dsl::list_value{dsl::value{std::string("id")},
                                                           dsl::value{std::string("y")}}}},
                    {"label", dsl::value{std::string("y")}},
                    {"batch", dsl::value{std::int64_t{8}}},
                    {"max_wait", dsl::value{dsl::duration_value{50'000'000}}},
                    {"quarantine", dsl::value{quarantine}}});
}

} // namespace

BOOST_AUTO_TEST_SUITE(zmq_source_suite)

BOOST_AUTO_TEST_CASE(rows_pushed_to_the_pull_socket_arrive_and_malformed_ones_are_counted) {
  temp_dir dir;
  auto endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  auto s = make_source(endpoint, dir.file("bad.csv"));
  fake_context ctx;
  s->open(ctx);
  zmq::context_t zctx;
  zmq::socket_t push(zctx, zmq::socket_type::push);
  push.connect(endpoint);
  for (int i = 0; i < 20; ++i) {
    auto row = pack_row({{"id", double(i)}, {"y", double(i % 3)}});
    push.send(zmq::buffer(row), zmq::send_flags::none);
    if (i == 9) {
      auto bad = pack_row({{"id", double(i)}});
      push.send(zmq::buffer(bad), zmq::send_flags::none);
    }
  }
  collector c;
  std::vector<float> ids;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ids.size() < 20 && std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST_REQUIRE(s->produce(c));
    for (auto& b : c.on(0)) {
      BOOST_TEST(b.rows <= 8u);
      BOOST_TEST(b.schema->columns[1].kind == column_kind::label);
      ids.insert(ids.end(), b.floats.begin(), b.floats.begin() + b.rows);
    }
    c.on(0).clear();
  }
  std::vector<float> expected;
  for (int i = 0; i < 20; ++i)
    expected.push_back(float(i));
  BOOST_TEST(ids == expected);
  BOOST_TEST(ctx.rejected == 1u);
  BOOST_TEST_REQUIRE(ctx.reject_reasons.size() == 1u);
  BOOST_TEST(ctx.reject_reasons[0] == "message 11: no field 'y'");
  BOOST_TEST(read_file(dir.file("bad.csv")).find("message,reason,message_hex\n11,no field 'y',") == 0u);
}

BOOST_AUTO_TEST_CASE(a_produce_with_nothing_queued_returns_after_max_wait_with_no_batch) {
  temp_dir dir;
  auto s = make_source("tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "");
  fake_context ctx;
  s->open(ctx);
  collector c;
  BOOST_TEST(s->produce(c));
  BOOST_TEST(c.on(0).empty());
}

BOOST_AUTO_TEST_CASE(an_endpoint_it_cannot_bind_fails_open_naming_it) {
  auto s = make_source("tcp://256.1.1.1:1", "");
  fake_context ctx;
  try {
    s->open(ctx);
    BOOST_FAIL("bound an impossible address");
  } catch (const step_failure& e) {
    BOOST_TEST(std::string(e.what()).find("cannot bind 'tcp://256.1.1.1:1'") != std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
