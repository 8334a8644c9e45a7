#include "cluster_nodes.hpp"

#include "run_outputs.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

using namespace std::chrono_literals;

namespace conveyor::testing {

three_nodes::three_nodes(const std::string& dir, bool own_dirs) : dir(dir) {
  for (const char* n : {"a", "b", "c"}) {
    std::string labels = std::string(n) + (std::string(n) == "c" ? ",trainer,work"
                                           : std::string(n) == "b" ? ",work" : "");
    std::vector<std::string> args{"node", "--listen", "127.0.0.1:0", "--name", n,
                                  "--labels", labels, "--heartbeat-interval-ms",
                                  "100", "--connection-timeout-ms", "2000"};
    std::string cwd = dir;
    if (own_dirs) { // created by the node
      cwd = dir + "/node-" + n;
      args.insert(args.end(), {"--state-dir", cwd});
    }
    node_process p{n, std::make_unique<child_process>(conveyor_binary(), args, dir, dir), {},
                   cwd};
    nodes.push_back(std::move(p));
  }
  for (auto& n : nodes) {
    n.address = node_address(*n.process);
    BOOST_TEST_REQUIRE(!n.address.empty(),
                       "node " << n.name << " never listened:\n" << n.process->err());
  }
  std::string toml = "[cluster]\nheartbeat_interval_ms = 100\nconnection_timeout_ms = 2000\n";
  for (const auto& n : nodes)
    toml += "[[node]]\nname = \"" + n.name + "\"\naddress = \"" + n.address + "\"\n";
  cluster_file = write_file(dir + "/cluster.toml", toml);
}

void three_nodes::stop() {
  for (auto& n : nodes)
    n.process->signal(SIGTERM);
  for (auto& n : nodes)
    BOOST_TEST(n.process->wait(10s) == 0, "node " << n.name << ":\n" << n.process->err());
}

std::string three_nodes::logs() const {
  std::string all;
  for (const auto& n : nodes)
    all += "--- node " + n.name + "\n" + n.process->err();
  return all;
}

node_process* three_nodes::host_of(const std::string& instance) {
  const std::regex hosting("hosting (.*, )?" + instance + "(,|\\n)");
  for (auto& n : nodes)
    if (std::regex_search(n.process->err(), hosting))
      return &n;
  return nullptr;
}

std::string write_numbered_csv(const std::string& dir, int rows) {
  auto path = dir + "/numbers.csv";
  std::ofstream out(path);
  out << "id,a,b\n";
  for (int i = 0; i < rows; ++i)
    out << i << ',' << (i % 97) * 0.5 << ',' << (i % 13) << '\n';
  return path;
}

std::string slow_pipeline(const std::string& dir, int rows, const std::string& name,
                          const std::string& slow_on) {
  auto csv = write_numbered_csv(dir, rows);
  return write_file(dir + "/g.flow",
                    "graph " + name + "\n"
                    "node read = csv_reader { path = \"" + csv + "\", batch = 100, on = \"a\" }\n"
                    "node slow = chaos { delay = 5ms, on = \"" + slow_on + "\" }\n"
                    "node write = csv_writer { path = \"" + dir + "/out.csv\", on = \"c\" }\n"
                    "read -> slow -> write\n");
}

} // namespace conveyor::testing
