#include "actors/counter.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

BOOST_AUTO_TEST_SUITE(counter_suite)

BOOST_AUTO_TEST_CASE(counts_rows_and_batches_logs_every_n_rows_and_the_total) {
  fake_context ctx;
  counter c({10});
  c.open(ctx);
  collector out;
  for (int i = 0; i < 5; ++i)
    c.consume(0, make_batch({{"x", {1, 2, 3, 4}}}), out);
  c.finish(out);
  BOOST_TEST(c.rows() == 20u);
  BOOST_TEST(c.batches() == 5u);
  BOOST_REQUIRE_EQUAL(ctx.info.size(), 3u); // at 12 and 20 rows, then the total
  BOOST_TEST(ctx.info[0] == "12 rows in 3 batches");
  BOOST_TEST(ctx.info[2] == "total: 20 rows in 5 batches");
  c.finish(out); // again after a replay: same totals
  BOOST_TEST(ctx.info.back() == "total: 20 rows in 5 batches");
}

BOOST_AUTO_TEST_CASE(a_restarted_counter_keeps_its_counts) {
  fake_context ctx;
  {
    counter c({0});
    c.open(ctx);
    push(c, {make_batch({{"x", {1, 2}}})}, false);
  }
  counter c2({0});
  c2.open(ctx);
  push(c2, {make_batch({{"x", {1, 2, 3}}})});
  BOOST_TEST(c2.rows() == 5u);
  BOOST_TEST(c2.batches() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
