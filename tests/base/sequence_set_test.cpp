// base/sequence_set.hpp: a watermark and the numbers above it, kept so that everything
// at or below the watermark is in the set and nothing in `above` is at or below it.
#include "base/sequence_set.hpp"

#include <boost/test/unit_test.hpp>

using conveyor::sequence_set;

BOOST_AUTO_TEST_SUITE(sequence_set_suite)

BOOST_AUTO_TEST_CASE(numbers_in_order_move_the_watermark_and_stragglers_wait_above_it) {
  sequence_set s;
  BOOST_TEST(s.insert(1));
  BOOST_TEST(s.insert(3));
  BOOST_TEST(!s.insert(3)); // already there
  BOOST_TEST(s.watermark == 1u);
  BOOST_TEST(s.contains(3));
  BOOST_TEST(!s.contains(2));
  BOOST_TEST(s.insert(2)); // closes the gap: 3 joins the watermark
  BOOST_TEST(s.watermark == 3u);
  BOOST_TEST(s.above.empty());
}

BOOST_AUTO_TEST_CASE(a_run_counts_only_its_new_numbers) {
  sequence_set s;
  BOOST_TEST(s.insert_run(1, 10) == 10u); // in order: the watermark alone
  BOOST_TEST(s.watermark == 10u);
  BOOST_TEST(s.insert(13));
  BOOST_TEST(s.insert_run(8, 6) == 2u); // 8 to 13: 11 and 12 are new
  BOOST_TEST(s.watermark == 13u);
  BOOST_TEST(s.above.empty());
}

BOOST_AUTO_TEST_CASE(advancing_the_watermark_drops_what_it_covers_and_takes_what_follows) {
  sequence_set s;
  s.insert(3);
  s.insert(5);
  s.insert(6);
  s.insert(9);
  s.advance_to(4); // 3 is covered; 5 and 6 follow on
  BOOST_TEST(s.watermark == 6u);
  BOOST_TEST(s.above.size() == 1u);
  BOOST_TEST(s.contains(9));
  s.advance_to(2); // below the watermark: nothing changes
  BOOST_TEST(s.watermark == 6u);
  BOOST_TEST(s.insert(7));
  BOOST_TEST(s.insert(8)); // then 9 joins too
  BOOST_TEST(s.watermark == 9u);
  BOOST_TEST(s.above.empty());
}

BOOST_AUTO_TEST_SUITE_END()
