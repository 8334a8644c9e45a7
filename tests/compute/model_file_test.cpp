// Model file v1: round trips, atomic save and load, and hostile inputs, each corruption
// with its own message.
#include "compute/model_file.hpp"
#include "test_data.hpp"

#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

using namespace conveyor::compute;
using conveyor::compute::test::random_floats;
namespace tt = boost::test_tools;

namespace {

model_artifact sample_artifact() {
  model_spec s;
  s.kind = "mlp";
  s.layers = {4, 3, 2};
  s.hidden = activation::tanh;
  s.seed = 99;
  s.weight_decay = 0.001f;
  model m(s);
  model_artifact a = make_artifact(m);
  conveyor::column_op std_op;
  std_op.op = conveyor::column_op::kind::standardize;
  std_op.column = "age";
  std_op.a = 40.5;
  std_op.b = 12.25;
  conveyor::column_op hot;
  hot.op = conveyor::column_op::kind::one_hot;
  hot.column = "colour";
  hot.categories = {"red", "green"};
  a.preprocessing.ops = {std_op, hot};
  a.input_columns = {"age", "colour", "height"};
  a.feature_columns = {"age", "colour=red", "colour=green", "height"};
  a.metrics = {{"accuracy", 0.91}, {"log_loss", 0.25}};
  a.provenance = {"fashion", "train", "/data/train.csv", 1700000000, "0.1.0"};
  return a;
}

// Replaces the trailer of an encoded file with a correct one for `body` (so that a
// deliberate corruption reaches the parser instead of the checksum test).
std::string reseal(std::string body) {
  const auto crc = static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  body += "\xa8" "checksum" "\xce";
  for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((crc >> shift) & 0xff);
  return body;
}

std::string body_of(const std::string& file) { return file.substr(0, file.size() - 14); }

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

std::string error_of(const std::string& bytes) {
  auto r = model_file::decode(bytes);
  return r ? std::string("(decoded)") : r.error;
}

} // namespace

BOOST_AUTO_TEST_SUITE(model_files)

BOOST_AUTO_TEST_CASE(encode_then_decode_gives_the_same_artifact_and_predictions) {
  const auto a = sample_artifact();
  const std::string bytes = model_file::encode(a);
  auto back = model_file::decode(bytes);
  BOOST_TEST_REQUIRE(static_cast<bool>(back), back.error);
  BOOST_TEST((*back.value == a));
  BOOST_TEST(model_file::encode(*back.value) == bytes); // canonical encoding

  const model original = instantiate(a), loaded = instantiate(*back.value);
  const auto x = random_floats(5 * 4, 3);
  std::vector<float> p1(10), p2(10);
  original.predict(x.data(), 5, p1.data());
  loaded.predict(x.data(), 5, p2.data());
  BOOST_TEST(p1 == p2, tt::per_element());
}

// A served model never trains: it holds its parameters only. Gradients (and the slots
// after them) and the training workspace come with the first training use.
BOOST_AUTO_TEST_CASE(a_model_loaded_for_inference_holds_only_its_parameters) {
  const auto bytes = model_file::encode(sample_artifact());
  auto back = model_file::decode(bytes);
  BOOST_TEST_REQUIRE(static_cast<bool>(back), back.error);
  model loaded = instantiate(*back.value);
  const auto x = random_floats(5 * 4, 3);
  std::vector<float> p(10);
  loaded.predict(x.data(), 5, p.data());
  BOOST_TEST(loaded.floats_held() == loaded.parameter_count());
  BOOST_TEST(static_cast<const model&>(loaded).gradients() == nullptr);
  BOOST_TEST(loaded.loss_to_host() == 0.0f);

  const std::vector<float> y = {0, 1, 1, 0, 1};
  loaded.compute_gradients(x.data(), y.data(), 5);
  // parameters, gradients + loss and spare slots, and the workspace of 5 rows
  BOOST_TEST(loaded.floats_held() >= 2 * loaded.parameter_count() + 2 + 5 * (3 + 2));
  BOOST_TEST(loaded.loss_to_host() > 0.0f);
}

BOOST_AUTO_TEST_CASE(every_model_kind_round_trips) {
  for (auto [kind, layers] : std::vector<std::pair<std::string, std::vector<int>>>{
           {"linear", {3, 2}}, {"logistic", {3}}, {"softmax", {3, 4}}, {"mlp", {3, 5, 1}}}) {
    model_spec s;
    s.kind = kind;
    s.layers = layers;
    const model m(s);
    auto back = model_file::decode(model_file::encode(make_artifact(m)));
    BOOST_TEST_REQUIRE(static_cast<bool>(back), kind << ": " << back.error);
    BOOST_TEST(back.value->spec.kind == kind);
    BOOST_TEST(back.value->classes == m.classes());
  }
}

