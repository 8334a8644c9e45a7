#include "compute/backend_factory.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

using namespace conveyor::compute;
namespace utf = boost::unit_test;

namespace {

std::string refusal(const std::string& device, precision p = precision::fp32) {
  try {
    make_backend(device, p);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no refusal)";
}

bool no_gpu(utf::test_unit_id) { return gpu_count() == 0; }

} // namespace

BOOST_AUTO_TEST_SUITE(backend_factory)

BOOST_AUTO_TEST_CASE(the_cpu_backend_computes_fp32_only) {
  BOOST_TEST(make_backend("cpu")->name() == std::string("cpu"));
  const auto msg = refusal("cpu", precision::bf16);
  BOOST_TEST(msg.find("precision \"bf16\" needs a GPU") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(malformed_devices_are_refused_naming_them) {
  BOOST_TEST(refusal("tpu:0").find("unknown device \"tpu:0\"") != std::string::npos);
  BOOST_TEST(refusal("cuda:x").find("device \"cuda:x\": expected \"cuda:N\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_a_gpu_gpus_are_refused_with_the_reason_and_nothing_is_measured,
                     *utf::precondition(no_gpu)) {
  std::string why;
  BOOST_TEST(gpu_count(&why) == 0);
  BOOST_TEST(!why.empty());
  const auto msg = refusal("cuda:0");
  BOOST_TEST(msg.find("device \"cuda:0\": no GPU is usable here (" + why + ")") != std::string::npos,
             msg);
  BOOST_TEST(gpu_energy_joules(0) < 0);
  BOOST_TEST(gpu_utilisation_percent(0) < 0);
}

BOOST_AUTO_TEST_CASE(cpu_groups_have_no_device_transport) {
  BOOST_TEST(make_device_group_id("cpu", 4).empty());
  auto host = single_rank_collective();
  auto be = make_backend("cpu");
  BOOST_TEST(!make_device_collective(*host, "", 0, 1, *be, std::chrono::seconds(1)));
}

BOOST_AUTO_TEST_SUITE_END()
