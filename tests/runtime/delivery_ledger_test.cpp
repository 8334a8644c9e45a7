#include "runtime/delivery_ledger.hpp"

#include <boost/test/unit_test.hpp>

using conveyor::delivery_ledger;
using conveyor::source_position;

namespace {

source_position at(std::uint64_t row) {
  return source_position{row * 10, row + 1, row};
}

} // namespace

BOOST_AUTO_TEST_SUITE(delivery_ledger_suite)

BOOST_AUTO_TEST_CASE(the_watermark_advances_only_over_contiguous_acknowledgements) {
  delivery_ledger l;
  l.add_route("read", "sink");
  BOOST_TEST(l.ack("sink", "read", 1, at(100)));
  BOOST_TEST(l.ack("sink", "read", 3, at(300)));
  BOOST_TEST(l.resume_point_of("read").last_sequence == 1u);
  BOOST_TEST(l.resume_point_of("read").position.row == 100u);
  BOOST_TEST(l.ack("sink", "read", 2, at(200)));
  BOOST_TEST(l.resume_point_of("read").last_sequence == 3u);
  BOOST_TEST(l.resume_point_of("read").position.row == 300u);
}

BOOST_AUTO_TEST_CASE(a_source_resumes_from_its_slowest_terminal) {
  delivery_ledger l;
  l.add_route("read", "fast");
  l.add_route("read", "slow");
  for (std::uint64_t s = 1; s <= 5; ++s)
    l.ack("fast", "read", s, at(s));
  l.ack("slow", "read", 1, at(1));
  l.ack("slow", "read", 2, at(2));
  BOOST_TEST(l.resume_point_of("read").last_sequence == 2u);
  BOOST_TEST(l.resume_point_of("read").position.row == 2u);
}

BOOST_AUTO_TEST_CASE(duplicates_and_unknown_routes_are_refused) {
  delivery_ledger l;
  l.add_route("read", "sink");
  BOOST_TEST(l.ack("sink", "read", 1, at(1)));
  BOOST_TEST(!l.ack("sink", "read", 1, at(1)));
  BOOST_TEST(l.ack("sink", "read", 3, at(3)));
  BOOST_TEST(!l.ack("sink", "read", 3, at(3)));
  BOOST_TEST(!l.ack("other", "read", 2, at(2)));
  BOOST_TEST(!l.ack("sink", "nobody", 2, at(2)));
}

BOOST_AUTO_TEST_CASE(a_run_is_complete_only_when_every_source_ended_and_every_route_caught_up) {
  delivery_ledger l;
  l.add_route("a", "sink");
  l.add_route("b", "sink");
  l.add_source("c"); // a source that reaches no terminal
  BOOST_TEST(!l.complete());
  l.ack("sink", "a", 1, at(1));
  l.set_final("a", 1);
  l.set_final("b", 0);
  BOOST_TEST(!l.complete()); // c has not ended
  l.set_final("c", 7);
  BOOST_TEST(l.complete());
  l.clear_final("a");
  BOOST_TEST(!l.complete());
  l.set_final("a", 2);
  BOOST_TEST(!l.complete());
  l.ack("sink", "a", 2, at(2));
  BOOST_TEST(l.complete());
}

BOOST_AUTO_TEST_CASE(delivered_to_lists_the_watermark_and_the_sequences_above_it) {
  delivery_ledger l;
  l.add_route("a", "sink");
  l.ack("sink", "a", 1, at(1));
  l.ack("sink", "a", 4, at(4));
  l.ack("sink", "a", 6, at(6));
  auto d = l.delivered_to("sink");
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST(d[0].source == "a");
  BOOST_TEST(d[0].watermark == 1u);
  BOOST_TEST((d[0].above == std::vector<std::uint64_t>{4, 6}));
  BOOST_TEST(l.delivered_to("elsewhere").empty());
}

BOOST_AUTO_TEST_CASE(a_run_acknowledges_every_batch_in_it_and_the_watermark_stops_at_its_end) {
  delivery_ledger l;
  l.add_route("read", "sink");
  BOOST_TEST(l.ack("sink", "read", 1, at(4), 4)); // 1..4
  BOOST_TEST(l.resume_point_of("read").last_sequence == 4u);
  BOOST_TEST(l.resume_point_of("read").position.row == 4u);
  BOOST_TEST(l.ack("sink", "read", 9, at(12), 4)); // 9..12, above a gap
  BOOST_TEST(l.ack("sink", "read", 6, at(7), 2));  // 6..7, still a gap at 5 and 8
  BOOST_TEST(l.resume_point_of("read").last_sequence == 4u);
  auto d = l.delivered_to("sink");
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST((d[0].above == std::vector<std::uint64_t>{6, 7, 9, 10, 11, 12}));
  BOOST_TEST(l.ack("sink", "read", 8, at(8))); // joins 6..7 and 9..12
  BOOST_TEST((l.delivered_to("sink")[0].above ==
              std::vector<std::uint64_t>{6, 7, 8, 9, 10, 11, 12}));
  BOOST_TEST(l.ack("sink", "read", 5, at(5)));
  BOOST_TEST(l.resume_point_of("read").last_sequence == 12u);
  BOOST_TEST(l.resume_point_of("read").position.row == 12u); // the end of the joined run
  BOOST_TEST(l.delivered_to("sink")[0].above.empty());
}

BOOST_AUTO_TEST_CASE(runs_acknowledged_again_are_refused_and_overlapping_ones_count_what_is_new) {
  delivery_ledger l;
  l.add_route("read", "sink");
  BOOST_TEST(l.ack("sink", "read", 1, at(3), 3));   // 1..3
  BOOST_TEST(!l.ack("sink", "read", 2, at(3), 2));  // 2..3: below the watermark
  BOOST_TEST(l.ack("sink", "read", 10, at(20), 11)); // 10..20
  BOOST_TEST(!l.ack("sink", "read", 12, at(15), 4)); // inside 10..20
  BOOST_TEST(!l.ack("sink", "read", 10, at(20), 11));
  BOOST_TEST(l.ack("sink", "read", 18, at(25), 8)); // 18..25 reaches past 20
  BOOST_TEST(l.ack("sink", "read", 2, at(9), 8));   // 2..9: joins the watermark to 10..25
  BOOST_TEST(l.resume_point_of("read").last_sequence == 25u);
  BOOST_TEST(l.resume_point_of("read").position.row == 25u);
  BOOST_TEST(!l.ack("sink", "read", 7, at(7), 0)); // an empty run is nothing
}

BOOST_AUTO_TEST_CASE(two_terminals_with_runs_of_different_lengths_resume_at_the_slower_end) {
  delivery_ledger l;
  l.add_route("read", "fast");
  l.add_route("read", "slow");
  l.ack("fast", "read", 1, at(10), 10);
  l.ack("slow", "read", 1, at(3), 3);
  l.ack("slow", "read", 4, at(6), 3);
  BOOST_TEST(l.resume_point_of("read").last_sequence == 6u);
  BOOST_TEST(l.resume_point_of("read").position.row == 6u);
}

BOOST_AUTO_TEST_SUITE_END()
