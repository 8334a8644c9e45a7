// generate: batches made in memory, `rows` in all in batches of `batch`, each numeric
// column holding its pattern; a restart resumes after the acknowledged position.
#include "actors/generate.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

BOOST_AUTO_TEST_SUITE(generate_suite)

BOOST_AUTO_TEST_CASE(it_emits_every_row_once_in_batches_with_the_column_pattern) {
  auto s = make_step(generate_kind(), {{"rows", std::int64_t{2500}}, {"columns", std::int64_t{3}},
                                       {"batch", std::int64_t{1000}}});
  fake_context ctx;
  s->open(ctx);
  auto out = drain(*s);
  BOOST_TEST_REQUIRE(out.size() == 3u);
  BOOST_TEST(out[0].rows == 1000u);
  BOOST_TEST(out[2].rows == 500u);
  BOOST_TEST(out[2].first_row == 2000u);
  BOOST_TEST(out[2].position.row == 2500u);
  BOOST_TEST_REQUIRE(out[2].schema->columns.size() == 3u);
  BOOST_TEST(out[2].schema->columns[2].name == "c2");
  BOOST_TEST(out[2].float_column(2)[499] == 0.5f);
}

BOOST_AUTO_TEST_CASE(a_resumed_generator_continues_after_the_position_it_is_given) {
  auto s = make_step(generate_kind(), {{"rows", std::int64_t{2500}}, {"batch", std::int64_t{1000}}});
  fake_context ctx;
  s->open(ctx);
  s->resume(source_position{0, 0, 1000});
  auto out = drain(*s);
  BOOST_TEST_REQUIRE(out.size() == 2u);
  BOOST_TEST(out[0].first_row == 1000u);
}

BOOST_AUTO_TEST_CASE(a_batch_of_zero_rows_is_refused_naming_the_parameter) {
  BOOST_CHECK_EXCEPTION(make_step(generate_kind(), {{"rows", std::int64_t{10}},
                                                    {"batch", std::int64_t{0}}}),
                        step_failure, [](const step_failure& e) {
                          return std::string(e.what()).find("'batch'") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
