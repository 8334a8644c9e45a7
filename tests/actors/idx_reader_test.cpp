#include "actors/idx_reader.hpp"

#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <future>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

using namespace conveyor;
using namespace conveyor::test;

namespace {

void put_be32(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v >> 24);
  s += static_cast<char>(v >> 16);
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v);
}

/// n images of 2x3 pixels: pixel k of image i = (i * 7 + k) % 256; label i = i % 10.
void write_idx(const std::string& images, const std::string& labels, std::uint32_t n, bool gz,
               std::uint32_t image_magic = 0x803, std::uint32_t label_count = 0,
               std::size_t truncate_images_by = 0) {
  std::string img, lab;
  put_be32(img, image_magic);
  put_be32(img, n);
  put_be32(img, 2);
  put_be32(img, 3);
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t k = 0; k < 6; ++k)
      img += static_cast<char>((i * 7 + k) % 256);
  img.resize(img.size() - truncate_images_by);
  put_be32(lab, 0x801);
  put_be32(lab, label_count ? label_count : n);
  for (std::uint32_t i = 0; i < n; ++i)
    lab += static_cast<char>(i % 10);
  auto put = [&](const std::string& path, const std::string& data) {
    if (!gz) {
      write_file(path, data);
      return;
    }
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, data.data(), static_cast<unsigned>(data.size()));
    gzclose(f);
  };
  put(images, img);
  put(labels, lab);
}

std::vector<batch> read_idx(const std::string& images, const std::string& labels,
                            std::uint32_t batch_rows, fake_context& ctx) {
  idx_reader r({images, labels, batch_rows, 0});
  r.open(ctx);
  return drain(r);
}

void check_image_rows(const std::vector<batch>& bs, std::uint32_t n) {
  std::uint32_t i = 0;
  for (const auto& b : bs) {
    BOOST_REQUIRE_EQUAL(b.schema->columns.size(), 7u);
    for (std::uint32_t r = 0; r < b.rows; ++r, ++i) {
      for (std::uint32_t k = 0; k < 6; ++k)
        BOOST_TEST(cell(b, "px" + std::to_string(k), r) == static_cast<float>((i * 7 + k) % 256));
      BOOST_TEST(cell(b, "label", r) == static_cast<float>(i % 10));
    }
  }
  BOOST_TEST(i == n);
}

const std::string fashion_mnist_dir = "/usr/share/datasets/fashion-mnist/";

/// Tests on the real data set are reported as skipped (not passed) without it.
boost::test_tools::assertion_result fashion_mnist_installed(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result present =
    std::filesystem::exists(fashion_mnist_dir + "t10k-images-idx3-ubyte.gz");
  if (!present)
    present.message() << fashion_mnist_dir << " is absent (install dataset-fashion-mnist)";
  return present;
}

} // namespace

BOOST_AUTO_TEST_SUITE(idx_reader_suite)

BOOST_AUTO_TEST_CASE(a_plain_idx_pair_streams_as_pixel_columns_and_a_label) {
  temp_dir dir;
  write_idx(dir.file("i"), dir.file("l"), 50, false);
  fake_context ctx;
  auto bs = read_idx(dir.file("i"), dir.file("l"), 16, ctx);
  BOOST_REQUIRE_EQUAL(bs.size(), 4u);
  BOOST_TEST(bs[3].rows == 2u);
  BOOST_TEST(bs[0].schema->columns[6] == (column_spec{"label", column_kind::label}));
  BOOST_TEST(bs[1].first_row == 16u);
  BOOST_TEST(bs[1].position.row == 32u);
  check_image_rows(bs, 50);
}

