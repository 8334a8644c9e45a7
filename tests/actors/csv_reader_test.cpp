#include "actors/csv_reader.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <charconv>

#include <zlib.h>

using namespace conveyor;
using namespace conveyor::test;

namespace {

std::vector<batch> read_csv(const std::string& path, csv_reader_options o, fake_context& ctx) {
  o.path = path;
  csv_reader r(o);
  r.open(ctx);
  return drain(r);
}

std::size_t total_rows(const std::vector<batch>& bs) {
  std::size_t n = 0;
  for (const auto& b : bs)
    n += b.rows;
  return n;
}

/// A CSV with every difficulty: quotes, doubled quotes, delimiters and newlines in
/// quotes, CRLF, missing cells.
const char* tricky_csv = "id,name,score,label\r\n"
                         "1,\"Smith, John\",1.5,0\r\n"
                         "2,\"say \"\"hi\"\"\",NA,1\n"
                         "3,\"two\nlines\",-2e3,1\n"
                         "4,,  7 ,\n"
                         "5,plain,+3,0\n";

} // namespace

BOOST_AUTO_TEST_SUITE(csv_reader_suite)

BOOST_AUTO_TEST_CASE(a_csv_with_quotes_embedded_newlines_and_missing_cells_parses_into_typed_columns) {
  temp_dir dir;
  write_file(dir.file("t.csv"), tricky_csv);
  fake_context ctx;
  csv_reader_options o;
  o.label = "label";
  o.categorical = {"name"};
  auto bs = read_csv(dir.file("t.csv"), o, ctx);
  BOOST_REQUIRE_EQUAL(bs.size(), 1u);
  const auto& b = bs[0];
  BOOST_REQUIRE_EQUAL(b.rows, 5u);
  BOOST_TEST(ctx.rejected == 0u);
  BOOST_CHECK(b.schema->columns[0] == (column_spec{"id", column_kind::numeric}));
  BOOST_CHECK(b.schema->columns[1] == (column_spec{"name", column_kind::categorical}));
  BOOST_CHECK(b.schema->columns[3] == (column_spec{"label", column_kind::label}));
  BOOST_TEST(*category(b, "name", 0) == "Smith, John");
  BOOST_TEST(*category(b, "name", 1) == "say \"hi\"");
  BOOST_TEST(*category(b, "name", 2) == "two\nlines");
  BOOST_TEST(!category(b, "name", 3).has_value());
  BOOST_TEST(*category(b, "name", 4) == "plain");
  BOOST_TEST(cell(b, "score", 0) == 1.5f);
  BOOST_TEST(std::isnan(cell(b, "score", 1)));
  BOOST_TEST(cell(b, "score", 2) == -2000.0f);
  BOOST_TEST(cell(b, "score", 3) == 7.0f);
  BOOST_TEST(cell(b, "score", 4) == 3.0f);
  BOOST_TEST(std::isnan(cell(b, "label", 3)));
  BOOST_TEST(cell(b, "label", 1) == 1.0f);
  BOOST_TEST(b.first_row == 0u);
  BOOST_TEST(b.position.row == 5u);
  BOOST_TEST(b.position.line == 8u); // 7 lines (one record spans two), next is line 8
  BOOST_TEST(b.position.byte_offset == std::string(tricky_csv).size());
}

BOOST_AUTO_TEST_CASE(all_missing_tokens_become_nan_or_missing_codes) {
  temp_dir dir;
  write_file(dir.file("m.csv"), "x,c\n,\nNA,NA\nN/A,N/A\nNaN,NaN\nnan,nan\nnull,null\nNULL,NULL\n1,a\n");
  fake_context ctx;
  csv_reader_options o;
  o.categorical = {"c"};
  auto bs = read_csv(dir.file("m.csv"), o, ctx);
  BOOST_REQUIRE_EQUAL(total_rows(bs), 8u);
  for (std::size_t r = 0; r < 7; ++r) {
    BOOST_TEST(std::isnan(cell(bs[0], "x", r)));
    BOOST_TEST(!category(bs[0], "c", r).has_value());
  }
  BOOST_TEST(cell(bs[0], "x", 7) == 1.0f);
  BOOST_TEST(*category(bs[0], "c", 7) == "a");
}

