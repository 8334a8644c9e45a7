// protocol v1, the server's half: a table of hand-built requests (msgpack::packer into an
// sbuffer, and raw bytes) with the error code, id and message each must decode to, or the
// request it must decode to; then each reply encoder's output unpacked with msgpack to the
// documented keys and types.
#include "wire/server_codec.hpp"

#include <boost/test/unit_test.hpp>

#include <msgpack.hpp>

#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

using namespace conveyor;
using wire::error_code;

namespace {

using packer = msgpack::packer<msgpack::sbuffer>;
/// Writes one MessagePack value.
using value = std::function<void(packer&)>;

/// A byte string from a literal that may hold NULs.
template <std::size_t N>
std::string raw(const char (&s)[N]) { return std::string(s, N - 1); }

void put_str(packer& pk, std::string_view s) {
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

value str(std::string s) { return [s](packer& pk) { put_str(pk, s); }; }
value u64(std::uint64_t v) { return [v](packer& pk) { pk.pack_uint64(v); }; }
value i64(std::int64_t v) { return [v](packer& pk) { pk.pack_int64(v); }; }
value f32(float v) {
  // pack_float would write integral values as integers; force the float32 format.
  return [v](packer& pk) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    const char b[5] = {static_cast<char>(0xca), static_cast<char>(u >> 24),
                       static_cast<char>(u >> 16), static_cast<char>(u >> 8),
                       static_cast<char>(u)};
    pk.pack_str_body(b, 5); // appends the bytes verbatim
  };
}
/// A float64 for non-integral `v` (pack_double writes integral values as integers).
value f64(double v) { return [v](packer& pk) { pk.pack_double(v); }; }
value nil() { return [](packer& pk) { pk.pack_nil(); }; }
value boolean(bool b) { return [b](packer& pk) { b ? pk.pack_true() : pk.pack_false(); }; }
value bin(std::string bytes) {
  return [bytes](packer& pk) {
    pk.pack_bin(static_cast<std::uint32_t>(bytes.size()));
    pk.pack_bin_body(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
  };
}
value array(std::vector<value> items) {
  return [items](packer& pk) {
    pk.pack_array(static_cast<std::uint32_t>(items.size()));
    for (const auto& i : items)
      i(pk);
  };
}
value map(std::vector<std::pair<value, value>> entries) {
  return [entries](packer& pk) {
    pk.pack_map(static_cast<std::uint32_t>(entries.size()));
    for (const auto& [k, v] : entries) {
      k(pk);
      v(pk);
    }
  };
}
/// Rows of float32 values.
value rows(std::vector<std::vector<float>> rs) {
  std::vector<value> items;
  for (const auto& r : rs) {
    std::vector<value> row;
    for (float v : r)
      row.push_back(f32(v));
    items.push_back(array(row));
  }
  return array(items);
}
/// Little-endian float32 bytes, written byte by byte (independent of the host's order).
std::string le_floats(std::vector<float> values) {
  std::string out;
  for (float v : values) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int b = 0; b < 4; ++b)
      out += static_cast<char>((u >> (8 * b)) & 0xff);
  }
  return out;
}
value shape(std::uint64_t r, std::uint64_t c) { return array({u64(r), u64(c)}); }

using entries = std::vector<std::pair<std::string, value>>;

std::string encode(const value& v) {
  msgpack::sbuffer b;
  packer pk(b);
  v(pk);
  return std::string(b.data(), b.size());
}

/// A request map with string keys, in the given order (duplicates allowed).
std::string request(const entries& es) {
  std::vector<std::pair<value, value>> m;
  for (const auto& [k, v] : es)
    m.emplace_back(str(k), v);
  return encode(map(m));
}

/// {op: predict, id: 7, model: "m"} followed by `more`.
std::string predict(const entries& more) {
  entries es{{"op", str("predict")}, {"id", u64(7)}, {"model", str("m")}};
  es.insert(es.end(), more.begin(), more.end());
  return request(es);
}

struct error_case {
  const char* name;
  std::string bytes;
  error_code code;
  std::uint64_t id;       ///< the id the error must carry
  std::string mentions;   ///< a part of the message
  wire::request_limits limits = {};
};

wire::request_limits small_limits() {
  wire::request_limits l;
  l.max_rows = 2;
  l.max_columns = 3;
  l.max_bytes = 200;
  return l;
}

wire::request_limits huge_limits() {
  wire::request_limits l;
  l.max_rows = std::numeric_limits<std::uint32_t>::max();
  l.max_columns = std::numeric_limits<std::uint32_t>::max();
  return l;
}

std::string deep_inputs(int depth) {
  std::string s = predict({}); // a map of 3; rewrite to 4 entries and append inputs
  s[0] = static_cast<char>(0x84);
  s += raw("\xa6inputs");
  for (int i = 0; i < depth; ++i)
    s += '\x91';
  s += '\x01';
  return s;
}

