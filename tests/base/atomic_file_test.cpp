#include "base/atomic_file.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace conveyor;

namespace {

struct scratch_dir {
  fs::path path = fs::temp_directory_path() / ("conveyor-base-" + std::to_string(::getpid()));
  scratch_dir() { fs::create_directories(path); }
  ~scratch_dir() { fs::remove_all(path); }
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

BOOST_AUTO_TEST_SUITE(atomic_file)

BOOST_AUTO_TEST_CASE(writes_the_bytes_and_replaces_an_old_file_leaving_no_temporary) {
  scratch_dir d;
  auto p = (d.path / "f.bin").string();
  write_file_atomically(p, std::string("old\0bytes", 9));
  BOOST_TEST(read(p) == std::string("old\0bytes", 9));
  write_file_atomically(p, "new");
  BOOST_TEST(read(p) == "new");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(d.path))
    ++entries;
  BOOST_TEST(entries == 1);
  BOOST_TEST(static_cast<int>(fs::status(p).permissions() & fs::perms::all) == 0644);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_an_error_not_created) {
  scratch_dir d;
  auto p = (d.path / "a" / "f").string();
  BOOST_CHECK_THROW(write_file_atomically(p, "x"), std::runtime_error);
  BOOST_TEST(!fs::exists(d.path / "a"));
}

BOOST_AUTO_TEST_CASE(a_failure_names_the_path_and_keeps_the_old_file) {
  scratch_dir d;
  auto target = d.path / "dir-in-the-way";
  fs::create_directories(target / "child"); // rename over a non-empty directory fails
  try {
    write_file_atomically(target.string(), "x");
    BOOST_FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(target.string()) != std::string::npos, e.what());
  }
  BOOST_TEST(fs::is_directory(target / "child"));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(d.path))
    ++entries;
  BOOST_TEST(entries == 1); // the temporary is gone
}

BOOST_AUTO_TEST_CASE(directory_of_a_path) {
  BOOST_TEST(directory_of("f") == ".");
  BOOST_TEST(directory_of("/f") == "/");
  BOOST_TEST(directory_of("a/b/f") == "a/b");
}

BOOST_AUTO_TEST_SUITE_END()
