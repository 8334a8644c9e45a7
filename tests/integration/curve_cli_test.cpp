// CurveZMQ with the real processes: `conveyor keys` makes the pairs, a graph serves with
// them, `conveyor infer` with a listed key is answered and with an unlisted one is not.
#include "process.hpp"
#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include <sys/stat.h>

using namespace conveyor::testing;
using namespace std::chrono_literals;

namespace {


std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(curve_cli)

BOOST_AUTO_TEST_CASE(keys_writes_a_private_secret_and_never_overwrites) {
  const auto dir = scratch_dir("curve_keys");
  auto made = run_conveyor({"keys", "--out", dir + "/server"});
  BOOST_TEST_REQUIRE(made.status == 0, made.err);
  struct stat st {};
  BOOST_REQUIRE(::stat((dir + "/server.key").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_REQUIRE(::stat((dir + "/server.pub").c_str(), &st) == 0);
  const auto before = read_file(dir + "/server.key");
  auto again = run_conveyor({"keys", "--out", dir + "/server"});
  BOOST_TEST(again.status == 2);
  BOOST_TEST(again.err.find("never overwritten") != std::string::npos, again.err);
  BOOST_TEST(read_file(dir + "/server.key") == before);
}

BOOST_AUTO_TEST_CASE(a_listed_client_is_answered_and_an_unlisted_one_gets_nothing_and_is_logged_once) {
  const auto dir = scratch_dir("curve_cli");
  for (const char* name : {"server", "app", "stranger"})
    BOOST_TEST_REQUIRE(run_conveyor({"keys", "--out", dir + "/" + name}).status == 0);
  // A public key file is itself a valid allowed-clients file (a comment and a key).
  std::ofstream(dir + "/clients.txt") << "# allowed clients\n" << read_file(dir + "/app.pub");
  std::ofstream(dir + "/g.flow")
    << "graph secure\n"
       "node api = inference { endpoint = \"tcp://127.0.0.1:*\", curve_secret_key_file = \""
    << dir << "/server.key\", curve_allowed_clients_file = \"" << dir << "/clients.txt\" }\n";
  child_process p{conveyor_binary(), {"run", dir + "/g.flow"}, dir, dir};
  const auto endpoint = wait_for_endpoint(p);

  auto infer = [&](const std::string& who) {
    return run_conveyor({"infer", "--endpoint", endpoint, "--health", "--timeout", "1s",
                         "--curve-server-key", dir + "/server.pub", "--curve-secret-key",
                         dir + "/" + who + ".key"});
  };
  auto listed = infer("app");
  BOOST_TEST(listed.status == 0, listed.err);
  BOOST_TEST(listed.out == "serving\n");
  for (int i = 0; i < 2; ++i) {
    auto stranger = infer("stranger");
    BOOST_TEST(stranger.status == 1);
    BOOST_TEST(stranger.err.find("error timeout") != std::string::npos, stranger.err);
  }
  auto missing = run_conveyor({"infer", "--endpoint", endpoint, "--health", "--curve-server-key",
                               dir + "/server.pub", "--curve-secret-key", dir + "/nobody.key"});
  BOOST_TEST(missing.status == 2);
  BOOST_TEST(missing.err.find("cannot read '" + dir + "/nobody.key'") != std::string::npos,
             missing.err);
  auto plain = run_conveyor({"infer", "--endpoint", endpoint, "--health", "--timeout", "1s"});
  BOOST_TEST(plain.status == 1);
  BOOST_TEST(infer("app").status == 0); // still served

  std::string stranger_key = read_file(dir + "/stranger.pub");
  stranger_key = stranger_key.substr(stranger_key.find('\n') + 1, 40);
  // Logged at the step's next tick (1 s).
  wait_until([&] { return count_of(p.err(), stranger_key) != 0; }, 5s);
  p.signal(SIGTERM);
  p.wait(30s);
  BOOST_TEST(count_of(p.err(), "refused a CurveZMQ handshake from client key " + stranger_key) == 1u,
             p.err());
}

BOOST_AUTO_TEST_CASE(a_malformed_allowed_clients_file_fails_the_run_naming_file_and_line) {
  const auto dir = scratch_dir("curve_cli_bad");
  BOOST_TEST_REQUIRE(run_conveyor({"keys", "--out", dir + "/server"}).status == 0);
  std::ofstream(dir + "/clients.txt") << "# allowed\nnot-a-key\n";
  std::ofstream(dir + "/g.flow")
    << "graph secure\n"
       "node api = inference { endpoint = \"tcp://127.0.0.1:*\", curve_secret_key_file = \""
    << dir << "/server.key\", curve_allowed_clients_file = \"" << dir << "/clients.txt\", "
    << "restart = \"never\" }\n";
  auto r = run_conveyor({"run", dir + "/g.flow"});
  BOOST_TEST(r.status == 1);
  BOOST_TEST(r.err.find(dir + "/clients.txt:2: ") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_SUITE_END()
