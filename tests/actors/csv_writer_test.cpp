#include "actors/builtin_kinds.hpp"
#include "actors/csv_reader.hpp"
#include "actors/csv_writer.hpp"
#include "dsl/front_end.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace conveyor;
using namespace conveyor::test;

BOOST_AUTO_TEST_SUITE(csv_writer_suite)

BOOST_AUTO_TEST_CASE(written_rows_read_back_equal_with_csv_reader) {
  temp_dir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto b1 = make_batch({{"x", {0.1f, -3.25e-7f, nan}}, {"label", {1, 0, 2}}},
                       {{"name", {"plain", "with, comma", "quote \" and\nnewline"}}}, "label");
  auto b2 = make_batch({{"x", {123456789.0f, 1.0f / 3.0f, 2}}, {"label", {nan, 1, 1}}},
                       {{"name", {"<NA>", " padded ", "z"}}}, "label");
  {
    auto w = make_step(csv_writer_kind(), {{"path", dir.file("out.csv")}});
    fake_context ctx;
    w->open(ctx);
    push(*w, {b1, b2});
  }
  csv_reader_options o;
  o.path = dir.file("out.csv");
  o.label = "label";
  o.categorical = {"name"};
  csv_reader r(o);
  fake_context ctx;
  r.open(ctx);
  auto back = drain(r);
  BOOST_TEST(ctx.rejected == 0u);
  BOOST_TEST(*back[0].schema == *b1.schema);
  BOOST_TEST(rows_as_text(back) == rows_as_text({b1, b2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_restarted_writer_appends_without_a_second_header) {
  temp_dir dir;
  fake_context ctx;
  auto path = dir.file("out.csv");
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}, {"delimiter", ";"}});
    w->open(ctx);
    push(*w, {make_batch({{"a", {1}}, {"b", {2}}})});
  }
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}, {"delimiter", ";"}});
    w->open(ctx); // same context: durable state says the header is there
    push(*w, {make_batch({{"a", {3}}, {"b", {4}}})});
  }
  BOOST_TEST(read_file(path) == "a;b\n1;2\n3;4\n");
}

namespace {

batch numbered(std::uint64_t sequence, float a) {
  auto b = make_batch({{"a", {a}}, {"b", {a + 1}}});
  b.source = "read";
  b.sequence = sequence;
  return b;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_restarted_writer_cuts_what_it_had_not_recorded_and_skips_what_it_had) {
  // Batch 2 reached the file but its state was lost (the writer failed before its
  // acknowledgement, or the coordinator died before journaling it): the restart cuts
  // the file back to what the state recorded, and the replay writes each row once.
  temp_dir dir;
  auto path = dir.file("out.csv");
  fake_context ctx;
  std::optional<std::string> after_first;
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}});
    w->open(ctx);
    push(*w, {numbered(1, 1)}, false);
    after_first = ctx.state;
    push(*w, {numbered(2, 3)}, false);
  }
  BOOST_TEST(read_file(path) == "a,b\n1,2\n3,4\n");
  ctx.state = after_first;
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}});
    w->open(ctx);
    BOOST_TEST(read_file(path) == "a,b\n1,2\n");
    push(*w, {numbered(1, 1), numbered(2, 3), numbered(3, 5)}); // 1: a replay, skipped
  }
  BOOST_TEST(read_file(path) == "a,b\n1,2\n3,4\n5,6\n");
  // Once more from the last state: nothing is cut, the replays are all skipped.
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}});
    w->open(ctx);
    push(*w, {numbered(2, 3), numbered(3, 5)});
  }
  BOOST_TEST(read_file(path) == "a,b\n1,2\n3,4\n5,6\n");
}

BOOST_AUTO_TEST_CASE(a_file_shorter_than_its_state_says_is_appended_to_with_a_warning) {
  // Restarted on a machine whose disk does not hold what the first node wrote.
  temp_dir dir;
  auto path = dir.file("out.csv");
  fake_context ctx;
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}});
    w->open(ctx);
    push(*w, {numbered(1, 1)});
  }
  std::filesystem::remove(path);
  {
    auto w = make_step(csv_writer_kind(), {{"path", path}});
    w->open(ctx);
    push(*w, {numbered(2, 3)});
  }
  BOOST_TEST(read_file(path) == "a,b\n3,4\n"); // an empty file gets its header again
  BOOST_TEST_REQUIRE(ctx.warnings.size() == 1u);
  BOOST_TEST(ctx.warnings[0].find("holds 0 bytes, fewer than the 8 its saved state") !=
               std::string::npos,
             ctx.warnings[0]);
}