std::vector<error_case> error_cases() {
  const std::string valid = predict({{"inputs", rows({{1, 2}, {3, 4}})}});
  std::vector<error_case> cs{
    // not a map
    {"empty message", "", error_code::bad_request, 0, "empty message"},
    {"an array at the top", encode(array({u64(1), u64(2)})), error_code::bad_request, 0,
     "not an array"},
    {"a string at the top", encode(str("predict")), error_code::bad_request, 0, "not a string"},
    {"an int at the top", encode(u64(7)), error_code::bad_request, 0, "not an integer"},
    {"a negative int at the top", encode(i64(-7)), error_code::bad_request, 0, "not an integer"},
    {"a float at the top", encode(f64(1.5)), error_code::bad_request, 0, "not a float"},
    {"nil at the top", encode(nil()), error_code::bad_request, 0, "not nil"},
    {"bin at the top", encode(bin("ab")), error_code::bad_request, 0, "not bin"},
    {"a never-used byte", raw("\xc1"), error_code::bad_request, 0, "malformed"},
    {"truncated before the id", valid.substr(0, 5), error_code::bad_request, 0, "malformed"},
    {"truncated after the id", valid.substr(0, valid.size() - 3), error_code::bad_request, 7,
     "malformed MessagePack (at byte"},
    {"trailing bytes", valid + raw("\x00"), error_code::bad_request, 7, "trailing bytes"},
    {"two maps", valid + valid, error_code::bad_request, 7, "trailing bytes"},
    // presence
    {"missing id", request({{"op", str("health")}}), error_code::bad_request, 0, "missing 'id'"},
    {"missing op", request({{"id", u64(3)}}), error_code::bad_request, 3, "missing 'op'"},
    {"unknown op", request({{"op", str("train")}, {"id", u64(3)}}), error_code::bad_request, 3,
     "unknown op 'train'"},
    {"an empty map", encode(map({})), error_code::bad_request, 0, "missing 'id'"},
    // wrong types, key by key
    {"op an int", request({{"op", u64(1)}, {"id", u64(3)}}), error_code::bad_request, 3,
     "'op' must be a string"},
    {"op a map", request({{"op", map({})}, {"id", u64(3)}}), error_code::bad_request, 3,
     "'op' must not be a map"},
    {"id a string", request({{"op", str("health")}, {"id", str("3")}}), error_code::bad_request,
     0, "'id' must be an unsigned integer"},
    {"id negative", request({{"op", str("health")}, {"id", i64(-3)}}), error_code::bad_request,
     0, "'id' must be an unsigned integer"},
    {"id a float", request({{"op", str("health")}, {"id", f64(3.5)}}), error_code::bad_request, 0,
     "'id' must be an unsigned integer"},
    {"id an array", request({{"op", str("health")}, {"id", array({u64(3)})}}),
     error_code::bad_request, 0, "'id' must be an unsigned integer"},
    {"id nil", request({{"op", str("health")}, {"id", nil()}}), error_code::bad_request, 0,
     "'id' must be an unsigned integer"},
    {"model an int", request({{"op", str("predict")}, {"id", u64(7)}, {"model", u64(1)}}),
     error_code::bad_request, 7, "'model' must be a string"},
    {"model bin", request({{"op", str("predict")}, {"id", u64(7)}, {"model", bin("m")}}),
     error_code::bad_request, 7, "'model' must be a string"},
    {"model too long", request({{"op", str("predict")}, {"id", u64(7)}, {"model", str(std::string(1025, 'm'))}}),
     error_code::bad_request, 7, "longer than 1024"},
    {"version a string", predict({{"version", str("3")}, {"inputs", rows({{1}})}}),
     error_code::bad_request, 7, "'version' must be an unsigned integer"},
    {"version negative", predict({{"version", i64(-1)}, {"inputs", rows({{1}})}}),
     error_code::bad_request, 7, "'version' must be an unsigned integer"},
    {"deadline_ms a float", predict({{"deadline_ms", f64(2.5)}, {"inputs", rows({{1}})}}),
     error_code::bad_request, 7, "'deadline_ms' must be an unsigned integer"},
    {"deadline_ms a bool", predict({{"deadline_ms", boolean(true)}, {"inputs", rows({{1}})}}),
     error_code::bad_request, 7, "'deadline_ms' must be an unsigned integer"},
    {"inputs an int", predict({{"inputs", u64(1)}}), error_code::bad_request, 7,
     "'inputs' must be an array of rows"},
    {"inputs a map", predict({{"inputs", map({})}}), error_code::bad_request, 7,
     "'inputs' must be an array of rows"},
    {"inputs a flat array", predict({{"inputs", array({f32(1), f32(2)})}}),
     error_code::bad_request, 7, "array of rows"},
    {"tensor a string", predict({{"tensor", str("abcd")}, {"shape", shape(1, 1)}}),
     error_code::bad_request, 7, "'tensor' must be bin"},
    {"tensor an array", predict({{"tensor", array({f32(1)})}, {"shape", shape(1, 1)}}),
     error_code::bad_request, 7, "'tensor' must be bin"},
    {"shape an int", predict({{"tensor", bin(le_floats({1}))}, {"shape", u64(1)}}),
     error_code::bad_request, 7, "'shape' must be an array"},
    {"shape of floats", predict({{"tensor", bin(le_floats({1}))}, {"shape", array({f32(1.5f), u64(1)})}}),
     error_code::bad_request, 7, "'shape' must be [rows, columns]"},
    {"shape of three", predict({{"tensor", bin(le_floats({1}))}, {"shape", array({u64(1), u64(1), u64(1)})}}),
     error_code::bad_request, 7, "'shape' must be [rows, columns]"},
    {"shape of one", predict({{"tensor", bin(le_floats({1}))}, {"shape", array({u64(1)})}}),
     error_code::bad_request, 7, "'shape' must be [rows, columns]"},
    {"shape a map", predict({{"tensor", bin(le_floats({1}))}, {"shape", map({})}}),
     error_code::bad_request, 7, "'shape' must not be a map"},
    {"shape of strings", predict({{"tensor", bin(le_floats({1}))}, {"shape", array({str("1"), str("1")})}}),
     error_code::bad_request, 7, "'shape' must be [rows, columns]"},
    {"shape with a zero", predict({{"tensor", bin("")}, {"shape", shape(0, 4)}}),
     error_code::bad_request, 7, "'shape' holds a zero"},
    {"duplicate id", request({{"op", str("health")}, {"id", u64(3)}, {"id", u64(4)}}),
     error_code::bad_request, 4, "duplicate key 'id'"},
    {"duplicate inputs", predict({{"inputs", rows({{1}})}, {"inputs", rows({{1}})}}),
     error_code::bad_request, 7, "duplicate key 'inputs'"},
    // predict's own rules
    {"predict without model", request({{"op", str("predict")}, {"id", u64(7)}, {"inputs", rows({{1}})}}),
     error_code::bad_request, 7, "predict needs 'model'"},
    {"both inputs and tensor", predict({{"inputs", rows({{1}})}, {"tensor", bin(le_floats({1}))}, {"shape", shape(1, 1)}}),
     error_code::bad_request, 7, "exactly one of 'inputs' or 'tensor'"},
    {"neither inputs nor tensor", predict({}), error_code::bad_request, 7,
     "exactly one of 'inputs' or 'tensor'"},
    {"shape without tensor", predict({{"inputs", rows({{1}})}, {"shape", shape(1, 1)}}),
     error_code::bad_request, 7, "'shape' goes with 'tensor'"},
    {"tensor without shape", predict({{"tensor", bin(le_floats({1}))}}), error_code::bad_request,
     7, "'tensor' needs 'shape'"},
    {"tensor shorter than its shape", predict({{"tensor", bin(le_floats({1, 2, 3}))}, {"shape", shape(2, 2)}}),
     error_code::bad_request, 7, "'tensor' holds 12 bytes; shape [2, 2] needs 16"},
    {"tensor longer than its shape", predict({{"tensor", bin(le_floats({1, 2, 3}))}, {"shape", shape(1, 2)}}),
     error_code::bad_request, 7, "needs 8"},
    {"tensor not a whole number of floats", predict({{"tensor", bin("abc")}, {"shape", shape(1, 1)}}),
     error_code::bad_request, 7, "'tensor' holds 3 bytes"},
    {"ragged rows", predict({{"inputs", rows({{1, 2}, {3}})}}), error_code::bad_request, 7,
     "inputs row 1 has 1 values; row 0 has 2"},
    {"a string in a row", predict({{"inputs", array({array({f32(1), str("x")})})}}),
     error_code::bad_request, 7, "inputs row 0 holds a string"},
    {"nil in a row", predict({{"inputs", array({array({f32(1)}), array({nil()})})}}),
     error_code::bad_request, 7, "inputs row 1 holds nil"},
    {"a bool in a row", predict({{"inputs", array({array({boolean(true)})})}}),
     error_code::bad_request, 7, "holds a boolean"},
    {"an array in a row", predict({{"inputs", array({array({array({f32(1)})})})}}),
     error_code::bad_request, 7, "array of rows, each an array of numbers"},
    {"empty inputs", predict({{"inputs", array({})}}), error_code::bad_request, 7,
     "'inputs' holds no values"},
    {"empty rows", predict({{"inputs", array({array({})})}}), error_code::bad_request, 7,
     "'inputs' holds no values"},
    // limits: the id survives, wherever it stands
    {"more rows than max_rows", predict({{"inputs", rows({{1}, {2}, {3}})}}), error_code::too_large,
     7, "3 rows; this server takes at most 2", small_limits()},
    {"more rows than max_rows, id last",
     request({{"op", str("predict")}, {"model", str("m")}, {"inputs", rows({{1}, {2}, {3}})}, {"id", u64(9)}}),
     error_code::too_large, 9, "3 rows", small_limits()},
    {"wider rows than max_columns", predict({{"inputs", rows({{1, 2, 3, 4}})}}),
     error_code::too_large, 7, "rows of 4 values; at most 3", small_limits()},
    {"a tensor of more rows than max_rows", predict({{"tensor", bin(le_floats({1, 2, 3}))}, {"shape", shape(3, 1)}}),
     error_code::too_large, 7, "3 rows", small_limits()},
    {"a tensor wider than max_columns", predict({{"tensor", bin(le_floats({1, 2, 3, 4}))}, {"shape", shape(1, 4)}}),
     error_code::too_large, 7, "rows of 4 values", small_limits()},
    {"more bytes than max_bytes",
     request({{"op", str("predict")}, {"model", str(std::string(300, 'm'))}, {"id", u64(11)}}),
     error_code::too_large, 11, "bytes; this server takes requests of at most 200", small_limits()},
    // hostile structure
    {"inputs nested too deeply", deep_inputs(100000), error_code::bad_request, 7, "array of rows"},
    {"an unknown key nested too deeply",
     raw("\x82\xa2id\x05\xa1x\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x01"), error_code::bad_request,
     5, "nested too deeply"},
    {"a map nested too deeply",
     raw("\x82\xa2id\x05\xa1x\x81\x01\x81\x01\x81\x01\x81\x01\x81\x01\x81\x01\x81\x01\x81\x01\x01"),
     error_code::bad_request, 5, "nested too deeply"},
    {"inputs claiming 2^32-1 rows in a few bytes",
     raw("\x84\xa2op\xa7predict\xa2id\x07\xa5model\xa1m\xa6inputs\xdd\xff\xff\xff\xff\x91\x01"),
     error_code::too_large, 7, "4294967295 rows"},
    {"a row claiming 2^32-1 values in a few bytes, under huge limits",
     raw("\x84\xa2op\xa7predict\xa2id\x07\xa5model\xa1m\xa6inputs\x91\xdd\xff\xff\xff\xff\x01\x02"),
     error_code::bad_request, 7, "malformed", huge_limits()},
    {"a row claiming 2^32-1 values in a few bytes",
     raw("\x84\xa2op\xa7predict\xa2id\x07\xa5model\xa1m\xa6inputs\x91\xdd\xff\xff\xff\xff\x01\x02"),
     error_code::too_large, 7, "rows of 4294967295 values"},
    {"a map claiming 2^32-1 entries", raw("\xdf\xff\xff\xff\xff\xa2id\x07"), error_code::bad_request,
     7, "malformed"},
    {"an unknown key's array claiming 2^32-1 items", raw("\x82\xa2id\x07\xa1x\xdd\xff\xff\xff\xff\x01"),
     error_code::bad_request, 7, "malformed"},
    {"a string claiming 2^32-1 bytes", raw("\x82\xa2id\x07\xa5model\xdb\xff\xff\xff\xff" "abc"),
     error_code::bad_request, 7, "malformed"},
    {"a tensor claiming 2^32-1 bytes",
     raw("\x85\xa2op\xa7predict\xa2id\x07\xa5model\xa1m\xa5shape\x92\x01\x01\xa6tensor\xc6\xff\xff\xff\xff\x00"),
     error_code::bad_request, 7, "malformed"},
    {"a tensor shape of 2^32-1 x 2^32-1 under huge limits",
     predict({{"shape", shape(0xffffffffu, 0xffffffffu)}, {"tensor", bin(le_floats({1}))}}),
     error_code::bad_request, 7, "'tensor' holds 4 bytes", huge_limits()},
  };
  return cs;
}

} // namespace

