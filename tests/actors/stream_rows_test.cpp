// The MessagePack row decoder and batch builder that nats_source and zmq_source share.
#include "actors/stream_rows.hpp"
#include "tests/support/nats_test_server.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>

using namespace conveyor;
using conveyor::test::pack_row;
using conveyor::test::row_value;

namespace {

std::shared_ptr<const table_schema> schema() {
  stream_columns c;
  c.columns = {"id", "city", "y"};
  c.categorical = {"city"};
  c.label = "y";
  return c.schema();
}

std::string pack_with_extra(const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& f) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  f(p);
  return std::string(b.data(), b.size());
}

} // namespace

BOOST_AUTO_TEST_SUITE(stream_rows)

BOOST_AUTO_TEST_CASE(a_map_with_every_column_decodes_into_one_row_and_nil_is_missing) {
  msgpack_row_decoder d(schema());
  auto bytes = pack_row({{"id", 7.0}, {"city", std::string("Oslo")}, {"y", row_value{}},
                         {"ignored", std::string("x")}});
  BOOST_TEST(d.decode(bytes.data(), bytes.size()) == "");
  BOOST_TEST(d.floats()[0] == 7.0f);
  BOOST_TEST(std::isnan(d.floats()[1]));
  BOOST_TEST(d.categories()[0].value == "Oslo");
  BOOST_TEST(!d.categories()[0].missing);
}

BOOST_AUTO_TEST_CASE(integers_of_either_sign_and_floats_are_numbers) {
  msgpack_row_decoder d(schema());
  auto bytes = pack_with_extra([](auto& p) {
    p.pack_map(3);
    p.pack(std::string("id"));
    p.pack(-3);
    p.pack(std::string("y"));
    p.pack(1.5f);
    p.pack(std::string("city"));
    p.pack_nil();
  });
  BOOST_TEST(d.decode(bytes.data(), bytes.size()) == "");
  BOOST_TEST(d.floats()[0] == -3.0f);
  BOOST_TEST(d.floats()[1] == 1.5f);
  BOOST_TEST(d.categories()[0].missing);
}

BOOST_AUTO_TEST_CASE(wrong_types_missing_fields_and_non_maps_are_errors_that_name_the_field) {
  msgpack_row_decoder d(schema());
  auto decode = [&](const std::string& bytes) { return d.decode(bytes.data(), bytes.size()); };
  BOOST_TEST(decode(pack_row({{"id", std::string("seven")}, {"city", std::string("a")}, {"y", 1.0}})) ==
             "field 'id': expected a number, got a string");
  BOOST_TEST(decode(pack_row({{"id", 1.0}, {"city", 2.5}, {"y", 1.0}})) ==
             "field 'city': expected a string, got a float");
  BOOST_TEST(decode(pack_row({{"id", 1.0}, {"city", std::string("a")}})) == "no field 'y'");
  BOOST_TEST(decode(pack_with_extra([](auto& p) { p.pack(std::vector<int>{1, 2}); })) ==
             "expected a MessagePack map of column -> value, got an array");
  BOOST_TEST(decode(pack_with_extra([](auto& p) {
               p.pack_map(1);
               p.pack(1);
               p.pack(2);
             })) == "key 1 is an integer, not a string");
  BOOST_TEST(decode("") == "empty message (expected a MessagePack map)");
  BOOST_TEST(decode("\x83\xa2id") .find("not valid MessagePack") == 0u);
  auto good = pack_row({{"id", 1.0}, {"city", std::string("a")}, {"y", 1.0}});
  BOOST_TEST(decode(good + "x") == "1 byte(s) after the MessagePack value");
  BOOST_TEST(decode(pack_with_extra([](auto& p) {
               p.pack_map(4);
               for (auto k : {"id", "id", "city", "y"}) {
                 p.pack(std::string(k));
                 p.pack(k == std::string("city") ? 0 : 1);
               }
             })) == "field 'id' appears twice");
}

BOOST_AUTO_TEST_CASE(a_declared_size_larger_than_the_message_is_refused_without_allocating) {
  msgpack_row_decoder d(schema());
  std::string huge_map = "\xdf\xff\xff\xff\xff"; // map32 with 4 billion pairs, no bytes
  BOOST_TEST(d.decode(huge_map.data(), huge_map.size()).find("not valid MessagePack") == 0u);
}

BOOST_AUTO_TEST_CASE(values_nested_deeper_than_the_limit_are_refused_even_in_ignored_keys) {
  msgpack_row_decoder d(schema());
  auto row = [](int depth) {
    return pack_with_extra([depth](auto& p) {
      p.pack_map(4);
      p.pack(std::string("id"));
      p.pack(1);
      p.pack(std::string("city"));
      p.pack(std::string("a"));
      p.pack(std::string("y"));
      p.pack(0);
      p.pack(std::string("ignored"));
      for (int i = 0; i < depth; ++i)
        p.pack_array(1);
      p.pack(0);
    });
  };
  BOOST_TEST(d.decode(row(6).data(), row(6).size()) == "");
  BOOST_TEST(d.decode(row(9).data(), row(9).size()).find("not valid MessagePack") == 0u);
}

BOOST_AUTO_TEST_CASE(the_builder_makes_a_columnar_batch_with_per_batch_dictionaries) {
  msgpack_row_decoder d(schema());
  row_batch_builder b(schema());
  for (auto [id, city] : std::vector<std::pair<double, std::string>>{{1, "a"}, {2, "b"}, {3, "a"}}) {
    auto bytes = pack_row({{"id", id}, {"city", city}, {"y", id * 10}});
    BOOST_TEST_REQUIRE(d.decode(bytes.data(), bytes.size()) == "");
    b.add(d);
  }
  auto out = b.take();
  BOOST_TEST(out.rows == 3u);
  BOOST_TEST(out.floats == (std::vector<float>{1, 2, 3, 10, 20, 30}));
  BOOST_TEST(out.categoricals[0].dictionary == (std::vector<std::string>{"a", "b"}));
  BOOST_TEST(out.categoricals[0].codes == (std::vector<std::int32_t>{0, 1, 0}));
  BOOST_TEST(b.take().rows == 0u);
}

BOOST_AUTO_TEST_CASE(columns_must_be_listed_once_and_name_the_label_and_categorical_ones) {
  auto params = [](std::vector<std::string> cols, std::vector<std::string> cat, std::string label) {
    dsl::list_value c;
    for (auto& s : cols)
      c.push_back(dsl::value{s});
    dsl::list_value k;
    for (auto& s : cat)
      k.push_back(dsl::value{s});
    return step_params({{"columns", dsl::value{c}}, {"categorical", dsl::value{k}},
                        {"label", dsl::value{label}}});
  };
  BOOST_CHECK_THROW(stream_columns::from(params({}, {}, ""), "k"), step_failure);
  BOOST_CHECK_THROW(stream_columns::from(params({"a", "a"}, {}, ""), "k"), step_failure);
  BOOST_CHECK_THROW(stream_columns::from(params({"a"}, {"b"}, ""), "k"), step_failure);
  BOOST_CHECK_THROW(stream_columns::from(params({"a"}, {}, "y"), "k"), step_failure);
  BOOST_CHECK_THROW(stream_columns::from(params({"a"}, {"a"}, "a"), "k"), step_failure);
  BOOST_CHECK_NO_THROW(stream_columns::from(params({"a", "b"}, {"b"}, "a"), "k"));
}

BOOST_AUTO_TEST_SUITE_END()
