// The definitions behind CAF's test DSL (its engine's argument accessors), without its
// main: Boost.Test runs the tests (see deterministic.hpp).
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>
