// registry: increasing versions, idempotent publishing, pruning without reuse, name and
// content validation, concurrent publishers, and readers that ignore stray files.
#include "compute/model_file.hpp"
#include "serving/registry.hpp"

#include "tests/compute/test_models.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace conveyor;
using serving::registry;

namespace {

/// A fresh directory under the system temp dir, removed at scope exit.
class temp_dir {
public:
  temp_dir() {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("conveyor_registry_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
              .string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// The bytes of a small logistic model; a different `w` gives different bytes.
std::string model_bytes(float w) { return conveyor::test::logistic_bytes(w); }

std::vector<std::uint64_t> version_numbers(const registry& r, const std::string& name) {
  std::vector<std::uint64_t> out;
  for (const auto& v : r.versions(name))
    out.push_back(v.version);
  return out;
}

void touch(const std::string& path, const std::string& text = "x") {
  std::ofstream(path, std::ios::binary) << text;
}

/// The process's peak resident memory since the last reset, in bytes (Linux).
std::uint64_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stoull(line.substr(6)) * 1024;
  return 0;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

/// `bytes` at `path`, then a hole of `hole` bytes (sparse: no disk, reads as zeros), then
/// `tail`.
void write_with_hole(const std::string& path, const std::string& bytes, std::uint64_t hole,
                     const std::string& tail = {}) {
  {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  std::filesystem::resize_file(path, bytes.size() + hole);
  std::ofstream(path, std::ios::binary | std::ios::in | std::ios::ate) << tail;
}

/// A model file's last 14 bytes: the key "checksum" and its uint32.
std::string trailer_of(const std::string& model) { return model.substr(model.size() - 14); }

/// `body` (a model map without its trailer) closed with a trailer holding its CRC-32.
std::string with_trailer(const std::string& body) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char byte : body) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xffffffffu;
  std::string out = body + "\xa8" "checksum" "\xce";
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((crc >> shift) & 0xff));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(registry_suite)

BOOST_AUTO_TEST_CASE(versions_start_at_one_and_increase_with_each_new_model) {
  temp_dir tmp;
  registry r(tmp.path() + "/models");
  BOOST_TEST(r.names().empty()); // a missing root is an empty registry
  for (int i = 1; i <= 3; ++i) {
    auto p = r.publish("fashion", model_bytes(static_cast<float>(i)));
    BOOST_TEST(p.created);
    BOOST_TEST(p.version == static_cast<std::uint64_t>(i));
    BOOST_TEST(p.path == tmp.path() + "/models/fashion/" + std::to_string(i) + ".model");
  }
  BOOST_TEST(version_numbers(r, "fashion") == (std::vector<std::uint64_t>{1, 2, 3}),
             boost::test_tools::per_element());
  auto latest = r.latest("fashion");
  BOOST_TEST_REQUIRE(latest.has_value());
  BOOST_TEST(latest->version == 3u);
  BOOST_TEST(latest->size_bytes == model_bytes(3).size());
  BOOST_TEST(latest->modified_unix > 0);
  auto loaded = r.load("fashion", 2);
  BOOST_TEST_REQUIRE(bool(loaded), loaded.error);
  BOOST_TEST(loaded.value->weights[0] == 2.0f);
  BOOST_TEST(!r.latest("other").has_value());
}

BOOST_AUTO_TEST_CASE(republishing_identical_bytes_returns_the_existing_version_and_creates_nothing) {
  temp_dir tmp;
  registry r(tmp.path());
  r.publish("m", model_bytes(1));
  r.publish("m", model_bytes(2));
  auto again = r.publish("m", model_bytes(2));
  BOOST_TEST(!again.created);
  BOOST_TEST(again.version == 2u);
  auto older = r.publish("m", model_bytes(1));
  BOOST_TEST(!older.created);
  BOOST_TEST(older.version == 1u);
  BOOST_TEST(version_numbers(r, "m").size() == 2u);
  BOOST_TEST(r.publish("m", model_bytes(3)).version == 3u);
}

BOOST_AUTO_TEST_CASE(keep_prunes_the_oldest_versions_and_their_numbers_are_never_reused) {
  temp_dir tmp;
  registry r(tmp.path());
  for (int i = 1; i <= 4; ++i)
    r.publish("m", model_bytes(static_cast<float>(i)), 2);
  BOOST_TEST(version_numbers(r, "m") == (std::vector<std::uint64_t>{3, 4}),
             boost::test_tools::per_element());
  // Removing the newest by hand does not free its number either.
  BOOST_TEST(r.remove("m", 4));
  BOOST_TEST(!r.remove("m", 4));
  auto p = r.publish("m", model_bytes(5), 2);
  BOOST_TEST(p.version == 5u);
  BOOST_TEST(p.pruned.empty());
  auto q = r.publish("m", model_bytes(6), 2);
  BOOST_TEST(q.version == 6u);
  BOOST_TEST(q.pruned == (std::vector<std::uint64_t>{3}), boost::test_tools::per_element());
  // Bytes of a pruned version are new again.
  BOOST_TEST(r.publish("m", model_bytes(1), 0).version == 7u);
  BOOST_TEST(version_numbers(r, "m") == (std::vector<std::uint64_t>{5, 6, 7}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(invalid_model_names_are_rejected_naming_the_name) {
  temp_dir tmp;
  registry r(tmp.path());
  for (const std::string& bad : std::vector<std::string>{
         "", ".", "..", ".hidden", "../escape", "a/b", "a b", "name\n", std::string(129, 'x')}) {
    BOOST_TEST(!serving::valid_model_name(bad), bad);
    try {
      r.publish(bad, model_bytes(1));
      BOOST_ERROR("accepted '" << bad << "'");
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).find("'" + bad + "'") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(r.versions(bad), std::invalid_argument);
    BOOST_CHECK_THROW(r.path_of(bad, 1), std::invalid_argument);
  }
  for (const std::string& good :
       std::vector<std::string>{"fashion", "Fashion-MNIST_v2.1", std::string(128, 'x')})
    BOOST_TEST(serving::valid_model_name(good), good);
  BOOST_TEST(std::filesystem::is_empty(tmp.path()));
}

BOOST_AUTO_TEST_CASE(bytes_that_do_not_decode_are_rejected_with_the_decoders_message) {
  temp_dir tmp;
  registry r(tmp.path());
  auto expect_rejected = [&](const std::string& bytes, const std::string& message) {
    try {
      r.publish("m", bytes);
      BOOST_ERROR("accepted corrupt bytes");
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).find(message) != std::string::npos, e.what());
    }
  };
  expect_rejected("not a model", "no checksum at the end");
  auto flipped = model_bytes(1);
  flipped[flipped.size() / 2] ^= 0x10;
  expect_rejected(flipped, "checksum mismatch");
  expect_rejected("", "empty input");
  BOOST_TEST(r.names().empty());
}

BOOST_AUTO_TEST_CASE(concurrent_publishers_on_several_threads_get_distinct_versions) {
  temp_dir tmp;
  constexpr int threads = 4;
  constexpr int per_thread = 5;
  std::mutex mutex;
  std::multiset<std::uint64_t> created;
  std::set<std::uint64_t> shared_versions;
  std::vector<std::thread> pool;
  const auto shared = model_bytes(1000);
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      registry r(tmp.path()); // an object each, as separate processes would have
      for (int i = 0; i < per_thread; ++i) {
        auto p = r.publish("m", model_bytes(static_cast<float>(t * 100 + i)));
        auto s = r.publish("m", shared); // every thread publishes these same bytes
        std::lock_guard<std::mutex> g(mutex);
        created.insert(p.version);
        shared_versions.insert(s.version);
      }
    });
  for (auto& th : pool)
    th.join();
  BOOST_TEST(created.size() == static_cast<std::size_t>(threads * per_thread));
  BOOST_TEST(std::set<std::uint64_t>(created.begin(), created.end()).size() == created.size());
  BOOST_TEST(shared_versions.size() == 1u); // filed once, whoever came first
  BOOST_TEST(version_numbers(registry(tmp.path()), "m").size() ==
             static_cast<std::size_t>(threads * per_thread + 1));
}

BOOST_AUTO_TEST_CASE(concurrent_publishers_in_several_processes_get_distinct_versions) {
  temp_dir tmp;
  constexpr int processes = 3;
  constexpr int per_process = 4;
  std::vector<pid_t> children;
  for (int c = 0; c < processes; ++c) {
    const pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        registry r(tmp.path());
        for (int i = 0; i < per_process; ++i)
          if (!r.publish("m", model_bytes(static_cast<float>(c * 100 + i))).created)
            status = 1;
      } catch (...) {
        status = 2;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = -1;
    ::waitpid(pid, &status, 0);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  std::vector<std::uint64_t> expected;
  for (int v = 1; v <= processes * per_process; ++v)
    expected.push_back(static_cast<std::uint64_t>(v));
  BOOST_TEST(version_numbers(registry(tmp.path()), "m") == expected,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(readers_ignore_stray_files_and_directories) {
  temp_dir tmp;
  registry r(tmp.path());
  r.publish("m", model_bytes(1));
  const auto dir = tmp.path() + "/m/";
  touch(dir + "2.model.tmp-abc123"); // a temporary left by a crash
  touch(dir + "notes.txt");
  touch(dir + "007.model");
  touch(dir + "x.model");
  touch(dir + ".model");
  std::filesystem::create_directories(dir + "9.model"); // not a regular file
  std::filesystem::create_directories(tmp.path() + "/.hidden/1.model");
  std::filesystem::create_directories(tmp.path() + "/empty");
  touch(tmp.path() + "/README");
  BOOST_TEST(version_numbers(r, "m") == (std::vector<std::uint64_t>{1}),
             boost::test_tools::per_element());
  BOOST_TEST(r.names() == (std::vector<std::string>{"m"}), boost::test_tools::per_element());
  // The next version ignores the strays as well.
  BOOST_TEST(r.publish("m", model_bytes(2)).version == 2u);
}

BOOST_AUTO_TEST_CASE(names_are_sorted_and_a_missing_version_loads_as_an_error) {
  temp_dir tmp;
  registry r(tmp.path());
  r.publish("zeta", model_bytes(1));
  r.publish("alpha", model_bytes(1));
  BOOST_TEST(r.names() == (std::vector<std::string>{"alpha", "zeta"}),
             boost::test_tools::per_element());
  auto missing = r.load("alpha", 9);
  BOOST_TEST(!missing);
  BOOST_TEST(missing.error.find("9.model") != std::string::npos, missing.error);
}

BOOST_AUTO_TEST_CASE(io_failures_throw_runtime_errors_naming_the_path) {
  temp_dir tmp;
  touch(tmp.path() + "/file");
  registry r(tmp.path() + "/file"); // the root is a regular file
  try {
    r.publish("m", model_bytes(1));
    BOOST_ERROR("published under a file");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(tmp.path() + "/file") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_file_over_the_limit_or_without_a_trailer_is_refused_without_being_read) {
  temp_dir tmp;
  registry r(tmp.path());
  r.publish("m", model_bytes(1));
  // 256 MiB of zeros (sparse): no trailer, so nothing beyond it is read.
  write_with_hole(r.path_of("m", 2), {}, std::uint64_t{256} << 20);
  reset_peak_rss();
  const auto before = peak_rss();
  auto zeros = r.load("m", 2);
  BOOST_TEST(!zeros);
  BOOST_TEST(zeros.error.find("no checksum at the end") != std::string::npos, zeros.error);
  auto limited = r.load("m", 2, std::size_t{64} << 20);
  BOOST_TEST(limited.error.find("file too large (268435456 bytes; the limit is 67108864)") !=
               std::string::npos,
             limited.error);
  BOOST_TEST(peak_rss() - before < (std::uint64_t{16} << 20));
  BOOST_TEST(r.load("m", 1, 1024).value->weights.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_forged_file_whose_weights_disagree_with_its_spec_is_refused_before_it_is_read) {
  // A real model's map up to its weights, then weights claiming 200 MiB (a hole), then a
  // trailer: the spec implies 2 floats, which the header says before any weight is read.
  temp_dir tmp;
  registry r(tmp.path());
  const auto real = model_bytes(1);
  const auto at = real.find("\xa7weights");
  BOOST_REQUIRE(at != std::string::npos);
  const std::uint32_t claimed = 200u << 20;
  std::string head = real.substr(0, at) + "\xa7weights\xc6";
  for (int shift = 24; shift >= 0; shift -= 8)
    head.push_back(static_cast<char>((claimed >> shift) & 0xff));
  r.publish("m", real);
  write_with_hole(r.path_of("m", 2), head, claimed, trailer_of(real));
  reset_peak_rss();
  const auto before = peak_rss();
  auto forged = r.load("m", 2);
  BOOST_TEST(!forged);
  BOOST_TEST(forged.error.find("weights hold 52428800 floats, the spec implies 2") != std::string::npos,
             forged.error);
  BOOST_TEST(peak_rss() - before < (std::uint64_t{16} << 20));
}

BOOST_AUTO_TEST_CASE(a_valid_file_with_a_large_unknown_spec_key_loads_as_decode_accepts_it) {
  // Readers ignore unknown keys: the checks before the whole read must not refuse a spec
  // too large for them to read (100 KB here); decode checks it instead.
  temp_dir tmp;
  registry r(tmp.path());
  const auto real = model_bytes(1);
  const auto spec = real.find("\xa4spec\x85");
  BOOST_REQUIRE(spec != std::string::npos);
  std::string notes = "\xa5notes\xdb";
  const std::uint32_t length = 100000;
  for (int shift = 24; shift >= 0; shift -= 8)
    notes.push_back(static_cast<char>((length >> shift) & 0xff));
  notes += std::string(length, 'n');
  auto body = real.substr(0, real.size() - 14);
  body[spec + 5] = '\x86'; // six entries
  body.insert(spec + 6, notes);
  const auto bytes = with_trailer(body);
  BOOST_REQUIRE(static_cast<bool>(compute::model_file::decode(bytes)));
  r.publish("m", real);
  touch(r.path_of("m", 2), bytes);
  auto loaded = r.load("m", 2);
  BOOST_TEST(static_cast<bool>(loaded), loaded.error);
}

BOOST_AUTO_TEST_CASE(every_cut_or_damaged_byte_of_a_model_file_loads_as_an_error) {
  // The structure check reads hostile bytes too: a file cut anywhere (with a trailer put
  // back) or with any byte changed is an error message, never a crash or a success.
  temp_dir tmp;
  registry r(tmp.path());
  const auto real = model_bytes(1);
  r.publish("m", real);
  const auto path = r.path_of("m", 2);
  const auto body = real.substr(0, real.size() - 14);
  for (std::size_t cut = 0; cut < body.size(); ++cut) {
    touch(path, body.substr(0, cut) + trailer_of(real));
    auto a = r.load("m", 2);
    BOOST_TEST(!a, "cut at " << cut);
  }
  for (std::size_t i = 0; i < real.size(); ++i) {
    auto damaged = real;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    touch(path, damaged);
    auto a = r.load("m", 2);
    BOOST_TEST(!a, "byte " << i);
  }
  touch(path, real);
  BOOST_TEST(static_cast<bool>(r.load("m", 2)));
}

BOOST_AUTO_TEST_SUITE_END()
