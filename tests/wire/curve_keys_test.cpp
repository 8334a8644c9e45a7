#include "wire/curve_keys.hpp"
#include "tests/support/scratch_files.hpp"

#include <boost/test/unit_test.hpp>

#include <zmq.h>

#include <sys/stat.h>

using namespace conveyor;

namespace {

/// A key pair from libzmq, in Z85.
std::pair<std::string, std::string> libzmq_keypair() {
  char pub[41], sec[41];
  BOOST_REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}

} // namespace

BOOST_AUTO_TEST_SUITE(curve_keys)

BOOST_AUTO_TEST_CASE(z85_decoding_agrees_with_libzmq_and_round_trips) {
  auto [pub, sec] = libzmq_keypair();
  auto key = wire::z85_decode_key(pub);
  BOOST_REQUIRE(key);
  std::array<unsigned char, 32> theirs{};
  BOOST_REQUIRE(zmq_z85_decode(theirs.data(), pub.c_str()) != nullptr);
  BOOST_TEST((*key == theirs));
  BOOST_TEST(wire::z85_encode_key(*key) == pub);
}

BOOST_AUTO_TEST_CASE(a_key_file_allows_comments_blank_lines_and_trailing_comments) {
  auto [a, unused1] = libzmq_keypair();
  auto [b, unused2] = libzmq_keypair();
  const std::string text = "# clients of the fraud service\n\n  " + a + "   # billing\r\n" + b +
                           "\n#" + "\n";
  auto keys = wire::parse_curve_key_file(text, "allowed.txt");
  BOOST_REQUIRE_MESSAGE(keys, keys.error);
  BOOST_REQUIRE(keys.value->size() == 2);
  BOOST_TEST(wire::z85_encode_key(keys.value->at(1)) == b);
}

BOOST_AUTO_TEST_CASE(a_malformed_line_is_an_error_naming_the_file_and_line) {
  auto [a, unused] = libzmq_keypair();
  auto short_key = wire::parse_curve_key_file(a + "\n" + a.substr(0, 39) + "\n", "keys.txt");
  BOOST_REQUIRE(!short_key);
  BOOST_TEST(short_key.error.find("keys.txt:2: ") == 0, short_key.error);
  auto bad_char = wire::parse_curve_key_file("\n" + a.substr(0, 39) + "~\n", "keys.txt");
  BOOST_TEST(bad_char.error.find("keys.txt:2: not a Z85 key") == 0, bad_char.error);
  auto overflow = wire::parse_curve_key_file(std::string(40, '#'), "keys.txt");
  BOOST_TEST(overflow.error.find("keys.txt:1: not a Z85 key") == 0, overflow.error);
  auto trailing = wire::parse_curve_key_file(a + " extra\n", "keys.txt");
  BOOST_TEST(trailing.error.find("keys.txt:1: text after the key") == 0, trailing.error);
}

BOOST_AUTO_TEST_CASE(loading_names_a_missing_file_and_wants_one_key_where_one_is_due) {
  test::temp_dir dir;
  auto missing = wire::load_curve_key(dir.file("nope.key"), "secret key");
  BOOST_TEST(missing.error.find("secret key: cannot read '" + dir.file("nope.key") + "'") == 0,
             missing.error);
  auto [a, b] = libzmq_keypair();
  test::write_file(dir.file("two.key"), a + "\n" + b + "\n");
  auto two = wire::load_curve_key(dir.file("two.key"), "secret key");
  BOOST_TEST(two.error.find("holds 2 keys") != std::string::npos, two.error);
  test::write_file(dir.file("empty.txt"), "# nobody yet\n");
  auto empty = wire::load_curve_key_list(dir.file("empty.txt"));
  BOOST_TEST(empty.error.find("holds no key") != std::string::npos, empty.error);
}

BOOST_AUTO_TEST_SUITE_END()