BOOST_AUTO_TEST_CASE(a_saved_state_that_does_not_read_fails_naming_the_line) {
  temp_dir dir;
  fake_context ctx;
  ctx.state = "csv_writer state 2\nheader 1\nlength x\n";
  auto w = make_step(csv_writer_kind(), {{"path", dir.file("out.csv")}});
  try {
    w->open(ctx);
    BOOST_FAIL("open accepted a state that does not read");
  } catch (const step_failure& e) {
    BOOST_TEST(std::string(e.what()).find("cannot read its saved state for '" +
                                          dir.file("out.csv") + "': line 3 'length x'") !=
                 std::string::npos,
               e.what());
  }
  ctx.state = "header written"; // an earlier release's state: append after the header
  {
    std::ofstream(dir.file("old.csv")) << "a,b\n1,2\n";
    auto old = make_step(csv_writer_kind(), {{"path", dir.file("old.csv")}});
    old->open(ctx);
    push(*old, {numbered(2, 3)});
  }
  BOOST_TEST(read_file(dir.file("old.csv")) == "a,b\n1,2\n3,4\n");
}

BOOST_AUTO_TEST_CASE(a_batch_is_in_the_file_when_consume_returns_before_the_input_ends) {
  // A never-ending stream has no end to flush at: each batch is acknowledged (and its
  // messages acknowledged to a broker) as soon as consume returns.
  temp_dir dir;
  auto path = dir.file("out.csv");
  auto w = make_step(csv_writer_kind(), {{"path", path}});
  fake_context ctx;
  w->open(ctx);
  push(*w, {make_batch({{"a", {1, 2}}, {"b", {3, 4}}})}, false);
  BOOST_TEST(read_file(path) == "a,b\n1,3\n2,4\n");
}

BOOST_AUTO_TEST_CASE(an_unwritable_path_fails_naming_it) {
  auto w = make_step(csv_writer_kind(), {{"path", "/nonexistent/dir/out.csv"}});
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(w->open(ctx), step_failure, [](const step_failure& e) {
    return std::string(e.what()).find("/nonexistent/dir/out.csv") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_graph_whose_writer_would_truncate_a_readers_input_does_not_compile) {
  kind_registry kinds;
  register_builtin_kinds(kinds);
  temp_dir dir;
  write_file(dir.file("in.csv"), "a\n1\n");
  auto graph = [&](const std::string& reader, const std::string& writer) {
    return "graph g\n"
           "node read = csv_reader { path = \"" + reader + "\" }\n"
           "node write = csv_writer { path = \"" + writer + "\" }\n"
           "read -> write\n";
  };
  auto code_of = [&](const std::string& src) {
    auto r = dsl::compile(src, kinds);
    return r.diagnostics.empty() ? std::string("ok") : dsl::to_string(r.diagnostics[0].code);
  };
  BOOST_TEST(code_of(graph(dir.file("in.csv"), dir.file("./in.csv"))) == "file_conflict");
  BOOST_TEST(code_of(graph(dir.file("in.csv"), dir.file("out.csv"))) == "ok");
  BOOST_TEST(read_file(dir.file("in.csv")) == "a\n1\n");
}

BOOST_AUTO_TEST_CASE(the_builtin_readers_and_writers_declare_the_files_they_read_and_write) {
  auto role = [](const kind_entry& k, const char* param) { return k.schema.find_param(param)->role; };
  BOOST_CHECK(role(csv_reader_kind(), "path") == dsl::param_role::reads_file);
  BOOST_CHECK(role(csv_reader_kind(), "quarantine") == dsl::param_role::writes_file);
  BOOST_CHECK(role(csv_writer_kind(), "path") == dsl::param_role::writes_file);
  kind_registry kinds;
  register_builtin_kinds(kinds);
  BOOST_CHECK(kinds.find("idx_reader")->schema.find_param("images")->role ==
              dsl::param_role::reads_file);
  BOOST_CHECK(kinds.find("idx_reader")->schema.find_param("labels")->role ==
              dsl::param_role::reads_file);
}

BOOST_AUTO_TEST_SUITE_END()