BOOST_AUTO_TEST_SUITE(protocol_decoder)

BOOST_AUTO_TEST_CASE(each_malformed_request_decodes_to_its_error_id_and_message) {
  for (const auto& c : error_cases()) {
    BOOST_TEST_CONTEXT("case: " << c.name) {
      wire::request out;
      std::optional<wire::request_error> error;
      BOOST_REQUIRE_NO_THROW(error = wire::decode_request(c.bytes, c.limits, out));
      BOOST_REQUIRE(error.has_value());
      BOOST_TEST_CONTEXT("message: " << error->message) {
        BOOST_TEST(wire::to_string(error->code) == wire::to_string(c.code));
        BOOST_TEST(error->id == c.id);
        BOOST_TEST(error->message.find(c.mentions) != std::string::npos,
                   "expected to mention: " << c.mentions);
      }
      // The value buffer is the only one the decoder sizes from a count it read: it must
      // never hold more than the message could (one byte per value).
      BOOST_TEST(out.values.capacity() <= std::max<std::size_t>(c.bytes.size(), 16));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_valid_request_is_an_error) {
  const auto bytes = predict({{"tensor", bin(le_floats({1, 2}))}, {"shape", shape(1, 2)}});
  wire::request out;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto error = wire::decode_request(std::string_view(bytes.data(), n), {}, out);
    BOOST_TEST(error.has_value(), "prefix of " << n << " bytes");
  }
}

// A map where a row or a number belongs must be refused: decoded as nothing, it would
// leave fewer values than rows x columns for the server to read.
BOOST_AUTO_TEST_CASE(maps_inside_inputs_are_bad_requests) {
  const std::vector<std::pair<const char*, std::string>> cases{
    {"a map as a row", predict({{"inputs", array({array({f32(1), f32(2)}), map({})})}})},
    {"a map inside a row", predict({{"inputs", array({array({f32(1), map({})})})}})},
    {"a map with int keys as a row",
     predict({{"inputs", array({array({f32(1), f32(2)}), map({{u64(3), u64(4)}})})}})},
    {"a map with int keys inside a row",
     predict({{"inputs", array({array({f32(1), map({{u64(2), u64(3)}})})})}})},
  };
  for (const auto& [name, bytes] : cases) {
    wire::request out;
    auto error = wire::decode_request(bytes, {}, out);
    BOOST_TEST_CONTEXT("case: " << name << "; decoded " << out.rows << " x " << out.columns
                                << " with " << out.values.size() << " values") {
      BOOST_TEST(error.has_value());
    }
  }
}

// rows x columns x 4 wraps 64 bits when max_rows x max_columns >= 2^62: shape [2^31, 2^31]
// would "need" 0 bytes and an empty tensor would match (then values.resize(2^62) throws
// out of decode_request, which promises never to throw). Unreachable with the default
// limits (4096 x 65536), refused all the same.
BOOST_AUTO_TEST_CASE(a_tensor_size_that_wraps_64_bits_is_refused) {
  const auto bytes = predict({{"shape", shape(1ull << 31, 1ull << 31)}, {"tensor", bin("")}});
  wire::request out;
  bool refused = false;
  try {
    refused = wire::decode_request(bytes, huge_limits(), out).has_value();
  } catch (...) {
  }
  BOOST_TEST(refused);
}

BOOST_AUTO_TEST_CASE(inputs_of_mixed_ints_and_floats_decode_row_major) {
  auto bytes = predict({{"inputs", array({array({u64(1), f32(2.5f), i64(-3)}),
                                          array({u64(255), f64(0.1), i64(-1)})})}});
  wire::request out;
  auto error = wire::decode_request(bytes, {}, out);
  BOOST_REQUIRE_MESSAGE(!error, (error ? error->message : ""));
  BOOST_TEST(static_cast<int>(out.op) == static_cast<int>(wire::request_op::predict));
  BOOST_TEST(out.id == 7u);
  BOOST_TEST(out.model == "m");
  BOOST_TEST(out.rows == 2u);
  BOOST_TEST(out.columns == 3u);
  BOOST_TEST(out.values == (std::vector<float>{1, 2.5f, -3, 255, 0.1f, -1}),
             boost::test_tools::per_element());
  BOOST_TEST(out.version == 0u);
  BOOST_TEST(!out.deadline_ms.has_value());
}

BOOST_AUTO_TEST_CASE(a_tensor_is_little_endian_float32_row_major) {
  const std::vector<float> values{1.0f, -2.5f, 0.0f, 3.25e-10f, 255.0f, -0.0f};
  // 1.0f is 00 00 80 3f in little-endian order
  BOOST_TEST(le_floats({1.0f}) == raw("\x00\x00\x80\x3f"));
  auto bytes = predict({{"shape", shape(2, 3)}, {"tensor", bin(le_floats(values))}});
  wire::request out;
  auto error = wire::decode_request(bytes, {}, out);
  BOOST_REQUIRE_MESSAGE(!error, (error ? error->message : ""));
  BOOST_TEST(out.rows == 2u);
  BOOST_TEST(out.columns == 3u);
  BOOST_REQUIRE(out.values.size() == values.size());
  BOOST_TEST(std::memcmp(out.values.data(), values.data(), values.size() * 4) == 0);
}

BOOST_AUTO_TEST_CASE(version_and_deadline_are_read_and_unknown_keys_ignored) {
  auto bytes = request({
    {"trace", map({{str("id"), u64(99)}, {str("inputs"), array({str("no")})}})},
    {"op", str("predict")},
    {"extra", array({nil(), boolean(false), bin("x"), array({map({})})})},
    {"id", u64(std::numeric_limits<std::uint64_t>::max())},
    {"model", str("fashion")},
    {"version", u64(3)},
    {"deadline_ms", u64(250)},
    {"inputs", rows({{0.5f}})},
  });
  wire::request out;
  auto error = wire::decode_request(bytes, {}, out);
  BOOST_REQUIRE_MESSAGE(!error, (error ? error->message : ""));
  BOOST_TEST(out.id == std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(out.model == "fashion");
  BOOST_TEST(out.version == 3u);
  BOOST_TEST(out.deadline_ms.value_or(0) == 250u);
  BOOST_TEST(out.values == std::vector<float>{0.5f}, boost::test_tools::per_element());

  // A non-string key names nothing and is skipped with its value.
  auto odd = encode(map({{str("op"), str("health")}, {u64(1), str("x")}, {str("id"), u64(2)}}));
  error = wire::decode_request(odd, {}, out);
  BOOST_TEST(!error);
  BOOST_TEST(out.id == 2u);
}

BOOST_AUTO_TEST_CASE(models_and_health_need_only_op_and_id) {
  wire::request out;
  BOOST_TEST(!wire::decode_request(request({{"op", str("models")}, {"id", u64(1)}}), {}, out));
  BOOST_TEST(static_cast<int>(out.op) == static_cast<int>(wire::request_op::models));
  BOOST_TEST(!wire::decode_request(request({{"id", u64(2)}, {"op", str("health")}}), {}, out));
  BOOST_TEST(static_cast<int>(out.op) == static_cast<int>(wire::request_op::health));
  BOOST_TEST(out.id == 2u);
}

BOOST_AUTO_TEST_CASE(a_request_reuses_the_value_buffer_and_resets_the_fields) {
  wire::request out;
  BOOST_TEST(!wire::decode_request(predict({{"version", u64(4)}, {"deadline_ms", u64(9)}, {"inputs", rows({{1, 2}})}}), {}, out));
  BOOST_TEST(!wire::decode_request(predict({{"inputs", rows({{3}})}}), {}, out));
  BOOST_TEST(out.version == 0u);
  BOOST_TEST(!out.deadline_ms.has_value());
  BOOST_TEST(out.values == std::vector<float>{3}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_reused_request_holds_exactly_each_messages_values_whatever_the_one_before_held) {
  // A tensor overwrites the buffer it is given without clearing it first; inputs after a
  // tensor, tensors of other shapes and requests without values must not mix.
  wire::request out;
  using floats = std::vector<float>;
  BOOST_TEST(!wire::decode_request(predict({{"tensor", bin(le_floats({1, 2, 3, 4, 5, 6}))}, {"shape", shape(2, 3)}}), {}, out));
  BOOST_TEST(out.values == (floats{1, 2, 3, 4, 5, 6}), boost::test_tools::per_element());
  BOOST_TEST(!wire::decode_request(predict({{"inputs", rows({{7, 8}})}}), {}, out));
  BOOST_TEST(out.values == (floats{7, 8}), boost::test_tools::per_element());
  BOOST_TEST(!wire::decode_request(predict({{"tensor", bin(le_floats({9, 10, 11}))}, {"shape", shape(1, 3)}}), {}, out));
  BOOST_TEST(out.values == (floats{9, 10, 11}), boost::test_tools::per_element());
  BOOST_TEST(!wire::decode_request(request({{"op", str("health")}, {"id", u64(1)}}), {}, out));
  BOOST_TEST(!wire::decode_request(predict({{"tensor", bin(le_floats({12, 13, 14, 15}))}, {"shape", shape(4, 1)}}), {}, out));
  BOOST_TEST(out.values == (floats{12, 13, 14, 15}), boost::test_tools::per_element());
  BOOST_TEST(!wire::decode_request(predict({{"inputs", rows({{16}, {17}})}}), {}, out));
  BOOST_TEST(out.values == (floats{16, 17}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(requests_at_the_limits_are_accepted) {
  wire::request out;
  const auto limits = small_limits();
  auto error = wire::decode_request(predict({{"inputs", rows({{1, 2, 3}, {4, 5, 6}})}}), limits, out);
  BOOST_TEST(!error);
  error = wire::decode_request(
    predict({{"tensor", bin(le_floats({1, 2, 3, 4, 5, 6}))}, {"shape", shape(2, 3)}}), limits, out);
  BOOST_TEST(!error);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- reply encoders ----------------------------------------------------------------

namespace {

/// The reply as a key -> object map; fails the test on anything but a map of string keys.
std::map<std::string, msgpack::object> unpack_map(const std::string& bytes,
                                                  msgpack::object_handle& handle) {
  std::size_t offset = 0;
  handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
  BOOST_TEST(offset == bytes.size());
  const auto& o = handle.get();
  BOOST_REQUIRE(o.type == msgpack::type::MAP);
  std::map<std::string, msgpack::object> keys;
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    BOOST_REQUIRE(kv.key.type == msgpack::type::STR);
    auto [it, fresh] = keys.emplace(kv.key.as<std::string>(), kv.val);
    BOOST_TEST(fresh, "duplicate key " << it->first);
  }
  return keys;
}

std::set<std::string> names(const std::map<std::string, msgpack::object>& m) {
  std::set<std::string> s;
  for (const auto& [k, v] : m)
    s.insert(k);
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(protocol_encoders)

BOOST_AUTO_TEST_CASE(an_error_reply_is_id_ok_false_and_code_and_message) {
  std::string out = "stale bytes";
  wire::encode_error_reply(12, error_code::unknown_model, "no model named 'x'", out);
  msgpack::object_handle h;
  auto m = unpack_map(out, h);
  BOOST_TEST(names(m) == (std::set<std::string>{"id", "ok", "error"}), boost::test_tools::per_element());
  BOOST_TEST(m["id"].type == msgpack::type::POSITIVE_INTEGER);
  BOOST_TEST(m["id"].as<std::uint64_t>() == 12u);
  BOOST_TEST(m["ok"].type == msgpack::type::BOOLEAN);
  BOOST_TEST(!m["ok"].as<bool>());
  msgpack::object_handle unused;
  BOOST_REQUIRE(m["error"].type == msgpack::type::MAP);
  std::map<std::string, std::string> e;
  m["error"].convert(e);
  BOOST_TEST(e.size() == 2u);
  BOOST_TEST(e["code"] == "unknown_model");
  BOOST_TEST(e["message"] == "no model named 'x'");
}

BOOST_AUTO_TEST_CASE(a_key_is_read_as_a_string_and_absent_unless_sent) {
  wire::request out;
  auto error = wire::decode_request(predict({{"key", str("store 7")}, {"inputs", rows({{1.0f}})}}), {}, out);
  BOOST_REQUIRE_MESSAGE(!error, (error ? error->message : ""));
  BOOST_TEST(out.key.value_or("") == "store 7");
  // decoding into the same request again: no key left over from the last one
  error = wire::decode_request(predict({{"inputs", rows({{1.0f}})}}), {}, out);
  BOOST_REQUIRE(!error);
  BOOST_TEST(!out.key.has_value());
  error = wire::decode_request(predict({{"key", u64(7)}, {"inputs", rows({{1.0f}})}}), {}, out);
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message == "'key' must be a string");
  BOOST_TEST(error->id == 7u);
  error = wire::decode_request(predict({{"key", array({str("a")})}, {"inputs", rows({{1.0f}})}}), {}, out);
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message == "'key' must be a string");
  error = wire::decode_request(predict({{"key", str(std::string(1025, 'k'))}, {"inputs", rows({{1.0f}})}}), {}, out);
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message == "'key' is longer than 1024 bytes");
  error = wire::decode_request(predict({{"key", str("a")}, {"key", str("b")}, {"inputs", rows({{1.0f}})}}), {}, out);
  BOOST_REQUIRE(error.has_value());
  BOOST_TEST(error->message == "duplicate key 'key'");
}

BOOST_AUTO_TEST_CASE(every_error_code_is_spelled_as_the_protocol_lists_it) {
  const std::vector<std::string> spelled{"bad_request", "unknown_model", "unknown_version",
                                         "shape_mismatch", "too_large", "overloaded",
                                         "deadline_exceeded", "internal", "unknown_key"};
  BOOST_REQUIRE(spelled.size() == static_cast<std::size_t>(wire::error_code_count));
  for (int c = 0; c < wire::error_code_count; ++c)
    BOOST_TEST(std::string(wire::to_string(static_cast<error_code>(c))) == spelled[c]);
}

BOOST_AUTO_TEST_CASE(a_health_reply_is_id_ok_and_status_serving) {
  std::string out;
  wire::encode_health_reply(0, out);
  msgpack::object_handle h;
  auto m = unpack_map(out, h);
  BOOST_TEST(names(m) == (std::set<std::string>{"id", "ok", "status"}), boost::test_tools::per_element());
  BOOST_TEST(m["ok"].as<bool>());
  BOOST_TEST(m["status"].type == msgpack::type::STR);
  BOOST_TEST(m["status"].as<std::string>() == "serving");
}

BOOST_AUTO_TEST_CASE(a_models_reply_lists_name_version_inputs_outputs) {
  std::string out;
  wire::encode_models_reply(3, {{"fashion", 3, 784, 10}, {"price", 1, 5, 1}}, out);
  msgpack::object_handle h;
  auto m = unpack_map(out, h);
  BOOST_TEST(names(m) == (std::set<std::string>{"id", "ok", "models"}), boost::test_tools::per_element());
  BOOST_REQUIRE(m["models"].type == msgpack::type::ARRAY);
  BOOST_REQUIRE(m["models"].via.array.size == 2u);
  const auto& first = m["models"].via.array.ptr[0];
  BOOST_REQUIRE(first.type == msgpack::type::MAP);
  std::map<std::string, msgpack::object> entry;
  for (std::uint32_t i = 0; i < first.via.map.size; ++i)
    entry.emplace(first.via.map.ptr[i].key.as<std::string>(), first.via.map.ptr[i].val);
  BOOST_TEST(names(entry) == (std::set<std::string>{"name", "version", "inputs", "outputs"}),
             boost::test_tools::per_element());
  BOOST_TEST(entry["name"].as<std::string>() == "fashion");
  BOOST_TEST(entry["version"].type == msgpack::type::POSITIVE_INTEGER);
  BOOST_TEST(entry["version"].as<std::uint64_t>() == 3u);
  BOOST_TEST(entry["inputs"].as<std::uint32_t>() == 784u);
  BOOST_TEST(entry["outputs"].as<std::uint32_t>() == 10u);
}

BOOST_AUTO_TEST_CASE(a_classifier_prediction_has_float32_outputs_and_int_labels) {
  const std::vector<float> outputs{0.125f, 0.875f, 0.75f, 0.25f};
  const std::vector<std::int32_t> labels{1, 0};
  std::string out;
  wire::encode_prediction_reply(5, "fashion", 3, outputs.data(), 2, 2, labels.data(), out);
  msgpack::object_handle h;
  auto m = unpack_map(out, h);
  BOOST_TEST(names(m) == (std::set<std::string>{"id", "ok", "model", "version", "outputs", "labels"}),
             boost::test_tools::per_element());
  BOOST_TEST(m["model"].as<std::string>() == "fashion");
  BOOST_TEST(m["version"].type == msgpack::type::POSITIVE_INTEGER);
  BOOST_TEST(m["version"].as<std::uint64_t>() == 3u);
  BOOST_REQUIRE(m["outputs"].type == msgpack::type::ARRAY);
  BOOST_REQUIRE(m["outputs"].via.array.size == 2u);
  for (std::uint32_t r = 0; r < 2; ++r) {
    const auto& row = m["outputs"].via.array.ptr[r];
    BOOST_REQUIRE(row.type == msgpack::type::ARRAY);
    BOOST_REQUIRE(row.via.array.size == 2u);
    for (std::uint32_t c = 0; c < 2; ++c) {
      BOOST_TEST(row.via.array.ptr[c].type == msgpack::type::FLOAT32);
      BOOST_TEST(row.via.array.ptr[c].as<float>() == outputs[r * 2 + c]);
    }
  }
  BOOST_REQUIRE(m["labels"].type == msgpack::type::ARRAY);
  BOOST_REQUIRE(m["labels"].via.array.size == 2u);
  for (std::uint32_t r = 0; r < 2; ++r) {
    BOOST_TEST(m["labels"].via.array.ptr[r].type == msgpack::type::POSITIVE_INTEGER);
    BOOST_TEST(m["labels"].via.array.ptr[r].as<std::int32_t>() == labels[r]);
  }
}

BOOST_AUTO_TEST_CASE(a_regressor_prediction_has_no_labels_key) {
  const float outputs[] = {2.5f};
  std::string out;
  wire::encode_prediction_reply(5, "price", 1, outputs, 1, 1, nullptr, out);
  msgpack::object_handle h;
  auto m = unpack_map(out, h);
  BOOST_TEST(names(m) == (std::set<std::string>{"id", "ok", "model", "version", "outputs"}),
             boost::test_tools::per_element());
}

// msgpack-cxx 4.1's packer::pack_float writes a float whose value is integral (0, 1, -0,
// 255) as a MessagePack integer; outputs must stay float32 (and -0 keep its sign).
BOOST_AUTO_TEST_CASE(integral_outputs_are_still_float32) {
  const float outputs[] = {0.0f, 1.0f, -0.0f};
  std::string out;
  wire::encode_prediction_reply(5, "fashion", 3, outputs, 1, 3, nullptr, out);
  msgpack::object_handle h;
  auto m = unpack_map(out, h);
  const auto& row = m["outputs"].via.array.ptr[0];
  for (std::uint32_t c = 0; c < 3; ++c)
    BOOST_TEST(row.via.array.ptr[c].type == msgpack::type::FLOAT32, "output " << c);
}

BOOST_AUTO_TEST_SUITE_END()
