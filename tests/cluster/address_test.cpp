#include "cluster/address.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::cluster;

BOOST_AUTO_TEST_SUITE(addresses)

BOOST_AUTO_TEST_CASE(host_and_port_are_read_and_written_back_the_same) {
  auto a = parse_address("127.0.0.1:7701");
  BOOST_TEST_REQUIRE(bool(a));
  BOOST_TEST(a.value->host == "127.0.0.1");
  BOOST_TEST(a.value->port == 7701);
  BOOST_TEST(to_string(*a.value) == "127.0.0.1:7701");
  auto v6 = parse_address("[::1]:80");
  BOOST_TEST_REQUIRE(bool(v6));
  BOOST_TEST(v6.value->host == "::1");
  BOOST_TEST(to_string(*v6.value) == "[::1]:80");
}

BOOST_AUTO_TEST_CASE(a_missing_or_bad_port_or_host_is_refused_with_the_text) {
  for (const char* bad : {"localhost", "host:", ":7701", "h:x1", "h:70000", "h:-1", "h:0"}) {
    auto a = parse_address(bad);
    BOOST_TEST(!a, bad);
    BOOST_TEST(a.error.find(std::string("'") + bad + "'") != std::string::npos, a.error);
  }
}

BOOST_AUTO_TEST_CASE(port_zero_is_allowed_only_where_any_free_port_will_do) {
  BOOST_TEST(!parse_address("127.0.0.1:0"));
  auto any = parse_address("127.0.0.1:0", true);
  BOOST_TEST_REQUIRE(bool(any));
  BOOST_TEST(any.value->port == 0);
}

BOOST_AUTO_TEST_SUITE_END()