BOOST_AUTO_TEST_CASE(a_gzipped_idx_pair_reads_the_same_and_resumes_by_row) {
  temp_dir dir;
  write_idx(dir.file("i.gz"), dir.file("l.gz"), 50, true);
  fake_context ctx;
  auto bs = read_idx(dir.file("i.gz"), dir.file("l.gz"), 16, ctx);
  check_image_rows(bs, 50);

  idx_reader r({dir.file("i.gz"), dir.file("l.gz"), 16, 0});
  fake_context ctx2;
  r.open(ctx2);
  r.resume(bs[1].position);
  auto rest = drain(r);
  BOOST_REQUIRE_EQUAL(rest.size(), 2u);
  BOOST_TEST(rest[0].first_row == 32u);
  BOOST_TEST(rows_as_text(rest) == rows_as_text({bs[2], bs[3]}));
}

BOOST_AUTO_TEST_CASE(a_bad_magic_number_fails_naming_the_file_and_the_expected_magic) {
  temp_dir dir;
  write_idx(dir.file("i"), dir.file("l"), 5, false, 0x801);
  idx_reader r({dir.file("i"), dir.file("l"), 16, 0});
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [&](const step_failure& e) {
    std::string m = e.what();
    return m.find(dir.file("i")) != std::string::npos && m.find("0x00000803") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(different_item_counts_fail_naming_both_files) {
  temp_dir dir;
  write_idx(dir.file("i"), dir.file("l"), 5, false, 0x803, 6);
  idx_reader r({dir.file("i"), dir.file("l"), 16, 0});
  fake_context ctx;
  BOOST_CHECK_EXCEPTION(r.open(ctx), step_failure, [&](const step_failure& e) {
    std::string m = e.what();
    return m.find("5 images") != std::string::npos && m.find("6 labels") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_truncated_image_file_fails_saying_what_was_expected) {
  temp_dir dir;
  write_idx(dir.file("i.gz"), dir.file("l.gz"), 40, true, 0x803, 0, 10);
  idx_reader r({dir.file("i.gz"), dir.file("l.gz"), 16, 0});
  fake_context ctx;
  r.open(ctx);
  collector c;
  BOOST_TEST(r.produce(c));
  BOOST_TEST(r.produce(c));
  BOOST_CHECK_EXCEPTION(r.produce(c), step_failure, [&](const step_failure& e) {
    std::string m = e.what();
    return m.find("truncated") != std::string::npos && m.find("40 images") != std::string::npos &&
           m.find("ends after 38 images") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(a_reader_waiting_for_a_fifo_writer_ends_its_stream_when_the_run_drains) {
  temp_dir dir;
  const auto images = dir.file("images");
  BOOST_REQUIRE_EQUAL(::mkfifo(images.c_str(), 0600), 0);
  write_idx(dir.file("unused"), dir.file("labels"), 4, false);
  fake_context ctx;
  idx_reader r({images, dir.file("labels"), 2, 0});
  auto read = std::async(std::launch::async, [&] {
    r.open(ctx);
    collector c;
    return r.produce(c);
  });
  ctx.stop = true;
  BOOST_REQUIRE(finishes(read, [&] { ::close(::open(images.c_str(), O_WRONLY | O_NONBLOCK)); }));
  BOOST_TEST(read.get() == false);
  BOOST_TEST(!ctx.info.empty());
}

BOOST_AUTO_TEST_CASE(the_fashion_mnist_test_set_has_10000_rows_and_its_first_label_is_9,
                     *boost::unit_test::precondition(fashion_mnist_installed)) {
  const std::string dir = fashion_mnist_dir;
  fake_context ctx;
  auto bs = read_idx(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz", 512,
                     ctx);
  std::size_t rows = 0;
  for (const auto& b : bs)
    rows += b.rows;
  BOOST_TEST(rows == 10000u);
  BOOST_TEST(bs[0].schema->columns.size() == 785u);
  BOOST_TEST(cell(bs[0], "label", 0) == 9.0f);
  float max_px = 0;
  for (std::size_t k = 0; k < 784; ++k)
    max_px = std::max(max_px, bs[0].float_column(k)[0]);
  BOOST_TEST(max_px <= 255.0f);
  BOOST_TEST(max_px > 0.0f);
}

BOOST_AUTO_TEST_SUITE_END()
