// The trainer's dataset sharded between replicas (training_data::shard): shard r of n
// holds row i of a batch starting at row F when (F + i) mod n == r, whatever order the
// batches arrive in; every replica counts every shard's rows and every label.
#include "actors/training_data.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <numeric>
#include <set>

using namespace conveyor;

namespace {

/// Rows 0..rows-1 with feature x = row number and label row % 3, in batches of `per`.
std::vector<batch> numbered(std::size_t rows, std::size_t per) {
  std::vector<batch> out;
  for (std::size_t start = 0; start < rows; start += per) {
    std::vector<float> x, y;
    for (std::size_t i = start; i < std::min(rows, start + per); ++i) {
      x.push_back(static_cast<float>(i));
      y.push_back(static_cast<float>(i % 3));
    }
    auto b = test::make_batch({{"x", x}, {"y", y}}, {}, "y");
    b.source = "src";
    b.sequence = out.size() + 1;
    b.first_row = start;
    out.push_back(std::move(b));
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(training_data_suite)

BOOST_AUTO_TEST_CASE(two_shards_hold_disjoint_rows_that_cover_the_data_with_the_odd_row_on_shard_0) {
  const std::size_t rows = 1001;
  std::set<float> seen;
  for (int r = 0; r < 2; ++r) {
    training_data d{true, 0};
    d.shard(r, 2);
    auto batches = numbered(rows, 64);
    std::reverse(batches.begin(), batches.end()); // arrival order does not matter
    for (const auto& b : batches)
      d.add(b);
    d.add(batches.front()); // a replay changes nothing
    d.assemble();
    BOOST_TEST(d.shard_rows(0) == 501u);
    BOOST_TEST(d.shard_rows(1) == 500u);
    BOOST_TEST(d.rows() == (r == 0 ? 501u : 500u));
    BOOST_TEST(d.max_label() == 2.0f);
    for (float x : d.feature_matrix()) {
      BOOST_TEST(static_cast<int>(x) % 2 == r);
      BOOST_TEST(seen.insert(x).second); // no row on both shards
    }
    std::uint64_t sum = 0;
    for (float x : d.feature_matrix())
      sum += static_cast<std::uint64_t>(x);
    BOOST_TEST(d.row_number_sum() == sum);
  }
  BOOST_TEST(seen.size() == rows);
}

BOOST_AUTO_TEST_CASE(an_empty_shard_is_not_an_error_while_another_holds_rows) {
  training_data d{true, 0};
  d.shard(3, 4);
  for (const auto& b : numbered(3, 8))
    d.add(b);
  d.assemble();
  BOOST_TEST(d.rows() == 0u);
  BOOST_TEST(d.shard_rows(0) == 1u);
  training_data none{true, 0};
  BOOST_CHECK_THROW(none.assemble(), step_failure);
}

BOOST_AUTO_TEST_SUITE_END()
