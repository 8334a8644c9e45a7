// The CPU backend's OpenBLAS kernel: chosen from the CPU's instruction sets unless
// OPENBLAS_CORETYPE says otherwise, and correct whichever it is (checked against a plain
// triple loop in a fresh process per kernel, since the choice is made at load time).
#include "compute/cpu/cpu_backend.hpp"
#include "compute/cpu/openblas.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <strings.h>

using namespace conveyor::compute;

namespace {

/// Runs the probe with `env` ("" or "NAME=value") and returns its lines as key -> rest.
std::map<std::string, std::string> probe(const std::string& env) {
  const std::string command = "env -u OPENBLAS_CORETYPE " + env + " " BLAS_KERNEL_PROBE " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  BOOST_TEST_REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
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

bool same_name(const std::string& a, const std::string& b) {
  return ::strcasecmp(a.c_str(), b.c_str()) == 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(openblas_kernel)

BOOST_AUTO_TEST_CASE(the_kernel_follows_the_widest_instruction_set_the_cpu_has) {
  openblas::cpu_features f;
  BOOST_TEST(openblas::best_coretype(f) == "");
  f.avx = true;
  BOOST_TEST(openblas::best_coretype(f) == "Sandybridge");
  f.avx2 = true;
  BOOST_TEST(openblas::best_coretype(f) == "Sandybridge"); // Haswell's kernels need FMA too
  f.fma = true;
  BOOST_TEST(openblas::best_coretype(f) == "Haswell");
  f.avx512 = true;
  BOOST_TEST(openblas::best_coretype(f) == "SkylakeX");
}

BOOST_AUTO_TEST_CASE(without_openblas_coretype_the_cpu_decides_and_the_backend_says_so) {
  const auto out = probe("");
  const auto best = openblas::best_coretype(openblas::host_features());
  if (best.empty()) {
    BOOST_TEST(out.at("reason") == "OpenBLAS's own choice");
  } else {
    BOOST_TEST(same_name(out.at("kernel"), best), out.at("kernel") << " vs " << best);
    BOOST_TEST(out.at("reason").find("chosen from the CPU") == 0u, out.at("reason"));
  }
  BOOST_TEST(std::stod(out.at("max_error")) < 1e-4);
  BOOST_TEST(default_cpu_backend().describe().find("kernel ") != std::string::npos,
             default_cpu_backend().describe());
}

BOOST_AUTO_TEST_CASE(an_explicit_openblas_coretype_is_honoured_and_gives_the_same_results) {
  // Prescott (SSE3) is what OpenBLAS falls back to on a CPU model it does not know.
  const auto out = probe("OPENBLAS_CORETYPE=Prescott");
  BOOST_TEST(out.at("kernel") == "Prescott");
  BOOST_TEST(out.at("reason") == "OPENBLAS_CORETYPE=Prescott from the environment");
  BOOST_TEST(std::stod(out.at("max_error")) < 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()
