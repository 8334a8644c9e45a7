// The runtime's error category: codes named when rendered, a step's own message kept
// as the text, and an exception escaping a handler turned into an error the actor
// ends with (no handler may bring the process down or leave a run hanging).
#include "deterministic.hpp"

#include <stdexcept>

using namespace conveyor;
using conveyor::testing::deterministic_fixture;

namespace {

/// Throws from its handler when told to.
caf::behavior thrower(caf::event_based_actor* self) {
  handle_exceptions(self);
  return {
    [](std::string& what) -> int { throw std::runtime_error(what); },
  };
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(runtime_errors, deterministic_fixture)

BOOST_AUTO_TEST_CASE(a_runtime_error_names_its_code_and_keeps_its_context_as_the_text) {
  auto e = make_error(runtime_errc::step_failed, "injected failure 3");
  BOOST_TEST(is(e, runtime_errc::step_failed));
  BOOST_TEST(!is(e, runtime_errc::node_lost));
  BOOST_TEST(error_text(e) == "injected failure 3");
  BOOST_TEST(error_text(make_error(runtime_errc::node_lost)) == "node_lost");
  BOOST_TEST(sys.render(e) == "conveyor: step_failed: injected failure 3");
  // Errors of other categories keep CAF's rendering.
  BOOST_TEST(error_text(caf::make_error(caf::sec::request_timeout)) ==
             "system_error(request_timeout)");
  caf::error implicit = runtime_errc::drain_timeout; // like caf::sec
  BOOST_TEST(is(implicit, runtime_errc::drain_timeout));
}

BOOST_AUTO_TEST_CASE(an_exception_escaping_a_handler_ends_the_actor_with_unexpected_exception) {
  auto a = sys.spawn(thrower);
  self->monitor(a);
  self->send(a, std::string{"out of cheese"});
  sched.run();
  caf::error reason;
  self->receive([&](caf::down_msg& down) { reason = down.reason; });
  BOOST_TEST(is(reason, runtime_errc::unexpected_exception), sys.render(reason));
  BOOST_TEST(error_text(reason) == "out of cheese");
}

BOOST_AUTO_TEST_CASE(the_text_of_a_normal_exit_is_no_error_rather_than_a_crash) {
  BOOST_TEST(error_text(caf::error{}) == "no error");
}

BOOST_AUTO_TEST_SUITE_END()
