#include "cluster/cluster_file.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace conveyor::cluster;

namespace {

std::string scratch(const std::string& name) {
  auto dir = std::filesystem::path(CONVEYOR_BINARY_DIR) / "test-scratch" / "cluster" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

const char* const three_nodes = R"([cluster]
heartbeat_interval_ms = 50
connection_timeout_ms = 400
state_dir = "state"

[[node]]
name = "a"
address = "127.0.0.1:7701"
[[node]]
name = "b"
address = "127.0.0.1:7702"
[[node]]
name = "c"
address = "10.0.0.3:7701"
)";

std::string error_of(const std::string& text) {
  auto c = parse_cluster_file(text, "/etc/conveyor/cluster.toml");
  BOOST_TEST(!c);
  return c.error;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_files)

BOOST_AUTO_TEST_CASE(nodes_timeouts_and_the_state_dir_are_read_relative_to_the_file) {
  auto c = parse_cluster_file(three_nodes, "/etc/conveyor/cluster.toml");
  BOOST_TEST_REQUIRE(bool(c), c.error);
  BOOST_TEST(c.value->heartbeat_interval_ms == 50);
  BOOST_TEST(c.value->connection_timeout_ms == 400);
  BOOST_TEST(c.value->state_dir == "/etc/conveyor/state");
  BOOST_TEST(!c.value->tls);
  BOOST_TEST_REQUIRE(c.value->nodes.size() == 3u);
  BOOST_TEST(c.value->nodes[2].name == "c");
  BOOST_TEST(to_string(c.value->nodes[2].where) == "10.0.0.3:7701");
}

BOOST_AUTO_TEST_CASE(defaults_apply_when_the_cluster_table_is_absent) {
  auto c = parse_cluster_file("[[node]]\nname = \"a\"\naddress = \"h:1\"\n", "c.toml");
  BOOST_TEST_REQUIRE(bool(c), c.error);
  BOOST_TEST(c.value->heartbeat_interval_ms == 100);
  BOOST_TEST(c.value->connection_timeout_ms == 500);
  BOOST_TEST(c.value->state_dir.empty());
}

BOOST_AUTO_TEST_CASE(a_toml_syntax_error_names_the_file_line_and_column) {
  auto e = error_of("[cluster]\nheartbeat_interval_ms = = 3\n");
  BOOST_TEST(e.rfind("/etc/conveyor/cluster.toml:2:", 0) == 0u, e);
  BOOST_TEST(e.find("error:") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(wrong_values_unknown_keys_and_duplicates_are_errors_at_their_position) {
  BOOST_TEST(error_of("[cluster]\nheartbeat_interval_ms = \"100\"\n[[node]]\nname=\"a\"\n"
                      "address=\"h:1\"\n")
               .rfind("/etc/conveyor/cluster.toml:2:25: error: cluster.heartbeat_interval_ms "
                      "must be a whole number",
                      0) == 0u);
  auto typo = error_of("[cluster]\nheartbeat_intervall_ms = 100\n");
  BOOST_TEST(typo.find("cluster.toml:2:1: error: unknown key 'heartbeat_intervall_ms'") !=
               std::string::npos,
             typo);
  auto dup = error_of("[[node]]\nname = \"a\"\naddress = \"h:1\"\n[[node]]\nname = \"a\"\n"
                      "address = \"h:2\"\n");
  BOOST_TEST(dup.find("cluster.toml:5:8: error: a second node named 'a'") != std::string::npos,
             dup);
  auto same_place = error_of("[[node]]\nname = \"a\"\naddress = \"h:1\"\n[[node]]\nname = \"b\"\n"
                             "address = \"h:1\"\n");
  BOOST_TEST(same_place.find("cluster.toml:6:11: error: a second node at h:1") !=
               std::string::npos,
             same_place);
  auto bad_address = error_of("[[node]]\nname = \"a\"\naddress = \"h\"\n");
  BOOST_TEST(bad_address.find("cluster.toml:3:11: error: address 'h': expected HOST:PORT") !=
               std::string::npos,
             bad_address);
  auto no_address = error_of("[[node]]\nname = \"a\"\n");
  BOOST_TEST(no_address.find("node 'a' needs an address") != std::string::npos, no_address);
  auto none = error_of("[cluster]\n");
  BOOST_TEST(none.find("no [[node]] entries") != std::string::npos, none);
}

BOOST_AUTO_TEST_CASE(a_timeout_that_one_late_heartbeat_would_exceed_is_refused) {
  auto e = error_of("[cluster]\nheartbeat_interval_ms = 100\nconnection_timeout_ms = 200\n"
                    "[[node]]\nname = \"a\"\naddress = \"h:1\"\n");
  BOOST_TEST(e.find("cluster.toml:1:1: error: the connection timeout (200 ms) must be more than "
                    "twice the heartbeat interval (100 ms)") != std::string::npos,
             e);
}

BOOST_AUTO_TEST_CASE(tls_needs_all_three_readable_files_relative_to_the_cluster_file) {
  auto dir = scratch("tls");
  write(dir + "/ca.pem", "ca");
  write(dir + "/me.pem", "cert");
  write(dir + "/me.key", "key");
  const std::string nodes = "[[node]]\nname = \"a\"\naddress = \"h:1\"\n";
  write(dir + "/ok.toml",
        "[tls]\nca = \"ca.pem\"\ncertificate = \"me.pem\"\nkey = \"me.key\"\n" + nodes);
  auto ok = load_cluster_file(dir + "/ok.toml");
  BOOST_TEST_REQUIRE(bool(ok), ok.error);
  BOOST_TEST_REQUIRE(ok.value->tls.has_value());
  BOOST_TEST(ok.value->tls->key == dir + "/me.key");

  write(dir + "/partial.toml", "[tls]\nca = \"ca.pem\"\ncertificate = \"me.pem\"\n" + nodes);
  auto partial = load_cluster_file(dir + "/partial.toml");
  BOOST_TEST(!partial);
  BOOST_TEST(partial.error.find("partial.toml:1:1: error: [tls]: TLS needs ca, certificate and "
                                "key together; missing: key") != std::string::npos,
             partial.error);

  write(dir + "/missing.toml",
        "[tls]\nca = \"ca.pem\"\ncertificate = \"me.pem\"\nkey = \"nope.key\"\n" + nodes);
  auto missing = load_cluster_file(dir + "/missing.toml");
  BOOST_TEST(!missing);
  BOOST_TEST(missing.error.find("cannot read TLS file '" + dir + "/nope.key'") !=
               std::string::npos,
             missing.error);

  write(dir + "/empty.toml", "[tls]\n" + nodes);
  BOOST_TEST(load_cluster_file(dir + "/empty.toml").error.find("[tls] is empty") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_non_ascii_byte_is_refused_at_its_position) {
  // U+FD7F and U+FBFF outside a string sent toml++ 3.3 into undefined behaviour (found by
  // fuzzing); cluster files are ASCII.
  auto e = error_of("[[node]]\nname = \"a\" \xEF\xB5\xBF\n");
  BOOST_TEST(e == "/etc/conveyor/cluster.toml:2:12: error: byte 0xEF: a cluster file must be ASCII",
             e);
}

BOOST_AUTO_TEST_CASE(a_cluster_file_that_cannot_be_opened_says_which) {
  auto c = load_cluster_file("/nonexistent/cluster.toml");
  BOOST_TEST(!c);
  BOOST_TEST(c.error == "cannot open cluster file '/nonexistent/cluster.toml'");
}

BOOST_AUTO_TEST_SUITE_END()
