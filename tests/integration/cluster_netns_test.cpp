// Nodes with their own addresses, and a partition: each `conveyor node` runs in its own
// network namespace with a veth pair onto one bridge (10.201.N.0/24; the coordinator
// stays in the test's namespace on the bridge's address). Cutting a node's link (its
// veth down) silences it without closing any connection: the coordinator must declare
// it lost after the connection timeout. Needs root and `ip netns`; where namespaces
// cannot be made the test says so and checks nothing else.
#include "process.hpp"
#include "run_outputs.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <unistd.h>

using namespace conveyor::testing;
using namespace std::chrono_literals;

namespace {

bool sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

/// A bridge and one namespace per node, removed again at the end.
struct namespaces {
  explicit namespaces(int nodes) {
    const int tag = static_cast<int>(::getpid() % 200) + 20;
    subnet = "10.201." + std::to_string(tag);
    bridge = "cvbr" + std::to_string(tag);
    ok = sh("ip link add " + bridge + " type bridge") &&
         sh("ip addr add " + subnet + ".1/24 dev " + bridge) && sh("ip link set " + bridge + " up");
    for (int i = 0; ok && i < nodes; ++i) {
      auto ns = "cvns" + std::to_string(tag) + "n" + std::to_string(i);
      auto outside = "cv" + std::to_string(tag) + "o" + std::to_string(i);
      auto inside = "cv" + std::to_string(tag) + "i" + std::to_string(i);
      auto address = subnet + "." + std::to_string(i + 2);
      names.push_back(ns);
      links.push_back(outside);
      addresses.push_back(address);
      ok = sh("ip netns add " + ns) &&
           sh("ip link add " + outside + " type veth peer name " + inside) &&
           sh("ip link set " + inside + " netns " + ns) &&
           sh("ip link set " + outside + " master " + bridge) &&
           sh("ip link set " + outside + " up") &&
           sh("ip netns exec " + ns + " ip addr add " + address + "/24 dev " + inside) &&
           sh("ip netns exec " + ns + " ip link set " + inside + " up") &&
           sh("ip netns exec " + ns + " ip link set lo up");
    }
  }
  ~namespaces() {
    for (std::size_t i = 0; i < names.size(); ++i) {
      sh("ip link del " + links[i]);
      sh("ip netns del " + names[i]);
    }
    sh("ip link del " + bridge);
  }
  bool ok = false;
  std::string subnet;
  std::string bridge;
  std::vector<std::string> names;
  std::vector<std::string> links;
  std::vector<std::string> addresses;
};

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_netns)

BOOST_AUTO_TEST_CASE(a_node_whose_link_is_cut_is_declared_lost_after_the_connection_timeout) {
  namespaces net{2};
  if (!net.ok) {
    BOOST_TEST_MESSAGE("skipped: cannot make network namespaces and veth pairs here "
                       "(needs root and `ip netns`)");
    return;
  }
  auto dir = scratch_dir("cluster-netns");
  std::vector<std::unique_ptr<child_process>> nodes;
  std::vector<std::string> addresses;
  const char* names[] = {"a", "b"};
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(std::make_unique<child_process>(
      "/usr/sbin/ip",
      std::vector<std::string>{"netns", "exec", net.names[i], conveyor_binary(), "node",
                               "--listen", net.addresses[i] + ":0", "--name", names[i],
                               "--labels", names[i], "--heartbeat-interval-ms", "100",
                               "--connection-timeout-ms", "1000"},
      dir, dir));
    addresses.push_back(wait_for_log(*nodes.back(), "listening on ([0-9.]+:[0-9]+)"));
    BOOST_TEST_REQUIRE(!addresses.back().empty(), nodes.back()->err());
    BOOST_TEST(addresses.back().rfind(net.addresses[i] + ":", 0) == 0u, addresses.back());
  }
  auto cluster = write_file(dir + "/cluster.toml",
                            "[cluster]\nheartbeat_interval_ms = 100\nconnection_timeout_ms = 1000\n"
                            "[[node]]\nname = \"a\"\naddress = \"" + addresses[0] + "\"\n"
                            "[[node]]\nname = \"b\"\naddress = \"" + addresses[1] + "\"\n");
  auto graph = write_file(dir + "/g.flow",
                          "graph cut\n"
                          "node read = generate { rows = 1000000, batch = 100, on = \"a\" }\n"
                          "node slow = chaos { delay = 5ms, on = \"b\" }\n"
                          "node count = counter { on = \"a\" }\n"
                          "read -> slow -> count\n");
  child_process run{conveyor_binary(), {"run", graph, "--cluster", cluster}, source_dir(), dir};
  BOOST_TEST_REQUIRE(!wait_for_log(run, "(step instance\\(s\\) running)").empty(), run.err());
  // Batches cross between the namespaces (a -> b -> a) before the cut.
  BOOST_TEST_REQUIRE(!wait_for_log(*nodes[1], "(hosting slow)").empty(), nodes[1]->err());
  BOOST_TEST_REQUIRE(sh("ip link set " + net.links[1] + " down"));
  // `slow` can run only on b: the run fails, naming the node it lost.
  BOOST_TEST(run.wait(60s) == 1, run.err());
  BOOST_TEST(run.err().find("lost node 'b'") != std::string::npos, run.err());
  for (auto& n : nodes) {
    n->signal(SIGTERM);
    n->wait(15s);
  }
}

BOOST_AUTO_TEST_SUITE_END()
