// The inference server with CurveZMQ: listed clients are served, anyone else's handshake
// is refused and gets no answer, while the listed ones keep working.
#include "serving/server.hpp"

#include "serving_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <zmq.h>

using namespace conveyor;
using namespace conveyor::serving;
using namespace conveyor::serving::testing;

namespace {

struct key_pair {
  std::string public_key, secret_key;
};

key_pair new_key_pair() {
  char pub[41], sec[41];
  BOOST_REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}

wire::curve_key raw(const std::string& z85) { return *wire::z85_decode_key(z85); }

struct curve_server {
  key_pair server_keys = new_key_pair();
  key_pair listed = new_key_pair();
  std::shared_ptr<model_catalog> catalog = std::make_shared<model_catalog>(std::string());
  std::unique_ptr<server> srv;
  zmq::context_t ctx;

  curve_server() {
    server_options o;
    o.endpoint = "tcp://127.0.0.1:*";
    o.curve = curve_server_keys{raw(server_keys.secret_key), {raw(listed.public_key)}};
    catalog->add("tiny", 1, encoded(tiny_classifier()));
    srv = std::make_unique<server>(o, catalog);
    srv->start();
  }
  curve_client_keys client(const key_pair& k) const {
    return {server_keys.public_key, k.public_key, k.secret_key};
  }
};

const std::string health = request_builder().str("op", "health").uint("id", 1).bytes();

} // namespace

BOOST_AUTO_TEST_SUITE(curve)

BOOST_AUTO_TEST_CASE(a_listed_client_is_served_over_curve) {
  curve_server s;
  peer p(s.ctx, s.srv->endpoint(), s.client(s.listed));
  auto r = p.call(predict_request(2, "tiny", {{1, 2, 3, 4}}));
  BOOST_TEST(r.ok);
  BOOST_TEST(p.call(health).status == "serving");
  BOOST_TEST(s.srv->stats().refused_handshakes == 0u);
}

BOOST_AUTO_TEST_CASE(an_unlisted_client_gets_no_answer_while_listed_clients_keep_working) {
  curve_server s;
  peer stranger(s.ctx, s.srv->endpoint(), s.client(new_key_pair()));
  peer plain(s.ctx, s.srv->endpoint()); // no CURVE at all
  stranger.send(health);
  plain.send(health);
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().refused_handshakes >= 1; }));
  peer friend_(s.ctx, s.srv->endpoint(), s.client(s.listed));
  for (std::uint64_t id = 10; id < 20; ++id) {
    auto r = friend_.call(request_builder().str("op", "health").uint("id", id).bytes());
    BOOST_TEST(r.id == id);
  }
  BOOST_TEST(!stranger.receive(std::chrono::milliseconds(200)));
  BOOST_TEST(!plain.receive(std::chrono::milliseconds(200)));
  BOOST_TEST(s.srv->stats().requests == 10u); // none of theirs reached the server
}

BOOST_AUTO_TEST_CASE(a_refused_key_is_reported_once_however_often_it_connects) {
  curve_server s;
  auto stranger_keys = new_key_pair();
  peer first_try(s.ctx, s.srv->endpoint(), s.client(stranger_keys));
  first_try.send(health);
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().refused_handshakes >= 1; }));
  auto first = s.srv->take_newly_refused();
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  BOOST_TEST(first.front() == stranger_keys.public_key);
  peer second_try(s.ctx, s.srv->endpoint(), s.client(stranger_keys));
  second_try.send(health);
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().refused_handshakes >= 2; }));
  BOOST_TEST(s.srv->take_newly_refused().empty());
}

BOOST_AUTO_TEST_SUITE_END()
