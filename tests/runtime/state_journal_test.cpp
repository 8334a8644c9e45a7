// The coordinator's state directory (runtime/state_journal.hpp) and the ledger's text
// form: what is written is read back; only the latest record per instance is kept; a
// torn or foreign record is reported, not used; a restored ledger resumes sources and
// skips delivered batches as the original would.
#include "runtime/delivery_ledger.hpp"
#include "runtime/state_journal.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace conveyor;

namespace {

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("conveyor-journal-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

std::size_t files_in(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir))
    ++n;
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(state_journal_suite)

BOOST_AUTO_TEST_CASE(records_written_are_read_back_and_only_the_latest_per_instance_is_kept) {
  auto dir = fresh_dir("latest");
  state_journal j{dir};
  j.put_run(run_record{"g.flow", "graph g\n", {{"rows", "10"}, {"out", "/tmp/a b"}}});
  j.put_state("clean", "first");
  j.put_state("fit#1", std::string("ck\0pt\n", 6));
  j.put_ledger("upto read write 3 30 3 3\n");
  BOOST_TEST(j.dirty());
  j.flush();
  BOOST_TEST(!j.dirty());
  j.put_state("clean", "second");
  j.flush();
  auto c = state_journal::load(dir);
  BOOST_TEST(c.problems.empty());
  BOOST_TEST_REQUIRE(c.run.has_value());
  BOOST_TEST(c.run->file_name == "g.flow");
  BOOST_TEST(c.run->graph_source == "graph g\n");
  BOOST_TEST(c.run->overrides.at("out") == "/tmp/a b");
  BOOST_TEST(c.states.size() == 2u);
  BOOST_TEST(c.states.at("clean") == "second");
  BOOST_TEST(c.states.at("fit#1") == std::string("ck\0pt\n", 6));
  BOOST_TEST(c.ledger == "upto read write 3 30 3 3\n");
  BOOST_TEST(files_in(dir + "/state") == 2u); // bounded: one file per instance
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_torn_or_foreign_record_is_reported_and_left_out) {
  auto dir = fresh_dir("torn");
  state_journal j{dir};
  j.put_state("clean", "stats");
  j.put_state("count", "12 3");
  j.flush();
  {
    std::ofstream torn(dir + "/state/count.rec", std::ios::trunc);
    torn << "conveyor-journal 1 40\n12";
    std::ofstream foreign(dir + "/state/other.rec");
    foreign << "hello\n";
    std::ofstream temporary(dir + "/state/clean.rec.tmp-abc123");
    temporary << "ignored";
  }
  auto c = state_journal::load(dir);
  BOOST_TEST(!c.run.has_value());
  BOOST_TEST(c.states.size() == 1u);
  BOOST_TEST(c.states.at("clean") == "stats");
  BOOST_TEST_REQUIRE(c.problems.size() == 2u);
  BOOST_TEST((c.problems[0].find("count.rec") != std::string::npos ||
              c.problems[1].find("count.rec") != std::string::npos));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(an_unwritable_state_directory_is_an_error_naming_it) {
  BOOST_CHECK_THROW(state_journal{"/proc/conveyor-no-such-dir"}, std::runtime_error);
}

BOOST_AUTO_TEST_CASE(a_malformed_run_record_is_refused) {
  BOOST_TEST(!decode_run_record("3:abc").has_value());
  BOOST_TEST(!decode_run_record("999:abc").has_value());
  BOOST_TEST(decode_run_record(encode_run_record(run_record{"f", "", {}})).has_value());
}

BOOST_AUTO_TEST_CASE(a_restored_ledger_resumes_sources_and_skips_delivered_batches_as_before) {
  auto routes = [](delivery_ledger& l) {
    l.add_source("read");
    l.add_route("read", "write");
    l.add_route("read", "fit#1");
  };
  delivery_ledger original;
  routes(original);
  for (std::uint64_t s : {1, 2, 3, 5})
    original.ack("write", "read", s, source_position{s * 100, s, s});
  original.ack("fit#1", "read", 1, source_position{100, 1, 1});
  original.ack("fit#1", "read", 4, source_position{400, 4, 4});
  delivery_ledger restored;
  routes(restored);
  BOOST_TEST(restored.restore(original.encode()) == 0u);
  BOOST_TEST(restored.encode() == original.encode());
  BOOST_TEST(restored.resume_point_of("read").last_sequence == 1u);
  BOOST_TEST(restored.resume_point_of("read").position.byte_offset == 100u);
  auto delivered = restored.delivered_to("write");
  BOOST_TEST_REQUIRE(delivered.size() == 1u);
  BOOST_TEST(delivered[0].watermark == 3u);
  BOOST_TEST((delivered[0].above == std::vector<std::uint64_t>{5}));
  BOOST_TEST(!restored.ack("write", "read", 2, {}));
  BOOST_TEST(restored.ack("write", "read", 4, {}));
  // Lines for routes the graph no longer has are skipped; a malformed one is named.
  delivery_ledger other;
  other.add_source("read");
  other.add_route("read", "write");
  BOOST_TEST(other.restore("upto gone write 3 1 1 1\nupto read write 2 9 9 9\n") == 0u);
  BOOST_TEST(other.resume_point_of("read").last_sequence == 2u);
  // Runs: `acks FIRST LAST`; a journal written before runs has `ack SEQUENCE` lines.
  delivery_ledger runs;
  runs.add_source("read");
  runs.add_route("read", "write");
  BOOST_TEST(runs.restore("upto read write 2 9 9 9\nacks read write 5 8 80 8 8\n"
                          "ack read write 10 100 10 10\n") == 0u);
  BOOST_TEST((runs.delivered_to("write")[0].above ==
              std::vector<std::uint64_t>{5, 6, 7, 8, 10}));
  BOOST_TEST(runs.encode() == "upto read write 2 9 9 9\nacks read write 5 8 80 8 8\n"
                              "acks read write 10 10 100 10 10\n");
  BOOST_TEST(runs.ack("write", "read", 3, source_position{30, 3, 3}, 2));
  BOOST_TEST(runs.resume_point_of("read").last_sequence == 8u);
  BOOST_TEST(runs.resume_point_of("read").position.byte_offset == 80u);
  BOOST_TEST(runs.restore("acks read write 5 4 1 1 1\n") == 1u); // last before first
  BOOST_TEST(other.restore("upto read write 2 9 9 9\nack read\n") == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
