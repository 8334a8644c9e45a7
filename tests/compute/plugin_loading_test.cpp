// The CUDA plugin is loaded only when a GPU is asked for: a CPU-only process maps no GPU
// library; a missing plugin is a reason, not a crash. Each case runs plugin_probe in a
// fresh process (the plugin, once loaded, stays for the life of a process).
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

namespace {

/// Runs the probe with `env` ("" or "NAME=value ...") and `mode`; returns its lines as
/// key -> rest.
std::map<std::string, std::string> probe(const std::string& env, const std::string& mode) {
  const std::string command = "env -u CONVEYOR_CUDA_PLUGIN " + env + " " PLUGIN_PROBE " " + mode + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  BOOST_TEST_REQUIRE(p != nullptr);
  std::string out;
  char buf[1024];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  BOOST_TEST_REQUIRE(status == 0, out);
  std::map<std::string, std::string> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    lines[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
  }
  return lines;
}

} // namespace

BOOST_AUTO_TEST_SUITE(plugin_loading)

BOOST_AUTO_TEST_CASE(training_and_predicting_on_the_cpu_loads_no_gpu_library) {
#ifdef CUDA_PLUGIN_PATH
  const std::string env = "CONVEYOR_CUDA_PLUGIN=" CUDA_PLUGIN_PATH;
#else
  const std::string env;
#endif
  auto out = probe(env, "cpu");
  BOOST_TEST(out["loaded"] == "0");
  BOOST_TEST(out["mapped"] == "", "mapped: " << out["mapped"]);
}

BOOST_AUTO_TEST_CASE(a_plugin_that_cannot_be_loaded_means_no_gpu_with_the_reason) {
  auto out = probe("CONVEYOR_CUDA_PLUGIN=/nonexistent/libconveyor_cuda.so", "gpu");
  BOOST_TEST(out["gpus"] == "0");
  BOOST_TEST(out["loaded"] == "0");
#ifdef CUDA_PLUGIN_PATH
  BOOST_TEST(out["why"].find("the CUDA plugin libconveyor_cuda.so cannot be loaded") !=
                 std::string::npos,
             out["why"]);
  BOOST_TEST(out["why"].find("/nonexistent/libconveyor_cuda.so") != std::string::npos, out["why"]);
#else
  BOOST_TEST(out["why"] == "this build has no CUDA backend");
#endif
}

#ifdef CUDA_PLUGIN_PATH
BOOST_AUTO_TEST_CASE(asking_for_gpus_loads_the_plugin_and_with_it_the_gpu_libraries) {
  auto out = probe("CONVEYOR_CUDA_PLUGIN=" CUDA_PLUGIN_PATH, "gpu");
  BOOST_TEST(out["loaded"] == "1");
  BOOST_TEST(out["mapped"].find("libconveyor_cuda") != std::string::npos, out["mapped"]);
  BOOST_TEST(out["mapped"].find("libcublas") != std::string::npos, out["mapped"]);
  if (out["gpus"] == "0") // this machine: the plugin loads, and says why there is no GPU
    BOOST_TEST(!out["why"].empty());
}

BOOST_AUTO_TEST_CASE(without_the_variable_the_plugin_is_found_on_the_loaders_path) {
  // plugin_probe is neither next to it nor in ../lib from it: the loader finds it.
  auto out = probe("LD_LIBRARY_PATH=" CUDA_PLUGIN_DIR, "gpu");
  BOOST_TEST(out["loaded"] == "1", out["why"]);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
