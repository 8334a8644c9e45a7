#include "runtime/restart_tracker.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono;
using conveyor::restart_tracker;

BOOST_AUTO_TEST_SUITE(restart_tracker_suite)

BOOST_AUTO_TEST_CASE(restarts_are_allowed_up_to_the_limit_within_the_window) {
  restart_tracker t{3, seconds(60), milliseconds(100)};
  auto now = restart_tracker::clock::now();
  BOOST_TEST(t.on_failure(now).allowed);
  BOOST_TEST(t.on_failure(now + seconds(1)).allowed);
  BOOST_TEST(t.on_failure(now + seconds(2)).allowed);
  BOOST_TEST(!t.on_failure(now + seconds(3)).allowed);
  BOOST_TEST(t.total() == 3);
}

BOOST_AUTO_TEST_CASE(the_backoff_doubles_with_each_restart_in_the_window_up_to_the_cap) {
  restart_tracker t{10, seconds(60), milliseconds(100), milliseconds(500)};
  auto now = restart_tracker::clock::now();
  BOOST_TEST(t.on_failure(now).delay.count() == nanoseconds(milliseconds(100)).count());
  BOOST_TEST(t.on_failure(now).delay.count() == nanoseconds(milliseconds(200)).count());
  BOOST_TEST(t.on_failure(now).delay.count() == nanoseconds(milliseconds(400)).count());
  BOOST_TEST(t.on_failure(now).delay.count() == nanoseconds(milliseconds(500)).count());
}

BOOST_AUTO_TEST_CASE(failures_older_than_the_window_no_longer_count) {
  restart_tracker t{1, seconds(10), milliseconds(100)};
  auto now = restart_tracker::clock::now();
  BOOST_TEST(t.on_failure(now).allowed);
  BOOST_TEST(!t.on_failure(now + seconds(5)).allowed);
  auto later = t.on_failure(now + seconds(11));
  BOOST_TEST(later.allowed);
  BOOST_TEST(later.delay.count() == nanoseconds(milliseconds(100)).count());
}

BOOST_AUTO_TEST_CASE(a_limit_of_zero_never_restarts) {
  restart_tracker t{0, seconds(10), milliseconds(100)};
  BOOST_TEST(!t.on_failure(restart_tracker::clock::now()).allowed);
}

BOOST_AUTO_TEST_SUITE_END()
