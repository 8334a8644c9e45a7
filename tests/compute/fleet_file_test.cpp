// Model file version 2: fleets round trip, single models stay version 1, version 1
// files still load, and damaged fleets are refused with their own messages.
#include "compute/model_file.hpp"

#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace conveyor::compute;

namespace {

model_artifact fleet_artifact() {
  model_spec s;
  s.kind = "logistic";
  s.layers = {3};
  model_artifact a = make_artifact(model(s));
  a.feature_columns = {"a", "b", "c"};
  a.input_columns = a.feature_columns;
  a.metrics = {{"accuracy", 0.9}};
  model_fleet f;
  f.by = "store";
  f.unknown_key_shared = false;
  f.min_rows = 50;
  f.segments = {{"north", 800, true, {{"accuracy", 0.93}}},
                {"south", 12, false, {}},
                {"west", 640, true, {{"accuracy", 0.88}, {"validation_loss", 0.31}}}};
  for (int i = 0; i < 8; ++i)
    f.weights.push_back(0.25f * static_cast<float>(i) - 1.0f);
  a.fleet = f;
  return a;
}

std::string reseal(std::string body) {
  const auto crc = static_cast<std::uint32_t>(crc32(
      crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  body += "\xa8" "checksum" "\xce";
  for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((crc >> shift) & 0xff);
  return body;
}

std::string error_of(const std::string& bytes) { return model_file::decode(bytes).error; }

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_files)

BOOST_AUTO_TEST_CASE(a_fleet_round_trips_as_version_2_and_each_segment_predicts_with_its_weights) {
  const auto a = fleet_artifact();
  const std::string bytes = model_file::encode(a);
  BOOST_TEST(bytes.find(std::string("\xae" "format_version\x02")) != std::string::npos);
  auto back = model_file::decode(bytes);
  BOOST_TEST_REQUIRE(static_cast<bool>(back), back.error);
  BOOST_TEST((*back.value == a));
  BOOST_TEST(back.value->fleet->own_count() == 2u);
  const model west = instantiate_segment(*back.value, 1);
  BOOST_TEST(west.parameters_to_host() ==
             std::vector<float>(a.fleet->weights.begin() + 4, a.fleet->weights.end()));
  BOOST_CHECK_THROW(instantiate_segment(*back.value, 2), std::invalid_argument);

  const auto dir = std::filesystem::temp_directory_path() / ("conveyor-fleet-file-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  model_file::save((dir / "f.model").string(), a);
  auto loaded = model_file::load((dir / "f.model").string());
  BOOST_TEST_REQUIRE(static_cast<bool>(loaded), loaded.error);
  BOOST_TEST((*loaded.value == a));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_single_model_is_still_written_as_version_1_and_old_files_load) {
  auto a = fleet_artifact();
  a.fleet.reset();
  const std::string bytes = model_file::encode(a);
  BOOST_TEST(bytes.find(std::string("\xae" "format_version\x01")) != std::string::npos);
  BOOST_TEST(static_cast<bool>(model_file::decode(bytes)));
  // a file written by a build that knew only version 1
  const std::string old_file = std::string(CONVEYOR_SOURCE_DIR) + "/fuzz/corpus/model_file/mlp.model";
  auto old = model_file::load(old_file);
  BOOST_TEST_REQUIRE(static_cast<bool>(old), old.error);
  BOOST_TEST(!old.value->fleet);
  std::ifstream in(old_file, std::ios::binary);
  std::stringstream raw;
  raw << in.rdbuf();
  BOOST_TEST((model_file::encode(*old.value) == raw.str())); // read and written alike
}

BOOST_AUTO_TEST_CASE(a_fleet_written_by_another_writer_from_the_format_doc_loads) {
  // fuzz/corpus/model_file/fleet.model: written by a few lines of Python (msgpack)
  auto f = model_file::load(std::string(CONVEYOR_SOURCE_DIR) + "/fuzz/corpus/model_file/fleet.model");
  BOOST_TEST_REQUIRE(static_cast<bool>(f), f.error);
  BOOST_TEST_REQUIRE(static_cast<bool>(f.value->fleet));
  BOOST_TEST(f.value->fleet->by == "store");
  BOOST_TEST(!f.value->fleet->unknown_key_shared);
  BOOST_TEST(f.value->fleet->segments.size() == 3u);
  BOOST_TEST(f.value->fleet->own_count() == 2u);
  BOOST_TEST(f.value->fleet->segments[0].metrics.at("accuracy") == 0.93);
}

BOOST_AUTO_TEST_CASE(per_key_histograms_round_trip_and_files_without_them_load_without) {
  auto a = fleet_artifact();
  // each key's own histograms: edges are float values (the features are float32)
  for (std::size_t k = 0; k < a.fleet->segments.size(); ++k) {
    std::vector<float> x;
    for (int r = 0; r < 200; ++r)
      for (int j = 0; j < 3; ++j)
        x.push_back(static_cast<float>((r * (7 + j) + static_cast<int>(k) * 13) % 101) * 0.37f - 5.0f);
    a.fleet->distributions.push_back(describe_features(x.data(), 200, a.feature_columns));
  }
  a.fleet->distributions[1].features[2].edges = {0.5}; // a feature of two bins
  a.fleet->distributions[1].features[2].counts = {3, 9};
  const std::string bytes = model_file::encode(a);
  const auto back = model_file::decode(bytes);
  BOOST_TEST_REQUIRE(static_cast<bool>(back), back.error);
  BOOST_TEST((back.value->fleet->distributions == a.fleet->distributions));
  BOOST_TEST(back.value->fleet->distributions[0].features[1].column == "b");
  // the same fleet without them: what files before per-key histograms hold
  auto old = a;
  old.fleet->distributions.clear();
  const auto without = model_file::decode(model_file::encode(old));
  BOOST_TEST_REQUIRE(static_cast<bool>(without), without.error);
  BOOST_TEST(without.value->fleet->distributions.empty());
  BOOST_TEST((*without.value == old));
  // a version of them this build does not know is skipped, the fleet still loads
  const std::string body = bytes.substr(0, bytes.size() - 14);
  const auto unknown = model_file::decode(
    reseal(replaced(body, std::string("\xa7version\x01\xa8segments", 18),
                    std::string("\xa7version\x02\xa8segments", 18))));
  BOOST_TEST_REQUIRE(static_cast<bool>(unknown), unknown.error);
  BOOST_TEST(unknown.value->fleet->distributions.empty());
  BOOST_TEST(unknown.value->fleet->segments.size() == 3u);
  // damaged: a feature's bin count that its edges and counts do not match
  BOOST_TEST(error_of(reseal(replaced(body, std::string("\xa4" "bins\xc4\x03\x0a\x0a\x02", 10),
                                      std::string("\xa4" "bins\xc4\x03\x0a\x0a\x03", 10)))) ==
             "fleet distribution 1: its edges and counts do not match its bins");
  // and an artifact whose histograms do not fit it is not written
  auto wrong = a;
  wrong.fleet->distributions.pop_back();
  BOOST_CHECK_THROW(model_file::encode(wrong), std::invalid_argument);
  // the file written from the format doc (no per-key histograms) loads without them
  auto doc = model_file::load(std::string(CONVEYOR_SOURCE_DIR) + "/fuzz/corpus/model_file/fleet.model");
  BOOST_TEST_REQUIRE(static_cast<bool>(doc), doc.error);
  BOOST_TEST(doc.value->fleet->distributions.empty());
}

BOOST_AUTO_TEST_CASE(a_damaged_fleet_has_its_own_message) {
  const std::string good = model_file::encode(fleet_artifact());
  const std::string body = good.substr(0, good.size() - 14);
  BOOST_TEST(error_of(reseal(replaced(body, "format_version\x02", "format_version\x03"))) ==
             "unsupported format_version 3 (this build reads 1 to 2)");
  BOOST_TEST(error_of(reseal(replaced(body, "\xa5south", "\xa5north"))) == "fleet has the key 'north' twice");
  BOOST_TEST(error_of(reseal(replaced(body, "\xa5""error", "\xa5""maybe"))) ==
             "fleet.unknown_key is 'maybe' (shared or error)");
  // a segment switched from shared to own needs weights the file does not have
  BOOST_TEST(error_of(reseal(replaced(body, std::string("\xa3own\xc2", 5), std::string("\xa3own\xc3", 5)))) ==
             "fleet_weights hold 8 floats, 3 own segments imply 12");
  // version 2 without the fleet keys
  auto a = fleet_artifact();
  a.fleet.reset();
  const std::string single = model_file::encode(a);
  BOOST_TEST(error_of(reseal(replaced(single.substr(0, single.size() - 14), "format_version\x01",
                                      "format_version\x02"))) ==
             "missing key 'fleet' (format_version 2)");
  // a version 1 file ignores these keys, whatever they hold, when loaded as when decoded
  std::string v1 = single.substr(0, single.size() - 14);
  BOOST_TEST_REQUIRE(static_cast<unsigned char>(v1[0]) == 0x8cu);
  v1[0] = static_cast<char>(0x8d);
  v1 = reseal(v1 + "\xad" "fleet_weights" "\xa1x");
  BOOST_TEST(static_cast<bool>(model_file::decode(v1)), model_file::decode(v1).error);
  const auto dir = std::filesystem::temp_directory_path() / ("conveyor-fleet-v1-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream((dir / "v1.model").string(), std::ios::binary) << v1;
  auto loaded = model_file::load((dir / "v1.model").string());
  BOOST_TEST(static_cast<bool>(loaded), loaded.error);
  std::filesystem::remove_all(dir);
  // a fleet without a shared model round trips; it needs every key's own model
  auto lone = fleet_artifact();
  lone.fleet->shared = false;
  lone.fleet->segments[1].own = true;
  lone.fleet->weights.resize(12, 0.5f);
  auto lone_back = model_file::decode(model_file::encode(lone));
  BOOST_TEST_REQUIRE(static_cast<bool>(lone_back), lone_back.error);
  BOOST_TEST((*lone_back.value == lone));
  lone.fleet->segments[1].own = false;
  lone.fleet->weights.resize(8);
  BOOST_CHECK_THROW(model_file::encode(lone), std::invalid_argument);
  const std::string with_shared = model_file::encode(fleet_artifact());
  BOOST_TEST(error_of(reseal(replaced(with_shared.substr(0, with_shared.size() - 14),
                                      std::string("\xa6shared\xc3", 8), std::string("\xa6shared\xc2", 8)))) ==
             "a fleet without a shared model needs every key's own model and unknown_key 'error'");
  // an inconsistent fleet is refused when written
  a = fleet_artifact();
  a.fleet->weights.pop_back();
  BOOST_CHECK_THROW(model_file::encode(a), std::invalid_argument);
  a = fleet_artifact();
  a.fleet->segments[1].key = "north";
  BOOST_CHECK_THROW(model_file::encode(a), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
