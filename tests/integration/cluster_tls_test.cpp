// Mutual TLS between nodes and coordinators: certificates from
// scripts/make-cluster-certs.sh, a run across two TLS nodes, and strangers (no
// certificate, or one from another CA) that cannot even connect, let alone join a run
// or send to a step. A node refuses to start with a partial set of TLS files.
#include "process.hpp"
#include "run_outputs.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

using namespace conveyor::testing;
using namespace std::chrono_literals;

namespace {

void make_certs(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> args{source_dir() + "/scripts/make-cluster-certs.sh", dir};
  args.insert(args.end(), names.begin(), names.end());
  child_process p{"/bin/bash", args, source_dir(), dir};
  BOOST_TEST_REQUIRE(p.wait(60s) == 0, p.err());
}

std::string wait_listening(const child_process& p) {
  auto address = node_address(p);
  BOOST_TEST_REQUIRE(!address.empty(), "the node never listened:\n" << p.err());
  return address;
}

std::string tls_table(const std::string& certs, const std::string& me) {
  return "[tls]\nca = \"" + certs + "/ca.pem\"\ncertificate = \"" + certs + "/" + me +
         ".pem\"\nkey = \"" + certs + "/" + me + ".key\"\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_tls)

BOOST_AUTO_TEST_CASE(a_run_crosses_tls_nodes_and_strangers_cannot_connect) {
  auto dir = scratch_dir("cluster-tls");
  auto certs = dir + "/certs";
  auto other = dir + "/other-ca";
  make_certs(certs, {"a", "b", "coordinator"});
  make_certs(other, {"coordinator"});
  std::vector<std::unique_ptr<child_process>> nodes;
  std::vector<std::string> addresses;
  for (std::string n : {"a", "b"}) {
    nodes.push_back(std::make_unique<child_process>(
      conveyor_binary(),
      std::vector<std::string>{"node", "--listen", "127.0.0.1:0", "--name", n, "--tls-ca",
                               certs + "/ca.pem", "--tls-cert", certs + "/" + n + ".pem",
                               "--tls-key", certs + "/" + n + ".key",
                               "--connection-timeout-ms", "2000"},
      dir, dir));
    addresses.push_back(wait_listening(*nodes.back()));
  }
  std::string node_list;
  for (std::size_t i = 0; i < addresses.size(); ++i)
    node_list += "[[node]]\nname = \"" + std::string(i == 0 ? "a" : "b") + "\"\naddress = \"" +
                 addresses[i] + "\"\n";
  const std::string timing = "[cluster]\nconnection_timeout_ms = 2000\n";
  {
    std::ofstream csv(dir + "/in.csv");
    csv << "id,x\n";
    for (int i = 0; i < 5000; ++i)
      csv << i << ',' << i * 0.5 << '\n';
  }
  auto graph = write_file(dir + "/g.flow",
                          "graph secret\n"
                          "node read = csv_reader { path = \"" + dir + "/in.csv\", batch = 100, "
                          "on = \"a\" }\n"
                          "node write = csv_writer { path = \"" + dir + "/out.csv\", on = \"b\" }\n"
                          "read -> write\n");

  auto trusted = write_file(dir + "/trusted.toml", timing + tls_table(certs, "coordinator") + node_list);
  auto ok = run_conveyor({"run", graph, "--cluster", trusted});
  BOOST_TEST_REQUIRE(ok.status == 0, ok.err << nodes[0]->err() << nodes[1]->err());
  BOOST_TEST(read_file(dir + "/out.csv").find("\n4999,") != std::string::npos);

  auto plain = write_file(dir + "/plain.toml", timing + node_list);
  auto no_cert = run_conveyor({"run", graph, "--cluster", plain});
  BOOST_TEST(no_cert.status == 1, no_cert.err);
  BOOST_TEST(no_cert.err.find("cannot reach node 'a' at " + addresses[0]) != std::string::npos,
             no_cert.err);

  auto foreign = write_file(dir + "/foreign.toml", timing + tls_table(other, "coordinator") + node_list);
  auto wrong_ca = run_conveyor({"run", graph, "--cluster", foreign});
  BOOST_TEST(wrong_ca.status == 1, wrong_ca.err);
  BOOST_TEST(wrong_ca.err.find("cannot reach node 'a' at " + addresses[0]) != std::string::npos,
             wrong_ca.err);
  // Neither stranger got a run joined on a node.
  BOOST_TEST(nodes[0]->err().find("joined run secret-") != std::string::npos);
  auto joined = [](const std::string& log) {
    std::size_t n = 0;
    for (auto at = log.find("joined run"); at != std::string::npos; at = log.find("joined run", at + 1))
      ++n;
    return n;
  };
  BOOST_TEST(joined(nodes[0]->err()) == 1u);
  BOOST_TEST(joined(nodes[1]->err()) == 1u);
  for (auto& n : nodes)
    n->signal(SIGTERM);
  for (auto& n : nodes)
    BOOST_TEST(n->wait(10s) == 0);
}

BOOST_AUTO_TEST_CASE(a_node_with_a_partial_or_unreadable_tls_set_refuses_to_start) {
  auto dir = scratch_dir("cluster-tls-partial");
  make_certs(dir, {"a"});
  auto partial = run_conveyor({"node", "--listen", "127.0.0.1:0", "--name", "a", "--tls-ca",
                               dir + "/ca.pem", "--tls-cert", dir + "/a.pem"});
  BOOST_TEST(partial.status == 2, partial.err);
  BOOST_TEST(partial.err.find("missing: key") != std::string::npos, partial.err);
  auto unreadable = run_conveyor({"node", "--listen", "127.0.0.1:0", "--name", "a", "--tls-ca",
                                  dir + "/ca.pem", "--tls-cert", dir + "/a.pem", "--tls-key",
                                  dir + "/nope.key"});
  BOOST_TEST(unreadable.status == 2, unreadable.err);
  BOOST_TEST(unreadable.err.find("cannot read TLS file '" + dir + "/nope.key'") !=
               std::string::npos,
             unreadable.err);
}

BOOST_AUTO_TEST_SUITE_END()