BOOST_AUTO_TEST_CASE(without_a_header_columns_are_named_c0_c1_and_the_first_row_is_data) {
  temp_dir dir;
  write_file(dir.file("n.csv"), "1;2;x\n3;4;y\n");
  fake_context ctx;
  csv_reader_options o;
  o.header = false;
  o.delimiter = ';';
  o.categorical = {"c2"};
  o.label = "c1";
  auto bs = read_csv(dir.file("n.csv"), o, ctx);
  BOOST_REQUIRE_EQUAL(bs.size(), 1u);
  BOOST_REQUIRE_EQUAL(bs[0].rows, 2u);
  BOOST_TEST(bs[0].schema->columns[0].name == "c0");
  BOOST_TEST(bs[0].schema->columns[1].kind == column_kind::label);
  BOOST_TEST(cell(bs[0], "c0", 0) == 1.0f);
  BOOST_TEST(cell(bs[0], "c1", 1) == 4.0f);
  BOOST_TEST(*category(bs[0], "c2", 1) == "y");
}

BOOST_AUTO_TEST_CASE(dropped_columns_are_not_read_and_limit_stops_early) {
  temp_dir dir;
  write_file(dir.file("d.csv"), "a,b,c\n1,junk,3\n4,junk,6\n7,junk,9\n");
  fake_context ctx;
  csv_reader_options o;
  o.drop = {"b"};
  o.limit = 2;
  auto bs = read_csv(dir.file("d.csv"), o, ctx);
  BOOST_REQUIRE_EQUAL(total_rows(bs), 2u);
  BOOST_TEST(bs[0].schema->columns.size() == 2u);
  BOOST_TEST(cell(bs[0], "c", 1) == 6.0f);
  BOOST_TEST(ctx.rejected == 0u); // "junk" in a dropped column is never parsed
}

BOOST_AUTO_TEST_CASE(malformed_rows_are_counted_and_quarantined_with_line_numbers_and_nothing_else_is_lost) {
  temp_dir dir;
  write_file(dir.file("bad.csv"), "a,b\n"            // line 1
                                  "1,2\n"            // 2
                                  "3\n"              // 3: too few fields
                                  "abc,4\n"          // 4: not a number
                                  "5,6\n"            // 5
                                  "7,8,9\n"          // 6: too many
                                  "\"x\"y,1\n"       // 7: text after closing quote
                                  "10,11\n"          // 8
                                  "12,\"unterminated\n13,14\n"); // 9: quote never closed
  fake_context ctx;
  csv_reader_options o;
  o.quarantine = dir.file("q.csv");
  o.batch_rows = 2;
  auto bs = read_csv(dir.file("bad.csv"), o, ctx);
  BOOST_TEST(total_rows(bs) == 3u);
  auto rows = rows_as_text(bs);
  BOOST_TEST(rows == (std::vector<std::string>{"1|2|", "5|6|", "10|11|"}),
             boost::test_tools::per_element());
  BOOST_TEST(ctx.rejected == 5u);
  BOOST_REQUIRE_EQUAL(ctx.reject_reasons.size(), 5u);
  BOOST_TEST(ctx.reject_reasons[0] == "line 3: expected 2 fields, got 1");
  BOOST_TEST(ctx.reject_reasons[1] == "line 4: column 'a': cannot parse 'abc' as a number");
  BOOST_TEST(ctx.reject_reasons[2] == "line 6: expected 2 fields, got 3");
  BOOST_TEST(ctx.reject_reasons[3] == "line 7: text after a closing quote");
  BOOST_TEST(ctx.reject_reasons[4] == "line 9: unterminated quoted field at end of file");
  auto q = read_file(dir.file("q.csv"));
  BOOST_TEST(q == "line,reason,raw\n"
                  "3,\"expected 2 fields, got 1\",3\n"
                  "4,column 'a': cannot parse 'abc' as a number,\"abc,4\"\n"
                  "6,\"expected 2 fields, got 3\",\"7,8,9\"\n"
                  "7,text after a closing quote,\"\"\"x\"\"y,1\"\n"
                  "9,unterminated quoted field at end of file,\"12,\"\"unterminated\n13,14\n\"\n");
}

BOOST_AUTO_TEST_CASE(a_restarted_reader_appends_to_its_quarantine_file) {
  temp_dir dir;
  write_file(dir.file("bad.csv"), "a,b\n1,2\nx,3\n4,5\n6\n7,8\n");
  csv_reader_options o;
  o.path = dir.file("bad.csv");
  o.quarantine = dir.file("q.csv");
  o.batch_rows = 1;
  fake_context ctx; // durable state shared by both instances
  std::vector<batch> first;
  {
    csv_reader r(o);
    r.open(ctx);
    collector c;
    r.produce(c);
    r.produce(c); // consumes line 3 (rejected) and line 4
    first = std::move(c.on(0));
  }
  csv_reader r(o);
  r.open(ctx);
  r.resume(first.back().position);
  auto rest = drain(r);
  BOOST_TEST(rows_as_text(rest) == (std::vector<std::string>{"7|8|"}), boost::test_tools::per_element());
  BOOST_TEST(read_file(dir.file("q.csv")) ==
             "line,reason,raw\n"
             "3,column 'a': cannot parse 'x' as a number,\"x,3\"\n"
             "5,\"expected 2 fields, got 1\",6\n");
}

