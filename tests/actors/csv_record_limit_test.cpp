// Records of any length cost linear time, and records longer than `max_record` are
// rejected by their line and skipped with memory bounded by the limit.
#include "actors/csv_reader.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

namespace {

/// Tokenizes `path` to its end; returns "LINE:STATUS" per record, STATUS being the
/// field count of a record or "long".
std::vector<std::string> records(csv_tokenizer& t) {
  std::vector<std::string> out;
  std::vector<csv_field> fields;
  for (;;) {
    auto st = t.next(fields);
    if (st == csv_tokenizer::status::end)
      return out;
    out.push_back(std::to_string(t.record_line()) + ":" +
                  (st == csv_tokenizer::status::too_long ? std::string("long")
                                                         : std::to_string(fields.size())));
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(csv_record_limit_suite)

BOOST_AUTO_TEST_CASE(a_record_longer_than_max_record_is_quarantined_by_its_line_and_the_rows_around_it_are_kept) {
  temp_dir dir;
  const std::string long_plain = std::string(2000, 'x') + ",9";
  const std::string long_quoted = "\"multi\nline " + std::string(2000, 'y') + "\",5";
  const std::string text = "a,b\n"                                       // line 1
                           "1,2\n"                                       // 2
                           + long_plain + "\n"                           // 3: too long
                           "3,4\n"                                       // 4
                           + long_quoted + "\n"                          // 5-6: too long
                           + std::string(997, ' ') + "6,7\n"             // 7: 1000 bytes, kept
                           + std::string(997, ' ') + "8,9\r\n"           // 8: 1000 + CR, kept
                           + std::string(998, ' ') + "0,1\n"             // 9: 1001, too long
                           "10,11\n";                                    // 10
  write_file(dir.file("long.csv"), text);
  for (std::size_t chunk : {1u, 7u, 64u, 1000u, 4096u, 1u << 20}) {
    csv_reader_options o;
    o.path = dir.file("long.csv");
    o.quarantine = dir.file("q.csv");
    o.max_record = 1000;
    o.chunk_bytes = chunk;
    o.batch_rows = 2;
    fake_context ctx;
    csv_reader r(o);
    r.open(ctx);
    auto bs = drain(r);
    BOOST_TEST(rows_as_text(bs) ==
                 (std::vector<std::string>{"1|2|", "3|4|", "6|7|", "8|9|", "10|11|"}),
               boost::test_tools::per_element());
    BOOST_TEST(ctx.reject_reasons ==
                 (std::vector<std::string>{"line 3: record longer than max_record (1000 bytes)",
                                           "line 5: record longer than max_record (1000 bytes)",
                                           "line 9: record longer than max_record (1000 bytes)"}),
               boost::test_tools::per_element());
    BOOST_REQUIRE(!bs.empty());
    BOOST_TEST(bs.back().position.line == 11u, "chunk " << chunk);
    BOOST_TEST(bs.back().position.byte_offset == text.size(), "chunk " << chunk);
    // The quarantine keeps each long record's line and its first 256 bytes.
    BOOST_TEST(read_file(dir.file("q.csv")) ==
               "line,reason,raw\n"
               "3,record longer than max_record (1000 bytes)," + long_plain.substr(0, 256) + "\n"
               "5,record longer than max_record (1000 bytes),\"\"\"multi\nline " +
                 std::string(256 - 12, 'y') + "\"\n"
               "9,record longer than max_record (1000 bytes),\"" + std::string(256, ' ') + "\"\n");
  }
}

BOOST_AUTO_TEST_CASE(a_long_record_is_skipped_examining_each_byte_a_bounded_number_of_times_in_bounded_memory) {
  temp_dir dir;
  const std::size_t big = 4u << 20;
  std::string text = "a\n" + std::string(big, 'x') + "\n\"" + std::string(big, '"') + "\"\n1\n";
  write_file(dir.file("long.csv"), text);
  gz_file f(dir.file("long.csv"));
  const std::size_t chunk = 4096, limit = 64u << 10;
  csv_tokenizer t(f, ',', chunk, limit);
  BOOST_TEST(records(t) == (std::vector<std::string>{"1:1", "2:long", "3:long", "4:1"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.bytes_scanned() <= 3 * text.size());
  BOOST_TEST(t.buffer_bytes() <= 4 * (limit + chunk));
}

BOOST_AUTO_TEST_CASE(a_long_record_under_the_limit_straddling_many_chunks_is_scanned_in_linear_time) {
  temp_dir dir;
  std::string field;
  for (int i = 0; i < 40000; ++i)
    field += "a, \"\"b\"\"\nc "; // delimiters, doubled quotes and line breaks inside quotes
  std::string text = "x,y\n\"" + field + "\",2\n3,4\n";
  write_file(dir.file("long.csv"), text);
  gz_file f(dir.file("long.csv"));
  csv_tokenizer t(f, ',', 4096, 4u << 20);
  BOOST_TEST(records(t) == (std::vector<std::string>{"1:2", "2:2", "40003:2"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.bytes_scanned() <= 3 * text.size());
}

BOOST_AUTO_TEST_CASE(max_record_is_a_size_parameter_of_4_mib_by_default_and_must_be_positive) {
  auto kind = csv_reader_kind();
  const auto* p = kind.schema.find_param("max_record");
  BOOST_REQUIRE(p != nullptr);
  BOOST_CHECK(p->type == dsl::param_type::size);
  BOOST_TEST(p->default_value->as_size().bytes == 4u << 20);
  BOOST_CHECK_EXCEPTION(make_step(kind, {{"path", "x.csv"}, {"max_record", dsl::size_value{0}}}),
                        step_failure, [](const step_failure& e) {
                          return std::string(e.what()).find("max_record") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(without_a_header_long_first_records_are_rejected_and_the_first_short_one_counts_the_columns) {
  temp_dir dir;
  write_file(dir.file("n.csv"), std::string(50, '1') + ",2,3\n4,5\n6,7\n");
  csv_reader_options o;
  o.path = dir.file("n.csv");
  o.header = false;
  o.max_record = 10;
  fake_context ctx;
  csv_reader r(o);
  r.open(ctx);
  auto bs = drain(r);
  BOOST_TEST(rows_as_text(bs) == (std::vector<std::string>{"4|5|", "6|7|"}),
             boost::test_tools::per_element());
  BOOST_TEST(ctx.reject_reasons ==
               (std::vector<std::string>{"line 1: record longer than max_record (10 bytes)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_header_longer_than_max_record_fails_naming_the_file) {
  temp_dir dir;
  write_file(dir.file("h.csv"), std::string(50, 'h') + "\n1\n");
  csv_reader_options o;
  o.path = dir.file("h.csv");
  o.max_record = 10;
  fake_context ctx;
  csv_reader r(o);
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [](const step_failure& e) {
    std::string m = e.what();
    return m.find("h.csv") != std::string::npos && m.find("max_record") != std::string::npos;
  });
}

BOOST_AUTO_TEST_SUITE_END()
