// runtime/batch_counts.hpp: a stream of equal batches is reported as runs, and runs count
// each batch once, with replays (whole or overlapping) counted apart.
#include "runtime/batch_counts.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

handled_batch in(std::uint64_t sequence, std::uint64_t rows = 10, std::uint64_t rejected = 0) {
  return handled_batch{false, 0, "src", sequence, rows, rows * 4, rejected};
}

step_stats report(std::vector<handled_batch> handled) {
  step_stats s;
  s.instance = s.step = s.scope = "sink";
  s.handled = std::move(handled);
  return s;
}

} // namespace

BOOST_AUTO_TEST_SUITE(batch_counts_suite)

BOOST_AUTO_TEST_CASE(consecutive_equal_batches_are_reported_as_one_run) {
  std::vector<handled_batch> list;
  for (std::uint64_t seq = 1; seq <= 5; ++seq)
    append_handled(list, in(seq));
  append_handled(list, in(6, 7));    // other rows: a new entry
  append_handled(list, in(8, 7));    // a gap: a new entry
  append_handled(list, in(9, 7, 1)); // rejected rows: its own entry
  append_handled(list, in(10, 7));
  BOOST_TEST_REQUIRE(list.size() == 5u);
  BOOST_TEST(list[0].sequence == 1u);
  BOOST_TEST(list[0].count == 5u);
  BOOST_TEST(list[1].count == 1u);
  BOOST_TEST(list[2].sequence == 8u);
  BOOST_TEST(list[3].rejected == 1u);
  BOOST_TEST(list[4].sequence == 10u);
}

BOOST_AUTO_TEST_CASE(a_run_counts_each_batch_once_and_an_overlapping_replay_apart) {
  batch_counts counts;
  auto run = in(1);
  run.count = 100;
  counts.add(report({run}));
  auto replay = in(91); // a replay of 91-100 that goes on with 101-110
  replay.count = 20;
  counts.add(report({replay, in(50, 10, 3)})); // and batch 50 again: a replay, not counted
  auto t = counts.of("sink");
  BOOST_TEST(t.rows_in == 1100u);
  BOOST_TEST(t.bytes_in == 4400u);
  BOOST_TEST(t.replayed_in == 110u);
  BOOST_TEST(t.rows_rejected == 0u); // a replay's rejections are not counted again
  // Out of order: runs above a gap fill in when the gap arrives.
  batch_counts later;
  auto high = in(11);
  high.count = 10;
  later.add(report({high, in(1)}));
  auto low = in(2);
  low.count = 9;
  later.add(report({low}));
  BOOST_TEST(later.of("sink").rows_in == 200u);
  BOOST_TEST(later.of("sink").replayed_in == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
