// inference on a GPU (`device = "gpu:0"`): the checks of the CPU twin
// (inference_device_cases.hpp) on the GPU, and two servers sharing it. Skipped without
// a usable GPU.
#include "compute/backend_factory.hpp"
#include "inference_device_cases.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
namespace utf = boost::unit_test;

namespace {

boost::test_tools::assertion_result one_gpu(utf::test_unit_id) {
  std::string why;
  if (compute::gpu_count(&why) > 0) return true;
  boost::test_tools::assertion_result r(false);
  r.message() << "needs a usable GPU: " << why;
  return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(inference_gpu, *utf::precondition(one_gpu))

BOOST_AUTO_TEST_CASE(a_gpu_server_answers_as_the_cpu_computes_through_batching_pinning_and_hot_swap) {
  test::serve_on_device_and_compare("gpu:0");
}

BOOST_AUTO_TEST_CASE(two_gpu_servers_in_one_process_share_the_device) {
  std::thread other([] { test::serve_on_device_and_compare("gpu:0"); });
  test::serve_on_device_and_compare("gpu:0");
  other.join();
}

BOOST_AUTO_TEST_SUITE_END()
