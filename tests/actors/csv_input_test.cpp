// The input side of csv_reader (gz_file): gzip streams that end early or are corrupt
// fail the step naming the file, paths with a NUL byte are refused, and a reader
// waiting on a FIFO ends its stream once the run drains.
#include "actors/csv_reader.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

using namespace conveyor;
using namespace conveyor::test;

namespace {

std::string gzip(const std::string& text) {
  uLong bound = compressBound(static_cast<uLong>(text.size())) + 64;
  std::string out(bound, '\0');
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// "a,b" then rows i,i*1000003 for i < n.
std::string numbered_rows(int n) {
  std::string text = "a,b\n";
  for (int i = 0; i < n; ++i)
    text += std::to_string(i) + "," + std::to_string(std::int64_t{i} * 1000003) + "\n";
  return text;
}

std::vector<batch> read_all(const std::string& path, fake_context& ctx) {
  csv_reader_options o;
  o.path = path;
  csv_reader r(o);
  r.open(ctx);
  return drain(r);
}

bool message_has(const step_failure& e, std::initializer_list<const char*> parts) {
  std::string m = e.what();
  for (const char* p : parts)
    if (m.find(p) == std::string::npos)
      return false;
  return true;
}

/// A FIFO in a fresh directory.
struct fifo {
  temp_dir dir;
  std::string path = dir.file("pipe");
  fifo() { BOOST_REQUIRE_EQUAL(::mkfifo(path.c_str(), 0600), 0); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(csv_input_suite)

BOOST_AUTO_TEST_CASE(a_gzip_file_cut_short_fails_naming_the_file_instead_of_reading_as_shorter) {
  temp_dir dir;
  auto whole = gzip(numbered_rows(100000));
  write_file(dir.file("cut.csv.gz"), whole.substr(0, whole.size() / 2));
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(read_all(dir.file("cut.csv.gz"), ctx), step_failure,
                        [&](const step_failure& e) {
                          return message_has(e, {"cut.csv.gz", "truncated"});
                        });
}

BOOST_AUTO_TEST_CASE(a_gzip_file_cut_inside_its_trailer_fails_too) {
  temp_dir dir;
  auto whole = gzip(numbered_rows(10));
  write_file(dir.file("cut.csv.gz"), whole.substr(0, whole.size() - 3)); // checksum cut
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(read_all(dir.file("cut.csv.gz"), ctx), step_failure,
                        [&](const step_failure& e) {
                          return message_has(e, {"cut.csv.gz", "truncated"});
                        });
}

BOOST_AUTO_TEST_CASE(corrupt_gzip_data_fails_naming_the_file_and_zlibs_reason) {
  temp_dir dir;
  auto whole = gzip(numbered_rows(1000));
  whole[whole.size() - 6] ^= 0x55; // inside the CRC-32 of the trailer
  write_file(dir.file("bad.csv.gz"), whole);
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(read_all(dir.file("bad.csv.gz"), ctx), step_failure,
                        [&](const step_failure& e) {
                          return message_has(e, {"bad.csv.gz", "corrupt gzip data"});
                        });
}

BOOST_AUTO_TEST_CASE(concatenated_gzip_members_read_as_one_stream_and_trailing_bytes_are_ignored) {
  temp_dir dir;
  auto text = numbered_rows(3000);
  auto cut = text.find('\n', text.size() / 2) + 1;
  write_file(dir.file("two.csv.gz"),
             gzip(text.substr(0, cut)) + gzip(text.substr(cut)) + std::string(7, '\0'));
  write_file(dir.file("plain.csv"), text);
  fake_context c1, c2;
  auto expected = rows_as_text(read_all(dir.file("plain.csv"), c1));
  BOOST_TEST(rows_as_text(read_all(dir.file("two.csv.gz"), c2)) == expected);
  BOOST_TEST(expected.size() == 3000u);
}

BOOST_AUTO_TEST_CASE(a_path_with_a_nul_byte_is_refused_rather_than_cut_at_the_nul) {
  temp_dir dir;
  write_file(dir.file("houses"), "a\n1\n");
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(read_all(dir.file("houses") + std::string("\0.csv", 5), ctx),
                        step_failure,
                        [](const step_failure& e) { return message_has(e, {"NUL byte"}); });
}

BOOST_AUTO_TEST_CASE(a_reader_waiting_for_a_fifo_writer_returns_from_open_when_the_run_drains) {
  fifo f;
  fake_context ctx;
  csv_reader_options o;
  o.path = f.path;
  csv_reader r(o);
  auto opened = std::async(std::launch::async, [&] {
    r.open(ctx);
    collector c;
    return r.produce(c);
  });
  ctx.stop = true;
  BOOST_REQUIRE(finishes(opened, [&] { ::close(::open(f.path.c_str(), O_WRONLY | O_NONBLOCK)); }));
  BOOST_TEST(opened.get() == false); // the stream ended
  BOOST_TEST(!ctx.info.empty());
}

BOOST_AUTO_TEST_CASE(a_reader_blocked_reading_a_fifo_ends_after_its_last_complete_row_when_the_run_drains) {
  fifo f;
  fake_context ctx;
  csv_reader_options o;
  o.path = f.path;
  csv_reader r(o);
  auto read = std::async(std::launch::async, [&] {
    r.open(ctx);
    return drain(r);
  });
  int writer = -1;
  // The writer's open waits for the reader's; poll it rather than block.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (writer < 0 && std::chrono::steady_clock::now() < deadline)
    writer = ::open(f.path.c_str(), O_WRONLY | O_NONBLOCK);
  BOOST_REQUIRE(writer >= 0);
  const std::string text = "a,b\n1,2\n3,4\n5,";
  BOOST_REQUIRE_EQUAL(::write(writer, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  // Wait until the reader has taken every byte (it then waits for more), then drain.
  int queued = 1;
  while (queued > 0 && std::chrono::steady_clock::now() < deadline)
    BOOST_REQUIRE_EQUAL(::ioctl(writer, FIONREAD, &queued), 0);
  BOOST_REQUIRE_EQUAL(queued, 0);
  ctx.stop = true;
  bool ended = finishes(read, [&] { ::close(writer); writer = -1; });
  if (writer >= 0)
    ::close(writer);
  BOOST_REQUIRE(ended);
  auto bs = read.get();
  BOOST_TEST(rows_as_text(bs) == (std::vector<std::string>{"1|2|", "3|4|"}),
             boost::test_tools::per_element());
  BOOST_TEST(ctx.rejected == 0u); // the unfinished "5," is not a row
  BOOST_REQUIRE(!bs.empty());
  BOOST_TEST(bs.back().position.byte_offset == text.size() - 2); // before the unfinished row
  BOOST_TEST(bs.back().position.line == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
