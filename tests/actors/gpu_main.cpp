#define BOOST_TEST_MODULE actors_gpu
#include <boost/test/unit_test.hpp>
