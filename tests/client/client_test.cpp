// client: synchronous calls, asynchronous calls answered out of order and matched by id,
// timeouts as client-side failures, and server errors as replies, against an in-test
// ROUTER that answers with the server's own encoders.
#include "client/client.hpp"
#include "tests/client/test_router.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <stdexcept>

using namespace conveyor;
using namespace std::chrono_literals;
using testing::pretend_server;
using testing::test_router;

namespace {

client::options quick(std::chrono::milliseconds timeout = 2000ms) {
  client::options o;
  o.timeout = timeout;
  return o;
}

} // namespace

BOOST_AUTO_TEST_SUITE(client_calls)

BOOST_AUTO_TEST_CASE(health_and_models_answer_synchronously) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick());
  auto h = c.health();
  BOOST_TEST_INFO(h.error.message);
  BOOST_TEST(h.ok);
  BOOST_TEST(h.status == "serving");
  BOOST_TEST(h.latency.count() > 0);

  auto m = c.models();
  BOOST_TEST(m.ok);
  BOOST_REQUIRE(m.models.size() == 1u);
  BOOST_TEST(m.models[0].name == "fashion");
  BOOST_TEST(m.models[0].inputs == 4u);
  BOOST_TEST(m.id != h.id);
}

BOOST_AUTO_TEST_CASE(predict_returns_outputs_and_labels_per_row) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick());
  auto r = c.predict("fashion", {{1, 2, 3, 4}, {-1, -1, 0, 0}});
  BOOST_TEST_INFO(r.error.message);
  BOOST_REQUIRE(r.ok);
  BOOST_TEST(r.model == "fashion");
  BOOST_TEST(r.version == 3u);
  BOOST_TEST(r.rows == 2u);
  BOOST_TEST(r.width == 2u);
  BOOST_TEST(r.row(0)[0] == 10.0f);
  BOOST_TEST(r.row(1)[0] == -2.0f);
  BOOST_TEST(r.labels == (std::vector<std::int32_t>{1, 0}), boost::test_tools::per_element());

  const float flat[] = {0.5f, 0.5f, 0.5f, 0.5f};
  auto pinned = c.predict("fashion", flat, 1, 4, 3, 100);
  BOOST_TEST(pinned.ok);
  BOOST_TEST(pinned.row(0)[0] == 2.0f);
}

BOOST_AUTO_TEST_CASE(the_inputs_encoding_reaches_the_server_the_same) {
  test_router server(pretend_server);
  auto o = quick();
  o.encoding = client::input_encoding::inputs;
  client::client c(server.endpoint(), o);
  auto r = c.predict("fashion", {{1, 2, 3}});
  BOOST_TEST(r.ok);
  BOOST_TEST(r.row(0)[0] == 6.0f);
  BOOST_TEST(r.row(0)[1] == 3.0f);
}

BOOST_AUTO_TEST_CASE(server_errors_come_back_as_replies_not_exceptions) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick());
  auto r = c.predict("nope", {{1}});
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error.code == "unknown_model");
  BOOST_TEST(r.error.message == "no model named 'nope'");
  BOOST_TEST(!r.error.client_side);

  auto v = c.predict("fashion", {{1}}, 99);
  BOOST_TEST(v.error.code == "unknown_version");

  auto empty = c.predict("fashion", std::vector<std::vector<float>>{});
  BOOST_TEST(empty.error.code == "bad_request"); // the server judges empty input
}

BOOST_AUTO_TEST_CASE(ragged_or_oversized_rows_fail_on_the_client_without_sending) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick());
  auto r = c.predict("fashion", {{1, 2}, {3}});
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error.code == std::string(client::client_error::bad_argument));
  BOOST_TEST(r.error.client_side);
  // Beyond MessagePack's 4 GiB bin: refused before a value is read.
  const float one = 1;
  auto huge = c.predict("fashion", &one, 1u << 16, (1u << 14) + 1);
  BOOST_TEST(huge.error.code == std::string(client::client_error::bad_argument));
  auto id = c.send_predict("fashion", &one, 1u << 16, (1u << 14) + 1);
  auto async = c.receive(0ms);
  BOOST_REQUIRE(async.has_value());
  BOOST_TEST(async->id == id);
  BOOST_TEST(async->error.code == std::string(client::client_error::bad_argument));
  BOOST_TEST(c.health().ok);
  BOOST_TEST(server.requests() == 1u);
}

BOOST_AUTO_TEST_CASE(an_unanswered_call_times_out_client_side_and_the_client_stays_usable) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick(200ms));
  const auto start = std::chrono::steady_clock::now();
  auto r = c.predict("silent", {{1}});
  const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.error.code == std::string(client::client_error::timeout));
  BOOST_TEST(r.error.client_side);
  BOOST_TEST(took_ms >= 200);
  BOOST_TEST(took_ms < 2000);
  BOOST_TEST(c.health().ok);
}

BOOST_AUTO_TEST_CASE(a_server_that_is_not_there_times_out) {
  std::string endpoint;
  {
    test_router gone(pretend_server); // learn a free port, then close it
    endpoint = gone.endpoint();
  }
  client::client c(endpoint, quick(150ms));
  auto r = c.health();
  BOOST_TEST(r.error.code == std::string(client::client_error::timeout));
}

