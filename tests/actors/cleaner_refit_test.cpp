// The cleaner on a stream refits its statistics on the newest fit_rows rows: every N rows,
// and after a drift step's request once fit_rows new rows have come.
#include "actors/cleaner.hpp"
#include "shifting_stream.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

double mean_of_x0(const preprocessing& p) {
  for (const auto& op : p.ops)
    if (op.op == column_op::kind::standardize && op.column == "x0")
      return op.a;
  return std::nan("");
}

} // namespace

BOOST_AUTO_TEST_SUITE(cleaner_refit)

BOOST_AUTO_TEST_CASE(refit_every_rows_refits_on_the_newest_fit_rows_so_the_statistics_follow_the_data) {
  auto s = test::make_step(cleaner_kind(), {{"standardize", dsl::list_value{std::string("x0")}},
                                            {"fit_rows", std::int64_t{500}},
                                            {"refit_every_rows", std::int64_t{1000}}});
  auto* c = dynamic_cast<cleaner*>(s.get());
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 10; ++i)
    s->consume(0, stream.next(100, false, false), out);
  BOOST_TEST(std::abs(mean_of_x0(*c->fitted())) < 0.2);
  const auto first = c->fitted();
  for (int i = 0; i < 11; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(c->fitted() != first);
  BOOST_TEST(std::abs(mean_of_x0(*c->fitted()) - 2.0) < 0.2); // x0 moved to N(2, 1)
  BOOST_TEST(out.on(0).back().transform == c->fitted());
  BOOST_TEST(ctx.metrics["refits"] >= 1.0);
}

BOOST_AUTO_TEST_CASE(a_drift_request_refits_once_fit_rows_new_rows_have_come) {
  auto s = test::make_step(cleaner_kind(), {{"standardize", dsl::list_value{std::string("x0")}},
                                            {"fit_rows", std::int64_t{500}},
                                            {"refit_on_drift", true}});
  auto* c = dynamic_cast<cleaner*>(s.get());
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  test::shifting_stream stream;
  for (int i = 0; i < 10; ++i)
    s->consume(0, stream.next(100, false, false), out);
  const auto first = c->fitted();
  s->consume_model(1, model_message{"m", nullptr, 1}, out);
  for (int i = 0; i < 4; ++i)
    s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(c->fitted() == first); // 400 new rows: not yet
  s->consume(0, stream.next(100, true, false), out);
  BOOST_TEST(c->fitted() != first);
  BOOST_TEST(std::abs(mean_of_x0(*c->fitted()) - 2.0) < 0.2); // only post-drift rows
}

BOOST_AUTO_TEST_CASE(refitting_needs_a_bounded_window) {
  std::string what;
  try {
    test::make_step(cleaner_kind(), {{"fit_rows", std::int64_t{0}}, {"refit_every_rows", std::int64_t{10}}});
  } catch (const step_failure& e) {
    what = e.what();
  }
  BOOST_TEST(what.find("set fit_rows > 0") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
