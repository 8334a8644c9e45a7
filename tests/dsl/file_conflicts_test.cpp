// The file_conflict check: no file is written by two parameters, or written by one and
// read by another, however the paths are spelled (params, `.` and `..`, symbolic and
// hard links); the diagnostic points at the offending parameter's value.
#include "test_helpers.hpp"

#include "tests/support/scratch_files.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>

using namespace conveyor::dsl;
using namespace conveyor::dsl::testing;
using conveyor::test::temp_dir;
using conveyor::test::write_file;

namespace {

/// "line:col code: message" of each diagnostic of `src`.
std::string conflicts_of(const std::string& src, std::map<std::string, std::string> overrides = {}) {
  return summary(compile_text(src, std::move(overrides)));
}

/// A reader of `in` and a writer of `out`, on lines 2 and 3 (values at column 34).
std::string reader_and_writer(const std::string& in, const std::string& out) {
  return "graph g\n"
         "node read  = csv_reader { path = \"" + in + "\" }\n"
         "node write = csv_writer { path = \"" + out + "\" }\n"
         "read -> write\n";
}

bool conflict(const std::string& src) {
  auto r = compile_text(src);
  return !r.ok() && !r.diagnostics.empty()
         && r.diagnostics.front().code == diagnostic_code::file_conflict;
}

} // namespace

BOOST_AUTO_TEST_SUITE(file_conflicts)

BOOST_AUTO_TEST_CASE(a_writer_of_the_file_a_reader_reads_is_refused_at_the_writers_path) {
  BOOST_TEST(conflicts_of(reader_and_writer("data.csv", "data.csv")) ==
             "3:34 file_conflict: csv_writer 'write' would write 'data.csv', which csv_reader "
             "'read' reads (its 'path', line 2)");
}

BOOST_AUTO_TEST_CASE(two_writers_of_one_file_are_refused_at_the_second) {
  std::string src = "graph g\n"
                    "node read = csv_reader { path = \"in.csv\" }\n"
                    "node a = csv_writer { path = \"out.csv\" }\n"
                    "node b = csv_writer { path = \"out.csv\" }\n"
                    "read -> a\nread -> b\n";
  BOOST_TEST(conflicts_of(src) == "4:30 file_conflict: csv_writer 'b' would write 'out.csv', which "
                                  "csv_writer 'a' writes (its 'path', line 3)");
}

BOOST_AUTO_TEST_CASE(reading_one_file_twice_and_writing_to_a_device_twice_are_fine) {
  std::string src = "graph g\n"
                    "node a = csv_reader { path = \"in.csv\" }\n"
                    "node b = csv_reader { path = \"./in.csv\" }\n"
                    "node x = csv_writer { path = \"/dev/null\" }\n"
                    "node y = csv_writer { path = \"/dev/null\" }\n"
                    "a -> x\nb -> y\n";
  compile_ok(src);
}

BOOST_AUTO_TEST_CASE(paths_are_compared_after_param_substitution_and_overrides) {
  std::string src = "graph g\n"
                    "param dir = \"data\"\n"
                    "param out = \"result.csv\"\n"
                    "node read = csv_reader { path = \"$dir/in.csv\" }\n"
                    "node write = csv_writer { path = \"$dir/$out\" }\n"
                    "read -> write\n";
  compile_ok(src);
  BOOST_TEST(conflicts_of(src, {{"out", "in.csv"}}) ==
             "5:34 file_conflict: csv_writer 'write' would write 'data/in.csv', which csv_reader "
             "'read' reads (its 'path', line 4)");
}

