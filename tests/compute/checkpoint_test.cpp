// Checkpoint files: round trips, atomic save and load, and damaged files, each with a
// message that says what is wrong (never a throw or a crash).
#include "compute/checkpoint.hpp"
#include "test_data.hpp"
#include "tests/support/scratch_files.hpp"

#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <random>

using namespace conveyor::compute;
using conveyor::compute::test::random_floats;

namespace {

checkpoint sample_checkpoint() {
  model_spec s;
  s.kind = "mlp";
  s.layers = {3, 4, 2};
  s.seed = 7;
  model m(s);
  checkpoint c;
  c.model = make_artifact(m);
  c.model.feature_columns = {"a", "b", "c"};
  c.model.input_columns = {"a", "b", "c"};
  c.optimizer.kind = optimizer_kind::adam;
  c.optimizer.step = 30;
  c.optimizer.first = random_floats(m.parameter_count(), 1);
  c.optimizer.second = random_floats(m.parameter_count(), 2, 0, 1);
  c.step = 30;
  c.epoch = 3;
  return c;
}

std::string error_of(std::string_view bytes) {
  auto r = checkpoint_file::decode(bytes);
  return r ? std::string("(decoded)") : r.error;
}

// Replaces the CRC of `file` by the right one, so that a deliberate change reaches the
// parser instead of the checksum test.
std::string resealed(std::string file) {
  file.resize(file.size() - 4);
  const auto crc = static_cast<std::uint32_t>(crc32(
      crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(file.data()), static_cast<uInt>(file.size())));
  for (int i = 0; i < 4; ++i) file.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return file;
}

void put_u64_at(std::string& s, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

} // namespace

BOOST_AUTO_TEST_SUITE(checkpoints)

BOOST_AUTO_TEST_CASE(a_checkpoint_round_trips_through_bytes_and_through_a_file) {
  const auto c = sample_checkpoint();
  auto d = checkpoint_file::decode(checkpoint_file::encode(c));
  BOOST_TEST_REQUIRE(bool(d), d.error);
  BOOST_TEST((*d.value == c));

  conveyor::test::temp_dir dir;
  const auto path = dir.file("nested/dir/30.ckpt"); // missing directories are created
  checkpoint_file::save(path, c);
  auto l = checkpoint_file::load(path);
  BOOST_TEST_REQUIRE(bool(l), l.error);
  BOOST_TEST((*l.value == c));
}

BOOST_AUTO_TEST_CASE(encode_refuses_an_optimizer_state_that_does_not_fit_the_model) {
  auto c = sample_checkpoint();
  c.optimizer.first.pop_back();
  BOOST_CHECK_THROW(checkpoint_file::encode(c), std::invalid_argument);
  c = sample_checkpoint();
  c.optimizer.step = 29;
  BOOST_CHECK_THROW(checkpoint_file::encode(c), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(every_flipped_byte_and_every_truncation_is_caught_by_the_checksum_or_the_framing) {
  const auto file = checkpoint_file::encode(sample_checkpoint());
  for (std::size_t i = 0; i < file.size(); ++i) {
    auto bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    BOOST_TEST_REQUIRE(error_of(bad) != "(decoded)", "flip at " << i);
  }
  for (std::size_t n = 0; n < file.size(); n += 7) {
    const auto e = error_of(std::string_view(file).substr(0, n));
    BOOST_TEST_REQUIRE(e != "(decoded)", "cut at " << n);
  }
  BOOST_TEST(error_of(file.substr(0, file.size() - 1)) == "checksum mismatch (damaged or truncated)");
  BOOST_TEST(error_of("") == "empty input");
  BOOST_TEST(error_of(file.substr(0, 30)) == "truncated (30 bytes)");
}

BOOST_AUTO_TEST_CASE(each_damage_behind_a_valid_checksum_has_its_message) {
  const auto file = checkpoint_file::encode(sample_checkpoint());
  BOOST_TEST(error_of("PK\x03\x04 a zip file, not ours") == "not a conveyor checkpoint");

  auto old = file;
  old[20] = '1'; // "conveyor-checkpoint-1\n": the format before lengths were checksummed
  BOOST_TEST(contains(error_of(old), "checkpoint format 'conveyor-checkpoint-1' is not supported"),
             error_of(old));

  const std::size_t model_len_at = checkpoint_file::magic.size() + 16;
  auto huge = file;
  put_u64_at(huge, model_len_at, std::uint64_t{1} << 40);
  BOOST_TEST(contains(error_of(resealed(huge)), "the model claims 1099511627776 bytes"),
             error_of(resealed(huge)));

  auto extra = file;
  extra.insert(extra.size() - 4, "xyz");
  BOOST_TEST(error_of(resealed(extra)) == "3 unexpected bytes after the sections");

  auto step = file;
  put_u64_at(step, checkpoint_file::magic.size(), 31);
  BOOST_TEST(error_of(resealed(step)) == "the optimizer state is at step 30, the checkpoint at 31");

  auto model = file;
  model[model_len_at + 8 + 40] ^= 0x01; // inside the model file: its own checksum fails
  BOOST_TEST(contains(error_of(resealed(model)), "model: checksum mismatch"),
             error_of(resealed(model)));
}

BOOST_AUTO_TEST_CASE(load_names_the_path_of_a_missing_or_damaged_file) {
  conveyor::test::temp_dir dir;
  auto missing = checkpoint_file::load(dir.file("nope.ckpt"));
  BOOST_TEST(!missing);
  BOOST_TEST(contains(missing.error, "nope.ckpt: cannot open"), missing.error);
  conveyor::test::write_file(dir.file("bad.ckpt"), "conveyor-checkpoint-2\nshort");
  auto bad = checkpoint_file::load(dir.file("bad.ckpt"));
  BOOST_TEST(contains(bad.error, "bad.ckpt: truncated"), bad.error);
  auto directory = checkpoint_file::load(dir.file(""));
  BOOST_TEST(contains(directory.error, "not a regular file"), directory.error);
}

BOOST_AUTO_TEST_CASE(decode_survives_thousands_of_hostile_inputs) {
  const auto file = checkpoint_file::encode(sample_checkpoint());
  std::mt19937_64 gen(5);
  for (int i = 0; i < 3000; ++i) {
    auto bad = file;
    const int edits = 1 + static_cast<int>(gen() % 8);
    for (int e = 0; e < edits; ++e) bad[gen() % bad.size()] = static_cast<char>(gen());
    if (gen() % 2) bad.resize(gen() % bad.size());
    if (gen() % 2 && bad.size() >= 4) bad = resealed(bad); // let some reach the parser
    (void)checkpoint_file::decode(bad);
  }
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_SUITE_END()
