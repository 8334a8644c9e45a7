// CAF's deterministic test scheduler inside Boost.Test: `test_coordinator_fixture`
// (messages run one at a time on the test's thread with `sched.run()`,
// `sched.run_once()`, `expect(...)`; timeouts only fire when a test triggers them), with
// CAF's test assertions mapped onto Boost.Test's. A mismatch in `expect` aborts the test
// binary after the message (CAF checks it in a destructor, where nothing may throw).
#pragma once

#include "runtime/errors.hpp"
#include "runtime/messages.hpp"

#include <boost/test/unit_test.hpp>
#include <caf/test/unit_test.hpp>

#include <cstdlib>

#undef CAF_MESSAGE
#undef CAF_CHECK
#undef CAF_CHECK_EQUAL
#undef CAF_REQUIRE
#undef CAF_REQUIRE_EQUAL
#undef CAF_FAIL
#define CAF_MESSAGE(msg) BOOST_TEST_MESSAGE(msg)
#define CAF_CHECK(...) BOOST_TEST(static_cast<bool>(__VA_ARGS__))
#define CAF_CHECK_EQUAL(x, y) BOOST_TEST(static_cast<bool>((x) == (y)))
#define CAF_FAIL(msg)                                                                        \
  do {                                                                                       \
    BOOST_ERROR(msg);                                                                        \
    std::abort();                                                                            \
  } while (false)
#define CAF_REQUIRE(...)                                                                     \
  do {                                                                                       \
    if (!static_cast<bool>(__VA_ARGS__))                                                     \
      CAF_FAIL("required: " #__VA_ARGS__);                                                   \
  } while (false)
#define CAF_REQUIRE_EQUAL(x, y) CAF_REQUIRE((x) == (y))
#define FAIL(msg) CAF_FAIL(msg)

#include <caf/test/dsl.hpp>

namespace conveyor::testing {

/// The runtime's message types and error category, as `conveyor run` registers them.
struct runtime_test_config : caf::actor_system_config {
  runtime_test_config() {
    add_message_types<caf::id_block::conveyor>();
    add_runtime_error_category(*this);
  }
};

struct deterministic_fixture : test_coordinator_fixture<runtime_test_config> {
  /// Element `index` of the next message waiting for `whom` (which must be scheduled
  /// and have one), to look at before `expect` consumes it.
  template <class T>
  T next_element(const caf::actor& whom, std::size_t index) {
    BOOST_TEST_REQUIRE(sched.prioritize(whom));
    auto* element = sched.next_job<caf::scheduled_actor>().mailbox().peek();
    BOOST_TEST_REQUIRE(element != nullptr);
    BOOST_TEST_REQUIRE(element->content().match_element<T>(index));
    return element->content().get_as<T>(index);
  }
};

} // namespace conveyor::testing
