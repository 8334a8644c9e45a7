#include "actors/chaos.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

BOOST_AUTO_TEST_SUITE(chaos_suite)

BOOST_AUTO_TEST_CASE(fails_at_the_chosen_batch_until_times_is_used_up_then_passes_through) {
  fake_context ctx; // shared across instances: durable state survives restarts
  auto in = [] { return make_batch({{"x", {1, 2}}}); };
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto s = make_step(chaos_kind(), {{"fail_at", 2}, {"times", 2}});
    s->open(ctx);
    collector out;
    s->consume(0, in(), out);
    BOOST_TEST(out.on(0).size() == 1u);
    BOOST_CHECK_EXCEPTION(s->consume(0, in(), out), step_failure, [](const step_failure& e) {
      return std::string(e.what()).find("chaos: injected failure at batch 2") == 0;
    });
  }
  auto s = make_step(chaos_kind(), {{"fail_at", 2}, {"times", 2}});
  s->open(ctx);
  collector out;
  for (int i = 0; i < 4; ++i)
    s->consume(0, in(), out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 4u);
  BOOST_TEST(cell(out.on(0)[3], "x", 1) == 2.0f);
}

BOOST_AUTO_TEST_SUITE_END()