BOOST_AUTO_TEST_CASE(dot_and_dot_dot_spellings_name_the_same_file) {
  BOOST_TEST(conflict(reader_and_writer("./fc_a.csv", "fc_a.csv")));
  BOOST_TEST(conflict(reader_and_writer("fc_dir/../fc_a.csv", "./fc_a.csv")));
  BOOST_TEST(conflict(reader_and_writer("fc_a.csv", std::filesystem::current_path().string()
                                                      + "//fc_a.csv")));
  BOOST_TEST(!conflict(reader_and_writer("fc_a.csv", "fc_b.csv")));
  auto r = compile_text(reader_and_writer("./fc_a.csv", "fc_a.csv"));
  BOOST_TEST(r.diagnostics.front().message.find("('fc_a.csv' and './fc_a.csv' are the same file)")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(symbolic_and_hard_links_to_a_file_are_the_file) {
  temp_dir dir;
  write_file(dir.file("real.csv"), "a\n1\n");
  std::filesystem::create_symlink(dir.file("real.csv"), dir.file("soft.csv"));
  std::filesystem::create_hard_link(dir.file("real.csv"), dir.file("hard.csv"));
  std::filesystem::create_directory(dir.file("sub"));
  std::filesystem::create_directory_symlink(dir.file("sub"), dir.file("linked_sub"));
  // A relative link to a file that does not exist yet: the writer would create it.
  std::filesystem::create_symlink("later.csv", dir.file("dangling.csv"));
  BOOST_TEST(conflict(reader_and_writer(dir.file("soft.csv"), dir.file("real.csv"))));
  BOOST_TEST(conflict(reader_and_writer(dir.file("hard.csv"), dir.file("real.csv"))));
  BOOST_TEST(conflict(reader_and_writer(dir.file("dangling.csv"), dir.file("later.csv"))));
  // `..` after a linked directory leads to the link target's parent.
  BOOST_TEST(conflict(reader_and_writer(dir.file("linked_sub/../real.csv"), dir.file("real.csv"))));
  BOOST_TEST(!conflict(reader_and_writer(dir.file("soft.csv"), dir.file("other.csv"))));
}

BOOST_AUTO_TEST_CASE(a_readers_quarantine_file_must_not_be_its_input) {
  std::string src = "graph g\n"
                    "node read = csv_reader { path = \"in.csv\", quarantine = \"./in.csv\" }\n"
                    "node write = csv_writer { path = \"out.csv\" }\n"
                    "read -> write\n";
  BOOST_TEST(conflicts_of(src) ==
             "2:56 file_conflict: csv_reader 'read' would write './in.csv', which csv_reader "
             "'read' reads (its 'path', line 2) ('./in.csv' and 'in.csv' are the same file)");
}

BOOST_AUTO_TEST_CASE(a_path_from_the_defaults_block_is_reported_there) {
  std::string src = "graph g\n"
                    "defaults { path = \"same.csv\" }\n"
                    "node read = csv_reader\n"
                    "node write = csv_writer\n"
                    "read -> write\n";
  BOOST_TEST(conflicts_of(src) ==
             "2:19 file_conflict: csv_writer 'write' would write 'same.csv', which csv_reader "
             "'read' reads (its 'path', line 2)");
}

BOOST_AUTO_TEST_CASE(a_writer_running_several_replicas_is_refused) {
  std::string src = "graph g\n"
                    "node read = csv_reader { path = \"in.csv\" }\n"
                    "node write = csv_writer { path = \"out.csv\", replicas = 2 }\n"
                    "read -> write\n";
  BOOST_TEST(conflicts_of(src) == "3:34 file_conflict: csv_writer 'write' runs 2 replicas, each of "
                                  "which would write 'out.csv'");
}

BOOST_AUTO_TEST_CASE(the_diagnostic_underlines_the_value_and_says_why) {
  std::string src = reader_and_writer("data.csv", "data.csv");
  auto r = compile_text(src);
  BOOST_TEST(format_diagnostics(r.diagnostics, src) ==
             "g.flow:3:34: error: csv_writer 'write' would write 'data.csv', which csv_reader "
             "'read' reads (its 'path', line 2)\n"
             "    3 | node write = csv_writer { path = \"data.csv\" }\n"
             "      |                                  ^~~~~~~~~~\n"
             "hint: a writer truncates its file when it starts, so the reader's data would be "
             "gone; write to another path\n");
}

BOOST_AUTO_TEST_CASE(many_files_are_checked_in_one_pass) {
  std::string src = "graph g\n";
  for (int i = 0; i < 20000; ++i)
    src += "node r" + std::to_string(i) + " = csv_reader { path = \"fc_many_" + std::to_string(i)
           + ".csv\" }\n";
  src += "node w = csv_writer { path = \"fc_many_19999.csv\" }\nr0 -> w\n";
  auto r = compile_text(src);
  BOOST_REQUIRE_EQUAL(r.diagnostics.size(), 1u);
  BOOST_TEST(r.diagnostics[0].location.line == 20002);
}

BOOST_AUTO_TEST_SUITE_END()
