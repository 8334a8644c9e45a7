// client codec: requests the client encodes decode on the server (wire::decode_request)
// to exactly what was sent; replies the server encodes (wire::encode_*_reply) decode on the
// client to exactly what was sent; replies that are not protocol v1 decode to a
// client-side bad_reply that keeps the id where it could be read, and never throw.
#include "wire/server_codec.hpp"
#include "wire/client_codec.hpp"

#include <boost/test/unit_test.hpp>

#include <msgpack.hpp>

#include <cmath>
#include <cstring>
#include <limits>

using namespace conveyor;
using wire::decode_reply;

namespace {

using packer = msgpack::packer<msgpack::sbuffer>;

/// A byte string from a literal that may hold NULs.
template <std::size_t N>
std::string raw(const char (&s)[N]) { return std::string(s, N - 1); }

std::string bytes_of(const msgpack::sbuffer& b) { return std::string(b.data(), b.size()); }

void str(packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

/// Bit-exact float comparison (NaN and -0 included).
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

wire::request decode_on_server(const std::string& bytes) {
  wire::request r;
  auto error = wire::decode_request(bytes, wire::request_limits{}, r);
  BOOST_TEST_INFO("server decode error: " << (error ? error->message : std::string("none")));
  BOOST_REQUIRE(!error);
  return r;
}

void expect_bad_reply(const std::string& bytes, std::uint64_t id, std::string_view mentions,
                      const wire::reply_limits& limits = {}) {
  wire::reply r;
  BOOST_REQUIRE_NO_THROW(decode_reply(bytes, limits, r));
  BOOST_TEST_CONTEXT("message: " << r.error.message) {
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.error.code == std::string(wire::client_error::bad_reply));
    BOOST_TEST(r.error.client_side);
    BOOST_TEST(r.id == id);
    BOOST_TEST(r.error.message.find(mentions) != std::string::npos, "expected: " << mentions);
    BOOST_TEST(r.outputs.empty());
  }
}

const std::vector<float> sample_values{0.0f, 1.5f, -2.25f, 255.0f, 1e-30f,
                                       std::numeric_limits<float>::max(),
                                       -0.0f, std::numeric_limits<float>::infinity(), 3.0f};

} // namespace

BOOST_AUTO_TEST_SUITE(client_codec)

BOOST_AUTO_TEST_CASE(a_tensor_predict_request_decodes_on_the_server_to_the_same_values) {
  wire::predict_request req{42, "fashion", 3, sample_values.data(), 3, 3, 250,
                              wire::input_encoding::tensor};
  std::string bytes;
  wire::encode_predict_request(req, bytes);
  auto r = decode_on_server(bytes);
  BOOST_TEST(static_cast<int>(r.op) == static_cast<int>(wire::request_op::predict));
  BOOST_TEST(r.id == 42u);
  BOOST_TEST(r.model == "fashion");
  BOOST_TEST(r.version == 3u);
  BOOST_TEST(r.deadline_ms.value_or(0) == 250u);
  BOOST_TEST(r.rows == 3u);
  BOOST_TEST(r.columns == 3u);
  BOOST_REQUIRE(r.values.size() == sample_values.size());
  for (std::size_t i = 0; i < sample_values.size(); ++i)
    BOOST_TEST(same_bits(r.values[i], sample_values[i]), "value " << i);
}

BOOST_AUTO_TEST_CASE(an_inputs_predict_request_decodes_on_the_server_to_the_same_values) {
  wire::predict_request req{7, "m", 0, sample_values.data(), 1, 9, std::nullopt,
                              wire::input_encoding::inputs};
  std::string bytes;
  wire::encode_predict_request(req, bytes);
  auto r = decode_on_server(bytes);
  BOOST_TEST(r.id == 7u);
  BOOST_TEST(r.version == 0u);
  BOOST_TEST(!r.deadline_ms.has_value());
  BOOST_TEST(r.rows == 1u);
  BOOST_TEST(r.columns == 9u);
  BOOST_REQUIRE(r.values.size() == sample_values.size());
  for (std::size_t i = 0; i < sample_values.size(); ++i)
    BOOST_TEST(same_bits(r.values[i], sample_values[i]), "value " << i);
}

