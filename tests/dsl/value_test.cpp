// Values print in the language's syntax, and their type names read well in messages.
#include "dsl/schema.hpp"
#include "dsl/value.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::dsl;

BOOST_AUTO_TEST_SUITE(values)

BOOST_AUTO_TEST_CASE(every_value_type_prints_in_language_syntax) {
  struct row {
    value v;
    std::string text;
    std::string type;
  };
  const row rows[] = {
    {true, "true", "boolean"},
    {false, "false", "boolean"},
    {42, "42", "integer"},
    {std::int64_t{-7}, "-7", "integer"},
    {0.5, "0.5", "float"},
    {1.0, "1.0", "float"},
    {0.001, "0.001", "float"},
    {1e-30, "1e-30", "float"},
    {0.00392156862, "0.00392156862", "float"},
    {"plain", "\"plain\"", "string"},
    {"q\"b\\n\nd$x", "\"q\\\"b\\\\n\\nd\\$x\"", "string"},
    {duration_value{500'000}, "500us", "duration"},
    {duration_value{200'000'000}, "200ms", "duration"},
    {duration_value{2'000'000'000}, "2s", "duration"},
    {duration_value{300'000'000'000}, "5m", "duration"},
    {duration_value{3'600'000'000'000}, "1h", "duration"},
    {duration_value{7}, "7ns", "duration"},
    {duration_value{0}, "0ns", "duration"},
    {size_value{64u << 10}, "64KiB", "size"},
    {size_value{512u << 20}, "512MiB", "size"},
    {size_value{2ull << 30}, "2GiB", "size"},
    {size_value{1000}, "1KB", "size"},
    {size_value{17}, "17B", "size"},
    {list_value{1, 2, 3}, "[1, 2, 3]", "list"},
    {list_value{"a", list_value{}}, "[\"a\", []]", "list"},
  };
  for (const auto& r : rows) {
    BOOST_TEST(to_source(r.v) == r.text);
    BOOST_TEST(type_name(r.v) == r.type);
  }
}

BOOST_AUTO_TEST_CASE(parameter_types_accept_what_the_schema_says) {
  BOOST_TEST(accepts(param_type::number, value{1}));
  BOOST_TEST(accepts(param_type::number, value{1.5}));
  BOOST_TEST(!accepts(param_type::integer, value{1.5}));
  BOOST_TEST(accepts(param_type::list_of_number, value{list_value{1, 2.5}}));
  BOOST_TEST(!accepts(param_type::list_of_integer, value{list_value{1, 2.5}}));
  BOOST_TEST(accepts(param_type::list_of_string, value{list_value{}}));
  BOOST_TEST(!accepts(param_type::string, value{3}));
  BOOST_TEST(accepts(param_type::any, value{list_value{true}}));
  BOOST_TEST(to_string(param_type::list_of_number) == "list of number");
}

BOOST_AUTO_TEST_SUITE_END()
