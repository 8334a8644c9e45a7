#define BOOST_TEST_MODULE step
#include <boost/test/unit_test.hpp>