BOOST_AUTO_TEST_CASE(a_key_is_sent_only_when_given) {
  wire::predict_request req{8, "stores", 0, sample_values.data(), 1, 9, std::nullopt,
                              wire::input_encoding::tensor, "north"};
  std::string bytes;
  wire::encode_predict_request(req, bytes);
  BOOST_TEST(decode_on_server(bytes).key.value_or("") == "north");
  req.key = {};
  wire::encode_predict_request(req, bytes);
  BOOST_TEST(!decode_on_server(bytes).key.has_value());
  BOOST_TEST(bytes.find("key") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(models_and_health_requests_decode_on_the_server) {
  std::string bytes;
  wire::encode_models_request(9, bytes);
  auto m = decode_on_server(bytes);
  BOOST_TEST(static_cast<int>(m.op) == static_cast<int>(wire::request_op::models));
  BOOST_TEST(m.id == 9u);
  wire::encode_health_request(std::numeric_limits<std::uint64_t>::max(), bytes);
  auto h = decode_on_server(bytes);
  BOOST_TEST(static_cast<int>(h.op) == static_cast<int>(wire::request_op::health));
  BOOST_TEST(h.id == std::numeric_limits<std::uint64_t>::max());
}

BOOST_AUTO_TEST_CASE(a_prediction_decodes_to_the_outputs_labels_model_and_version) {
  // Integral values and -0 included: outputs travel as float32 whatever their value.
  const std::vector<float> outputs{0.25f, 0.75f, 1.0f, 0.0f, -0.0f, 1e-20f};
  const std::vector<std::int32_t> labels{1, 0, 2};
  std::string bytes;
  wire::encode_prediction_reply(77, "fashion", 12, outputs.data(), 3, 2, labels.data(), bytes);
  auto r = decode_reply(bytes);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.id == 77u);
  BOOST_TEST(r.model == "fashion");
  BOOST_TEST(r.version == 12u);
  BOOST_TEST(r.rows == 3u);
  BOOST_TEST(r.width == 2u);
  BOOST_REQUIRE(r.outputs.size() == outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i)
    BOOST_TEST(same_bits(r.outputs[i], outputs[i]));
  BOOST_TEST(r.labels == labels, boost::test_tools::per_element());
  BOOST_TEST(r.row(2)[1] == 1e-20f);
  BOOST_TEST(r.error.code.empty());
}

BOOST_AUTO_TEST_CASE(a_regressor_prediction_has_no_labels) {
  const std::vector<float> outputs{3.5f, -1.0f};
  std::string bytes;
  wire::encode_prediction_reply(1, "price", 1, outputs.data(), 2, 1, nullptr, bytes);
  auto r = decode_reply(bytes);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.rows == 2u);
  BOOST_TEST(r.width == 1u);
  BOOST_TEST(r.labels.empty());
}

BOOST_AUTO_TEST_CASE(each_server_error_code_decodes_as_a_server_side_failure) {
  for (int c = 0; c < wire::error_code_count; ++c) {
    const auto code = static_cast<wire::error_code>(c);
    std::string bytes;
    wire::encode_error_reply(5, code, "because", bytes);
    auto r = decode_reply(bytes);
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.id == 5u);
    BOOST_TEST(r.error.code == std::string(wire::to_string(code)));
    BOOST_TEST(r.error.message == "because");
    BOOST_TEST(!r.error.client_side);
  }
}

BOOST_AUTO_TEST_CASE(health_and_models_replies_decode) {
  std::string bytes;
  wire::encode_health_reply(3, bytes);
  auto h = decode_reply(bytes);
  BOOST_TEST(h.ok);
  BOOST_TEST(h.id == 3u);
  BOOST_TEST(h.status == "serving");

  wire::encode_models_reply(4, {{"fashion", 3, 784, 10}, {"price", 1, 5, 1}}, bytes);
  auto m = decode_reply(bytes);
  BOOST_TEST(m.ok);
  BOOST_REQUIRE(m.models.size() == 2u);
  BOOST_TEST(m.models[0].name == "fashion");
  BOOST_TEST(m.models[0].version == 3u);
  BOOST_TEST(m.models[0].inputs == 784u);
  BOOST_TEST(m.models[0].outputs == 10u);
  BOOST_TEST(m.models[1].name == "price");

  wire::encode_models_reply(4, {}, bytes);
  auto none = decode_reply(bytes);
  BOOST_TEST(none.ok);
  BOOST_TEST(none.models.empty());
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_ignored_at_every_level) {
  msgpack::sbuffer b;
  packer pk(b);
  pk.pack_map(5);
  str(pk, "id"); pk.pack_uint64(8);
  str(pk, "future"); pk.pack_map(1); str(pk, "x"); pk.pack_array(2); pk.pack_nil(); pk.pack_true();
  str(pk, "ok"); pk.pack_true();
  str(pk, "models"); pk.pack_array(1);
    pk.pack_map(3); str(pk, "name"); str(pk, "m"); str(pk, "tags"); pk.pack_array(1); str(pk, "t");
    str(pk, "version"); pk.pack_uint64(2);
  pk.pack_uint64(1); pk.pack_uint64(2); // a non-string key and its value
  auto r = decode_reply(bytes_of(b));
  BOOST_TEST_INFO(r.error.message);
  BOOST_TEST(r.ok);
  BOOST_REQUIRE(r.models.size() == 1u);
  BOOST_TEST(r.models[0].version == 2u);
}