BOOST_AUTO_TEST_CASE(without_a_quarantine_the_first_ten_malformed_rows_are_logged) {
  temp_dir dir;
  std::string text = "a,b\n";
  for (int i = 0; i < 15; ++i)
    text += "1\n";
  text += "1,2\n";
  write_file(dir.file("bad.csv"), text);
  fake_context ctx;
  auto bs = read_csv(dir.file("bad.csv"), csv_reader_options{}, ctx);
  BOOST_TEST(total_rows(bs) == 1u);
  BOOST_TEST(ctx.rejected == 15u);
  BOOST_REQUIRE_EQUAL(ctx.warnings.size(), 10u);
  BOOST_TEST(ctx.warnings[0].find("line 2: expected 2 fields, got 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(records_straddling_chunk_boundaries_parse_the_same_for_every_chunk_size) {
  temp_dir dir;
  write_file(dir.file("t.csv"), tricky_csv);
  csv_reader_options o;
  o.categorical = {"name"};
  o.label = "label";
  fake_context ctx0;
  auto expected = rows_as_text(read_csv(dir.file("t.csv"), o, ctx0));
  for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 16u}) {
    o.chunk_bytes = chunk;
    fake_context ctx;
    auto got = rows_as_text(read_csv(dir.file("t.csv"), o, ctx));
    BOOST_TEST(got == expected, "chunk " << chunk);
    BOOST_TEST(ctx.rejected == 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_missing_label_column_in_the_header_fails_naming_file_and_column) {
  temp_dir dir;
  write_file(dir.file("h.csv"), "a,b\n1,2\n");
  csv_reader_options o;
  o.path = dir.file("h.csv");
  o.label = "target";
  csv_reader r(o);
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [&](const step_failure& e) {
    std::string m = e.what();
    return m.find("h.csv") != std::string::npos && m.find("'target'") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_fails_naming_the_path_and_the_reason) {
  csv_reader_options o;
  o.path = "/nonexistent/dir/x.csv";
  csv_reader r(o);
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [](const step_failure& e) {
    std::string m = e.what();
    return m.find("/nonexistent/dir/x.csv") != std::string::npos &&
           m.find("No such file") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(resuming_after_a_batch_position_continues_exactly_after_it) {
  temp_dir dir;
  std::string text = "x,c\n";
  for (int i = 0; i < 100; ++i) {
    text += std::to_string(i) + ",\"v" + std::to_string(i % 7) + (i % 11 == 0 ? "\nz" : "") + "\"\n";
    if (i % 13 == 0)
      text += "bad row\n";
  }
  write_file(dir.file("r.csv"), text);
  csv_reader_options o;
  o.categorical = {"c"};
  o.batch_rows = 9;
  o.chunk_bytes = 64;
  fake_context ctx;
  auto all = read_csv(dir.file("r.csv"), o, ctx);
  BOOST_REQUIRE_GT(all.size(), 5u);
  auto expected = rows_as_text(all);
  for (std::size_t k = 0; k + 1 < all.size(); ++k) {
    o.path = dir.file("r.csv");
    csv_reader r(o);
    fake_context ctx2;
    r.open(ctx2);
    r.resume(all[k].position);
    auto rest = drain(r);
    BOOST_REQUIRE(!rest.empty());
    BOOST_TEST(rest[0].first_row == all[k + 1].first_row);
    BOOST_TEST(rest[0].position == all[k + 1].position);
    auto got = rows_as_text(rest);
    std::vector<std::string> tail(expected.begin() + static_cast<long>(all[k].position.row),
                                  expected.end());
    BOOST_TEST(got == tail, "resume after batch " << k);
  }
}

BOOST_AUTO_TEST_CASE(gzip_input_reads_like_plain_input_and_resumes) {
  temp_dir dir;
  std::string text = "a,b\n";
  for (int i = 0; i < 1000; ++i)
    text += std::to_string(i) + "," + std::to_string(i * 0.5) + "\n";
  write_file(dir.file("p.csv"), text);
  gzFile gz = gzopen(dir.file("p.csv.gz").c_str(), "wb");
  gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
  gzclose(gz);
  csv_reader_options o;
  o.batch_rows = 128;
  fake_context c1, c2;
  auto plain = read_csv(dir.file("p.csv"), o, c1);
  auto zipped = read_csv(dir.file("p.csv.gz"), o, c2);
  BOOST_TEST(rows_as_text(zipped) == rows_as_text(plain));
  BOOST_TEST(zipped[3].position == plain[3].position);

  o.path = dir.file("p.csv.gz");
  csv_reader r(o);
  fake_context c3;
  r.open(c3);
  r.resume(zipped[3].position);
  auto rest = drain(r);
  BOOST_TEST(rest[0].first_row == 512u);
  BOOST_TEST(cell(rest[0], "a", 0) == 512.0f);
}

BOOST_AUTO_TEST_CASE(a_large_file_splits_into_full_batches_with_contiguous_rows) {
  temp_dir dir;
  std::string text = "a,b,c\n";
  for (int i = 0; i < 20000; ++i)
    text += std::to_string(i) + ",1.25,x" + std::to_string(i % 3) + "\n";
  write_file(dir.file("big.csv"), text);
  csv_reader_options o;
  o.categorical = {"c"};
  fake_context ctx;
  auto bs = read_csv(dir.file("big.csv"), o, ctx);
  BOOST_REQUIRE_EQUAL(bs.size(), 5u);
  std::uint64_t next = 0;
  for (const auto& b : bs) {
    BOOST_TEST(b.first_row == next);
    BOOST_TEST(cell(b, "a", 0) == static_cast<float>(next));
    BOOST_TEST(b.categoricals[0].dictionary.size() == 3u);
    next += b.rows;
  }
  BOOST_TEST(bs[0].rows == 4096u);
  BOOST_TEST(next == 20000u);
}

BOOST_AUTO_TEST_CASE(numbers_parse_exactly_as_std_from_chars_would) {
  temp_dir dir;
  std::vector<std::string> cells{"0", "-0", "1", "0.1", "1234567", "12345678", "-9.999999",
                                 ".5", "5.", "3.14159", "1e3", "-2.5E-3", "0.0000001",
                                 "16777217", "0.30000001", "inf", "-123.4567"};
  std::uint32_t state = 12345;
  for (int i = 0; i < 2000; ++i) {
    state = state * 1664525u + 1013904223u;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(state % 8),
                  static_cast<double>(static_cast<std::int32_t>(state)) / 1e4);
    cells.push_back(buf);
  }
  std::string text = "x\n";
  for (const auto& c : cells)
    text += c + "\n";
  write_file(dir.file("num.csv"), text);
  fake_context ctx;
  auto bs = read_csv(dir.file("num.csv"), csv_reader_options{}, ctx);
  BOOST_TEST(ctx.rejected == 0u);
  std::size_t i = 0;
  for (const auto& b : bs)
    for (std::size_t r = 0; r < b.rows; ++r, ++i) {
      float expected = 0;
      std::from_chars(cells[i].data(), cells[i].data() + cells[i].size(), expected);
      BOOST_TEST(cell(b, "x", r) == expected, cells[i]);
    }
  BOOST_TEST(i == cells.size());
}

BOOST_AUTO_TEST_CASE(a_header_naming_a_column_twice_fails_naming_the_columns_and_their_positions) {
  temp_dir dir;
  write_file(dir.file("dup.csv"), "a,a,y,b,b,b\n1,2,3,4,5,6\n");
  csv_reader_options o;
  o.path = dir.file("dup.csv");
  csv_reader r(o);
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [](const step_failure& e) {
    std::string m = e.what();
    return m.find("dup.csv") != std::string::npos &&
           m.find("'a' at columns 1, 2; 'b' at columns 4, 5, 6") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_quarantine_file_that_cannot_be_written_fails_the_step_at_open_naming_it) {
  temp_dir dir;
  write_file(dir.file("bad.csv"), "a,b\n1,2\nx,3\n");
  csv_reader_options o;
  o.path = dir.file("bad.csv");
  o.quarantine = "/dev/full";
  csv_reader r(o);
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [](const step_failure& e) {
    std::string m = e.what();
    return m.find("'/dev/full'") != std::string::npos &&
           m.find("No space left") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_failed_write_of_quarantined_rows_fails_the_batch_naming_the_quarantine_file) {
  temp_dir dir;
  write_file(dir.file("bad.csv"), "a,b\n1,2\nx,3\n4,5\n");
  csv_reader_options o;
  o.path = dir.file("bad.csv");
  o.quarantine = "/dev/full";
  csv_reader r(o);
  fake_context ctx;
  ctx.state = "quarantine opened"; // a restarted reader appends: no header is written at open
  r.open(ctx);
  collector c;
  BOOST_CHECK_EXCEPTION(r.produce(c), step_failure, [](const step_failure& e) {
    return std::string(e.what()).find("cannot write quarantine file '/dev/full'") !=
           std::string::npos;
  });
  BOOST_TEST(c.on(0).empty()); // the batch is not emitted: it is read again after a restart
}

BOOST_AUTO_TEST_SUITE_END()
