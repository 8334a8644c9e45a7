// The ZAP handler spoken to directly over inproc, as libzmq speaks to it during a
// CurveZMQ handshake: listed keys admitted, others refused and counted, each refused key
// handed out once and at most max_remembered of them.
#include "serving/zap_handler.hpp"

#include <boost/test/unit_test.hpp>

#include <zmq.hpp>

#include <string>
#include <vector>

using namespace conveyor;
using namespace conveyor::serving;

namespace {

wire::curve_key key_number(std::uint32_t n) {
  wire::curve_key k{};
  for (int i = 0; i < 4; ++i)
    k[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  return k;
}

/// Sends one ZAP request and returns the reply's status code ("200", "400", "500").
std::string ask(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    s.send(zmq::buffer(frames[i]),
           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  std::vector<std::string> reply;
  zmq::message_t part;
  do {
    if (!s.recv(part, zmq::recv_flags::none))
      throw std::runtime_error("no reply from the ZAP handler");
    reply.push_back(part.to_string());
  } while (part.more());
  BOOST_REQUIRE_EQUAL(reply.size(), 6u);
  BOOST_TEST(reply[0] == "1.0");
  return reply[2];
}

std::string curve_request(const wire::curve_key& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

std::vector<std::string> frames_for(const wire::curve_key& k) {
  return {"1.0", "7", "conveyor", "127.0.0.1", "", "CURVE", curve_request(k)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(zap_handler_suite)

BOOST_AUTO_TEST_CASE(listed_keys_are_admitted_others_refused_and_each_refused_key_reported_once) {
  zmq::context_t ctx;
  zap_handler zap(ctx, {key_number(1)});
  zap.start();
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::rcvtimeo, 20000);
  req.connect("inproc://zeromq.zap.01");
  BOOST_TEST(ask(req, frames_for(key_number(1))) == "200");
  BOOST_TEST(ask(req, frames_for(key_number(2))) == "400");
  BOOST_TEST(ask(req, frames_for(key_number(2))) == "400");
  BOOST_TEST(ask(req, {"1.0", "8", "conveyor", "127.0.0.1", "", "NULL", ""}) == "400");
  BOOST_TEST(ask(req, {"2.0", "9"}) == "500"); // not ZAP 1.0: refused as malformed
  BOOST_TEST(zap.refused() == 3u);
  const auto reported = zap.take_newly_refused();
  BOOST_REQUIRE_EQUAL(reported.size(), 1u);
  BOOST_TEST(reported.front() == wire::z85_encode_key(key_number(2)));
  BOOST_TEST(zap.take_newly_refused().empty());
  req.close();
  zap.stop();
}

BOOST_AUTO_TEST_CASE(at_most_max_remembered_refused_keys_are_reported_however_many_try) {
  zmq::context_t ctx;
  zap_handler zap(ctx, {key_number(0)});
  zap.start();
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::rcvtimeo, 20000);
  req.connect("inproc://zeromq.zap.01");
  const std::uint32_t strangers = zap_handler::max_remembered + 100;
  for (std::uint32_t n = 1; n <= strangers; ++n)
    BOOST_REQUIRE(ask(req, frames_for(key_number(n))) == "400");
  BOOST_TEST(zap.refused() == strangers);
  BOOST_TEST(zap.take_newly_refused().size() == zap_handler::max_remembered);
  BOOST_TEST(ask(req, frames_for(key_number(strangers + 1))) == "400");
  BOOST_TEST(zap.take_newly_refused().empty());
  req.close();
  zap.stop();
}

BOOST_AUTO_TEST_SUITE_END()