BOOST_AUTO_TEST_CASE(save_is_atomic_and_load_reads_it_back) {
  const auto dir = std::filesystem::temp_directory_path() / ("conveyor-model-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "model.cmf").string();
  const auto a = sample_artifact();
  model_file::save(path, a);
  model_file::save(path, a); // replaces in place
  auto back = model_file::load(path);
  BOOST_TEST_REQUIRE(static_cast<bool>(back), back.error);
  BOOST_TEST((*back.value == a));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  BOOST_TEST(files == 1u); // no temporary files left behind
  auto missing = model_file::load((dir / "absent").string());
  BOOST_TEST(missing.error.find("cannot open") != std::string::npos);
  BOOST_CHECK_THROW(model_file::save((dir / "no/such/dir/m").string(), a), std::runtime_error);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(each_corruption_has_its_message) {
  const std::string good = model_file::encode(sample_artifact());
  const std::string body = body_of(good);
  BOOST_TEST(error_of("") == "empty input");
  BOOST_TEST(error_of(good.substr(0, good.size() / 2)) == "truncated or not a conveyor model (no checksum at the end)");
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  BOOST_TEST(error_of(flipped) == "checksum mismatch");
  BOOST_TEST(error_of(reseal(replaced(body, "conveyor-model", "conveyor-modex"))) ==
             "not a conveyor model (format 'conveyor-modex')");
  BOOST_TEST(error_of(reseal(replaced(body, "format_version\x01", "format_version\x03"))) ==
             "unsupported format_version 3 (this build reads 1 to 2)");
  BOOST_TEST(error_of(reseal(replaced(body, "\x93\x04\x03\x02", "\x93\x05\x03\x02"))) ==
             "weights hold 23 floats, the spec implies 26");
  BOOST_TEST(error_of(reseal(replaced(body, "\x93\x04\x03\x02", std::string("\x93\xce\x00\x0f\x42\x41\x03\x02", 8)))) ==
             "layer width 1000001 is out of range");
  BOOST_TEST(error_of(reseal(replaced(body, "\xa3mlp", "\xa3rnn"))) ==
             "invalid spec: unknown model kind 'rnn' (expected linear, logistic, softmax or mlp)");
  BOOST_TEST(error_of(reseal(replaced(body, "\xa7""classes\x02", "\xa7""classes\x03"))) ==
             "classes is 3, the spec implies 2");
  BOOST_TEST(error_of(reseal(replaced(body, "\xa8""accuracy", "\xa8""log_loss"))) ==
             "metrics has a duplicate key 'log_loss'");
  // weights: the bin is the last value of the body; poison its first float with a NaN
  std::string nan_body = body;
  const auto w = nan_body.rfind("\xa7weights");
  nan_body.replace(w + 8 + 2, 4, std::string("\x00\x00\xc0\x7f", 4));
  BOOST_TEST(error_of(reseal(nan_body)) == "weights contain NaN or infinity");
  // a map whose header promises more entries than there are
  std::string short_map = body;
  short_map[0] = static_cast<char>(0x8f);
  BOOST_TEST(error_of(reseal(short_map)).rfind("malformed MessagePack", 0) == 0u);
  // the checksum must close the top-level map, not a nested one
  BOOST_TEST(error_of(reseal(body + "\xa5" "extra\x81")) == "checksum is not the last key");
}

BOOST_AUTO_TEST_CASE(decode_survives_thousands_of_hostile_inputs) {
  const std::string good = model_file::encode(sample_artifact());
  const std::string body = body_of(good);
  std::mt19937_64 gen(2024);
  std::size_t rejected = 0;
  auto feed = [&](const std::string& bytes) {
    auto r = model_file::decode(bytes);
    if (!r) {
      ++rejected;
      BOOST_TEST_REQUIRE(!r.error.empty());
    }
  };
  for (std::size_t cut = 0; cut < good.size(); ++cut) feed(good.substr(0, cut)); // every truncation
  for (int i = 0; i < 3000; ++i) { // bit flips, resealed so that they reach the parser
    std::string b = body;
    const int flips = 1 + static_cast<int>(gen() % 4);
    for (int f = 0; f < flips; ++f) b[gen() % b.size()] ^= static_cast<char>(1u << (gen() % 8));
    feed(i % 2 ? reseal(b) : b + good.substr(body.size()));
  }
  for (int i = 0; i < 2000; ++i) { // random bytes, with and without a valid trailer
    std::string b(gen() % 300, '\0');
    for (auto& c : b) c = static_cast<char>(gen());
    if (i % 2 && !b.empty()) b[0] = static_cast<char>(0x80 | (gen() % 16));
    feed(i % 2 ? reseal(b) : b);
  }
  for (int i = 0; i < 500; ++i) { // hostile length headers: huge arrays, strings, bins
    std::string b = "\x8c\xa6""format";
    const char* headers[] = {"\xdd\x7f\xff\xff\xff", "\xdb\x7f\xff\xff\xff", "\xc6\x7f\xff\xff\xff", "\xdf\xff\xff\xff\xff"};
    b += std::string(headers[i % 4], 5);
    b += std::string(gen() % 64, static_cast<char>(gen()));
    feed(reseal(b));
  }
  BOOST_TEST(rejected > 5000u);
}

BOOST_AUTO_TEST_SUITE_END()
