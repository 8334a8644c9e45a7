// One Boost.Test module for the graph language's tests.
#define BOOST_TEST_MODULE dsl
#include <boost/test/unit_test.hpp>
