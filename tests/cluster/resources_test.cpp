#include "cluster/resources.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor::cluster;

BOOST_AUTO_TEST_SUITE(machine_resources)

BOOST_AUTO_TEST_CASE(cores_and_memory_are_found_and_gpus_are_counted_or_zero) {
  auto r = detect_resources();
  BOOST_TEST(r.cores >= 1);
  BOOST_TEST(r.memory_bytes > 0u);
  BOOST_TEST(r.gpus >= 0);
  auto gpus = detect_gpus();
  BOOST_TEST((gpus.source == "cuda" || gpus.source == "nvml" || gpus.source == "none"));
  BOOST_TEST((gpus.source != "none" || gpus.count == 0));
}

BOOST_AUTO_TEST_SUITE_END()
