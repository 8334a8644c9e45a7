#define BOOST_TEST_MODULE actors_serving
#include <boost/test/unit_test.hpp>
