#include "metrics/http_endpoint.hpp"
#include "tests/support/prometheus_text.hpp"

#include <boost/test/unit_test.hpp>

#include <httplib.h>

using namespace conveyor;

BOOST_AUTO_TEST_SUITE(http_endpoint)

BOOST_AUTO_TEST_CASE(serves_the_registry_on_slash_metrics_over_real_http) {
  metrics::registry r;
  r.counter_family("hits_total", "hits", {"path"}).with({"/a"}).add(5);
  metrics::http_endpoint endpoint(r);
  endpoint.start({"127.0.0.1", 0});
  BOOST_TEST(endpoint.port() > 0);
  httplib::Client client("127.0.0.1", endpoint.port());
  auto res = client.Get("/metrics");
  BOOST_REQUIRE(res);
  BOOST_TEST(res->status == 200);
  BOOST_TEST(res->get_header_value("Content-Type").find("version=0.0.4") != std::string::npos);
  auto parsed = test::parse_prometheus_text(res->body);
  BOOST_TEST(parsed.value("hits_total", {{"path", "/a"}}).value() == 5);
  auto other = client.Get("/");
  BOOST_REQUIRE(other);
  BOOST_TEST(other->status == 404);
  endpoint.stop();
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_a_clear_error_naming_the_address) {
  metrics::registry r;
  metrics::http_endpoint first(r);
  first.start({"127.0.0.1", 0});
  metrics::http_endpoint second(r);
  try {
    second.start({"127.0.0.1", first.port()});
    BOOST_FAIL("bound a port in use");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) == 0);
    BOOST_TEST(what.find("in use") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(listen_addresses_parse_host_and_port_or_say_what_is_wrong) {
  std::string why;
  auto a = metrics::parse_listen_address("127.0.0.1:9100", why);
  BOOST_REQUIRE(a);
  BOOST_TEST(a->host == "127.0.0.1");
  BOOST_TEST(a->port == 9100);
  auto v6 = metrics::parse_listen_address("[::1]:0", why);
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(!metrics::parse_listen_address("9100", why));
  BOOST_TEST(!metrics::parse_listen_address("host:99999", why));
  BOOST_TEST(why.find("99999") != std::string::npos);
  BOOST_TEST(!metrics::parse_listen_address("host:x", why));
}

BOOST_AUTO_TEST_SUITE_END()