BOOST_AUTO_TEST_CASE(outputs_may_arrive_as_float64_or_integers) {
  msgpack::sbuffer b;
  packer pk(b);
  pk.pack_map(5);
  str(pk, "id"); pk.pack_uint64(1);
  str(pk, "ok"); pk.pack_true();
  str(pk, "outputs"); pk.pack_array(1); pk.pack_array(3);
    pk.pack_double(0.5); pk.pack_int64(-3); pk.pack_uint64(7);
  str(pk, "labels"); pk.pack_array(1); pk.pack_int64(-1);
  str(pk, "version"); pk.pack_uint64(1);
  auto r = decode_reply(bytes_of(b));
  BOOST_TEST_INFO(r.error.message);
  BOOST_TEST(r.ok);
  BOOST_TEST(r.outputs == (std::vector<float>{0.5f, -3.0f, 7.0f}), boost::test_tools::per_element());
  BOOST_TEST(r.labels == std::vector<std::int32_t>{-1}, boost::test_tools::per_element());
}

// ---- replies that are not protocol v1 ----------------------------------------------

/// Packs {id: 6, ok: true, <key>: <value written by `value`>}.
template <typename F>
std::string reply_with(std::string_view key, F value) {
  msgpack::sbuffer b;
  packer pk(b);
  pk.pack_map(3);
  str(pk, "id"); pk.pack_uint64(6);
  str(pk, "ok"); pk.pack_true();
  str(pk, key);
  value(pk);
  return bytes_of(b);
}

BOOST_AUTO_TEST_CASE(malformed_messages_decode_as_bad_reply_with_id_0) {
  expect_bad_reply("", 0, "empty");
  expect_bad_reply("\x93\x01\x02\x03", 0, "not an array");
  expect_bad_reply("\xa2hi", 0, "not a string");
  expect_bad_reply("\x07", 0, "not an integer");
  expect_bad_reply("\xc1", 0, "malformed");                    // never-used byte
  expect_bad_reply(raw("\x82\xa2id"), 0, "malformed"); // truncated before the value
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_valid_reply_is_a_bad_reply) {
  const std::vector<float> outputs{0.25f, 0.75f};
  const std::vector<std::int32_t> labels{1};
  std::string bytes;
  wire::encode_prediction_reply(77, "fashion", 12, outputs.data(), 1, 2, labels.data(), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_reply(std::string_view(bytes.data(), n));
    BOOST_TEST(!r.ok, "prefix of " << n << " bytes");
    BOOST_TEST(r.error.code == std::string(wire::client_error::bad_reply));
  }
}

BOOST_AUTO_TEST_CASE(trailing_bytes_and_missing_keys_are_bad_replies_that_keep_the_id) {
  std::string bytes;
  wire::encode_health_reply(11, bytes);
  expect_bad_reply(bytes + '\x01', 11, "trailing");

  msgpack::sbuffer no_ok;
  packer a(no_ok);
  a.pack_map(1); str(a, "id"); a.pack_uint64(12);
  expect_bad_reply(bytes_of(no_ok), 12, "missing 'ok'");

  msgpack::sbuffer no_id;
  packer b(no_id);
  b.pack_map(1); str(b, "ok"); b.pack_true();
  expect_bad_reply(bytes_of(no_id), 0, "missing 'id'");

  msgpack::sbuffer no_error;
  packer c(no_error);
  c.pack_map(2); str(c, "id"); c.pack_uint64(13); str(c, "ok"); c.pack_false();
  expect_bad_reply(bytes_of(no_error), 13, "error.code");
}

