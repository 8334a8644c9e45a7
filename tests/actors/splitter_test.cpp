#include "actors/splitter.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

namespace {

batch numbered(std::uint64_t first, std::uint32_t n, std::uint64_t seq) {
  std::vector<float> v;
  for (std::uint32_t i = 0; i < n; ++i)
    v.push_back(static_cast<float>(first + i));
  auto b = make_batch({{"row", v}});
  b.source = "reader";
  b.sequence = seq;
  b.first_row = first;
  return b;
}

std::vector<float> column(const std::vector<batch>& bs) {
  std::vector<float> out;
  for (const auto& b : bs)
    for (std::size_t r = 0; r < b.rows; ++r)
      out.push_back(cell(b, "row", r));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(splitter_suite)

BOOST_AUTO_TEST_CASE(each_input_gives_exactly_one_batch_per_output_with_its_identity) {
  auto s = make_step(splitter_kind(), {{"ratio", 0.5}});
  fake_context ctx;
  s->open(ctx);
  std::vector<batch> in;
  for (std::uint64_t i = 0; i < 20; ++i)
    in.push_back(numbered(i * 3, 3, i + 1));
  auto out = push(*s, in);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 20u);
  BOOST_REQUIRE_EQUAL(out.on(1).size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) {
    BOOST_TEST(out.on(0)[i].sequence == i + 1);
    BOOST_TEST(out.on(1)[i].sequence == i + 1);
    BOOST_TEST(out.on(0)[i].source == "reader");
    BOOST_TEST(out.on(0)[i].rows + out.on(1)[i].rows == 3u);
  }
}

BOOST_AUTO_TEST_CASE(the_split_is_independent_of_batching_and_repeatable) {
  auto run = [](std::uint32_t batch_rows) {
    auto s = make_step(splitter_kind(), {});
    fake_context ctx;
    s->open(ctx);
    std::vector<batch> in;
    for (std::uint64_t first = 0, seq = 1; first < 1000; first += batch_rows, ++seq)
      in.push_back(numbered(first, static_cast<std::uint32_t>(
                                     std::min<std::uint64_t>(batch_rows, 1000 - first)),
                            seq));
    auto out = push(*s, in);
    return std::make_pair(column(out.on(0)), column(out.on(1)));
  };
  auto a = run(7);
  auto b = run(100);
  auto c = run(7);
  BOOST_TEST(a.first == b.first, boost::test_tools::per_element());
  BOOST_TEST(a.second == b.second, boost::test_tools::per_element());
  BOOST_TEST(a.first == c.first, boost::test_tools::per_element());
  BOOST_TEST(a.first.size() + a.second.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(the_train_fraction_is_close_to_the_ratio_and_the_seed_matters) {
  for (double ratio : {0.0, 0.1, 0.8, 1.0}) {
    auto s = make_step(splitter_kind(), {{"ratio", ratio}});
    fake_context ctx;
    s->open(ctx);
    auto out = push(*s, {numbered(0, 20000, 1)});
    double frac = out.on(0)[0].rows / 20000.0;
    BOOST_TEST(std::abs(frac - ratio) < 0.015, "ratio " << ratio << " gave " << frac);
  }
  auto s1 = make_step(splitter_kind(), {{"seed", 1}});
  auto s2 = make_step(splitter_kind(), {{"seed", 2}});
  auto o1 = push(*s1, {numbered(0, 100, 1)});
  auto o2 = push(*s2, {numbered(0, 100, 1)});
  BOOST_TEST(column(o1.on(0)) != column(o2.on(0)));
}

BOOST_AUTO_TEST_CASE(a_ratio_outside_zero_to_one_is_rejected) {
  BOOST_CHECK_THROW(make_step(splitter_kind(), {{"ratio", 1.5}}), step_failure);
  BOOST_CHECK_THROW(make_step(splitter_kind(), {{"ratio", -0.1}}), step_failure);
}

BOOST_AUTO_TEST_SUITE_END()