BOOST_AUTO_TEST_CASE(async_replies_arriving_out_of_order_are_matched_by_id) {
  test_router server(pretend_server, 4); // answers every 4 requests, last first
  client::client c(server.endpoint(), quick());
  std::map<std::uint64_t, float> expected_sum;
  for (int i = 1; i <= 8; ++i) {
    const float row[] = {static_cast<float>(i), 0.0f};
    auto id = c.send_predict("fashion", row, 1, 2);
    expected_sum[id] = static_cast<float>(i);
  }
  BOOST_TEST(c.in_flight() == 8u);
  std::vector<std::uint64_t> order;
  for (int i = 0; i < 8; ++i) {
    auto r = c.receive(2000ms);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST_INFO(r->error.message);
    BOOST_REQUIRE(r->ok);
    BOOST_REQUIRE(expected_sum.count(r->id) == 1u);
    BOOST_TEST(r->row(0)[0] == expected_sum[r->id]);
    BOOST_TEST(r->latency.count() > 0);
    order.push_back(r->id);
  }
  BOOST_TEST(order[0] > order[1]); // held replies come last first
  BOOST_TEST(c.in_flight() == 0u);
  BOOST_TEST(!c.receive(20ms).has_value());
  BOOST_TEST(c.stray_replies() == 0u);
}

BOOST_AUTO_TEST_CASE(async_replies_received_during_a_sync_call_are_kept_for_receive) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick());
  const float row[] = {1, 2};
  auto a = c.send_predict("fashion", row, 1, 2);
  auto b = c.send_health();
  auto m = c.models(); // the async replies arrive first and wait
  BOOST_TEST(m.ok);
  BOOST_TEST(m.models.size() == 1u);
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 2; ++i) {
    auto r = c.receive(1000ms);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->ok);
    got.push_back(r->id);
  }
  BOOST_TEST(got == (std::vector<std::uint64_t>{a, b}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unanswered_async_request_is_handed_back_as_a_timeout) {
  test_router server(pretend_server);
  client::client c(server.endpoint(), quick(150ms));
  const float row[] = {1};
  auto silent = c.send_predict("silent", row, 1, 1);
  auto answered = c.send_predict("fashion", row, 1, 1);
  auto first = c.receive(1000ms);
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(first->id == answered);
  BOOST_TEST(first->ok);
  BOOST_TEST(!c.receive(10ms).has_value()); // not yet due
  auto second = c.receive(1000ms);
  BOOST_REQUIRE(second.has_value());
  BOOST_TEST(second->id == silent);
  BOOST_TEST(second->error.code == std::string(client::client_error::timeout));
  BOOST_TEST(second->error.client_side);
  BOOST_TEST(c.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(late_replies_after_a_timeout_are_dropped_as_strays) {
  // Answers the first request only after the second arrives, which is after the timeout.
  test_router server(pretend_server, 2);
  client::client c(server.endpoint(), quick(100ms));
  auto first = c.health();
  BOOST_TEST(first.error.code == std::string(client::client_error::timeout));
  const float row[] = {2};
  auto id = c.send_predict("fashion", row, 1, 1);
  auto r = c.receive(1000ms);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->id == id);
  BOOST_TEST(r->ok);
  BOOST_TEST(!c.receive(50ms).has_value());
  BOOST_TEST(c.stray_replies() == 1u);
}

BOOST_AUTO_TEST_CASE(an_unparseable_endpoint_is_a_usage_error) {
  BOOST_CHECK_THROW(client::client("not an endpoint"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client_keys)

/// A fleet server stand-in: answers with the request's key as the model name, and
/// `unknown_key` for the key "nowhere".
std::optional<std::string> keyed_server(std::string_view bytes) {
  wire::request request;
  std::string out;
  if (auto error = wire::decode_request(bytes, {}, request)) {
    wire::encode_error_reply(error->id, error->code, error->message, out);
    return out;
  }
  if (request.key && *request.key == "nowhere") {
    wire::encode_error_reply(request.id, wire::error_code::unknown_key, "no model for 'nowhere'", out);
    return out;
  }
  const float one = 1.0f;
  wire::encode_prediction_reply(request.id, request.key ? "key=" + *request.key : "no key", 1, &one,
                                1, 1, nullptr, out);
  return out;
}

BOOST_AUTO_TEST_CASE(every_predict_call_sends_the_key_and_none_without_it) {
  test_router server(keyed_server);
  client::client c(server.endpoint(), quick());
  const float row[] = {1, 2};
  BOOST_TEST(c.predict("stores", {{1, 2}}, 0, {}, "north").model == "key=north");
  BOOST_TEST(c.predict("stores", row, 1, 2, 0, {}, "south").model == "key=south");
  BOOST_TEST(c.predict("stores", row, 1, 2).model == "no key");
  auto id = c.send_predict("stores", row, 1, 2, 0, {}, "east");
  auto r = c.receive(2000ms);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->id == id);
  BOOST_TEST(r->model == "key=east");
  auto unknown = c.predict("stores", {{1, 2}}, 0, {}, "nowhere");
  BOOST_TEST(!unknown.ok);
  BOOST_TEST(unknown.error.code == "unknown_key");
  BOOST_TEST(!unknown.error.client_side);
}

BOOST_AUTO_TEST_SUITE_END()