BOOST_AUTO_TEST_CASE(mistyped_values_are_bad_replies) {
  expect_bad_reply(reply_with("model", [](packer& pk) { pk.pack_uint64(1); }), 6,
                   "'model' must be a string");
  expect_bad_reply(reply_with("version", [](packer& pk) { pk.pack_int64(-1); }), 6,
                   "'version' must be an unsigned integer");
  expect_bad_reply(reply_with("status", [](packer& pk) { pk.pack_array(0); }), 6,
                   "'status' must be a string");
  expect_bad_reply(reply_with("outputs", [](packer& pk) { pk.pack_map(0); }), 6,
                   "'outputs' must be an array");
  expect_bad_reply(reply_with("outputs", [](packer& pk) { pk.pack_array(1); pk.pack_float(1); }),
                   6, "must be an array (an output row)");
  expect_bad_reply(reply_with("outputs",
                              [](packer& pk) {
                                pk.pack_array(1); pk.pack_array(1); str(pk, "x");
                              }),
                   6, "must be a number");
  expect_bad_reply(reply_with("outputs",
                              [](packer& pk) {
                                pk.pack_array(1); pk.pack_array(2); pk.pack_float(1); pk.pack_map(0);
                              }),
                   6, "must be a number");
  expect_bad_reply(reply_with("labels", [](packer& pk) { pk.pack_array(1); pk.pack_float(1.5f); }),
                   6, "must be an integer");
  expect_bad_reply(reply_with("labels", [](packer& pk) { pk.pack_array(1); pk.pack_uint64(1ull << 40); }),
                   6, "out of range");
  expect_bad_reply(reply_with("models", [](packer& pk) { pk.pack_array(1); pk.pack_array(0); }),
                   6, "must be a map");
  expect_bad_reply(reply_with("models",
                              [](packer& pk) {
                                pk.pack_array(1); pk.pack_map(1); str(pk, "name"); pk.pack_true();
                              }),
                   6, "'name' must be a string");
  expect_bad_reply(reply_with("models",
                              [](packer& pk) {
                                pk.pack_array(1); pk.pack_map(1); str(pk, "version"); pk.pack_uint64(1);
                              }),
                   6, "without 'name'");
  expect_bad_reply(reply_with("error", [](packer& pk) { str(pk, "oops"); }), 6,
                   "'error' must be a map");
  expect_bad_reply(reply_with("ok", [](packer& pk) { pk.pack_true(); }), 6, "duplicate key 'ok'");
}

BOOST_AUTO_TEST_CASE(ragged_outputs_and_mismatched_labels_are_bad_replies) {
  expect_bad_reply(reply_with("outputs",
                              [](packer& pk) {
                                pk.pack_array(2);
                                pk.pack_array(2); pk.pack_float(1); pk.pack_float(2);
                                pk.pack_array(1); pk.pack_float(1);
                              }),
                   6, "output row 1 has 1 values; row 0 has 2");
  expect_bad_reply(reply_with("labels", [](packer& pk) { pk.pack_array(1); pk.pack_uint64(1); }),
                   6, "'labels' holds 1 entries for 0 output rows");
}

BOOST_AUTO_TEST_CASE(sizes_beyond_the_limits_are_bad_replies_without_allocating_them) {
  // Array headers claiming 2^32-1 elements in a handful of bytes.
  const std::string huge_rows = raw("\x83\xa2id\x06\xa2ok\xc3\xa7outputs\xdd\xff\xff\xff\xff");
  expect_bad_reply(huge_rows, 6, "rows in 'outputs'");
  wire::reply_limits generous;
  generous.max_rows = std::numeric_limits<std::uint32_t>::max();
  generous.max_width = std::numeric_limits<std::uint32_t>::max();
  const std::string huge_row =
    raw("\x83\xa2id\x06\xa2ok\xc3\xa7outputs\xdd\xff\xff\xff\xff\xdd\xff\xff\xff\xff");
  expect_bad_reply(huge_row, 6, "malformed", generous); // truncated, and nothing huge reserved
  const std::string huge_models = raw("\x83\xa2id\x06\xa2ok\xc3\xa6models\xdd\xff\xff\xff\xff");
  expect_bad_reply(huge_models, 6, "models (at most");
  const std::string huge_string = raw("\x83\xa2id\x06\xa2ok\xc3\xa6status\xdb\xff\xff\xff\xff");
  expect_bad_reply(huge_string, 6, "malformed");

  wire::reply_limits tight;
  tight.max_string = 4;
  tight.max_bytes = 64;
  expect_bad_reply(reply_with("status", [](packer& pk) { str(pk, "serving"); }), 6, "string of 7",
                   tight);
  std::string big;
  std::vector<float> many(100, 1.0f);
  wire::encode_prediction_reply(9, "m", 1, many.data(), 1, 100, nullptr, big);
  expect_bad_reply(big, 9, "at most 64", tight);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_a_bad_reply) {
  std::string deep = "\x81\xa1x";
  for (int i = 0; i < 100000; ++i)
    deep += '\x91';
  deep += '\x00';
  expect_bad_reply(deep, 0, "nested too deeply");
}

BOOST_AUTO_TEST_SUITE_END()
