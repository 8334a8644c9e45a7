// peer_message on the wire: its bytes survive CAF's binary serialization (what a peer on
// another node receives), an empty payload included.
#include "runtime/messages.hpp"

#include <boost/test/unit_test.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

using namespace conveyor;

namespace {

peer_message round_trip(const peer_message& out) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto copy = out;
  BOOST_TEST_REQUIRE(!sink(copy));
  peer_message in;
  caf::binary_deserializer source{nullptr, buf};
  BOOST_TEST_REQUIRE(!source(in));
  return in;
}

} // namespace

BOOST_AUTO_TEST_SUITE(peer_message_wire)

BOOST_AUTO_TEST_CASE(a_peer_message_crosses_the_wire_with_its_bytes) {
  const std::string payload("grad\0ients\xff", 11);
  auto in = round_trip(peer_message{1, 7, std::make_shared<const std::string>(payload)});
  BOOST_TEST(in.from_replica == 1);
  BOOST_TEST(in.tag == 7u);
  BOOST_TEST_REQUIRE(in.bytes != nullptr);
  BOOST_TEST(*in.bytes == payload);
  auto empty = round_trip(peer_message{0, 1, nullptr});
  BOOST_TEST_REQUIRE(empty.bytes != nullptr);
  BOOST_TEST(empty.bytes->empty());
}

BOOST_AUTO_TEST_SUITE_END()
