#define BOOST_TEST_MODULE compute_gpu
#include <boost/test/unit_test.hpp>
