#include "data/preprocessing_codec.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace conveyor;

BOOST_AUTO_TEST_SUITE(preprocessing_codec_suite)

// Found by fuzz_data_frame (a frame from another node carries a batch's preprocessing):
// msgpack-c allocates a map's or array's declared entries before reading them, so a
// header declaring 2^32 - 1 entries in a few bytes asked for 128 GiB.
BOOST_AUTO_TEST_CASE(a_declared_count_beyond_the_bytes_is_refused_without_allocating_it) {
  for (const char* header : {"\xdf\xff\xff\xff\xff", "\xdd\xff\xff\xff\xff"}) { // map32, array32
    std::string bytes = std::string("\x92\x01\x91", 3) + header; // [1, [<huge>]]
    // Refused by the decoder's bounds (a size overflow), not by the allocator running out.
    BOOST_CHECK_EXCEPTION(decode_preprocessing(bytes), std::invalid_argument,
                          [](const std::invalid_argument& e) {
                            return std::string(e.what()).find("size overflow") !=
                                   std::string::npos;
                          });
  }
}

BOOST_AUTO_TEST_SUITE_END()
