// Serving a fleet by key over real ZeroMQ sockets: a known key gets its own model, an
// unknown key the shared model or `unknown_key` as the fleet was built, a fleet asked
// without a key (or a single model asked with one) a clear bad_request; and a new fleet
// version replaces the whole fleet.
#include "serving/registry.hpp"
#include "serving/server.hpp"
#include "serving_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>

using namespace conveyor;
using namespace conveyor::serving;
using namespace conveyor::serving::testing;
namespace fs = std::filesystem;

namespace {

/// tiny_classifier(seed) as the shared model, with keys "a" and "b" (own models of seeds
/// seed + 1 and seed + 2) and "c" (too few rows: the shared model).
compute::model_artifact tiny_fleet(std::uint64_t seed, bool unknown_key_shared) {
  auto a = tiny_classifier(seed);
  compute::model_fleet f;
  f.by = "store";
  f.unknown_key_shared = unknown_key_shared;
  f.min_rows = 10;
  f.segments = {{"a", 100, true, {}}, {"b", 100, true, {}}, {"c", 3, false, {}}};
  for (std::uint64_t s : {seed + 1, seed + 2}) {
    auto w = tiny_classifier(s).weights;
    f.weights.insert(f.weights.end(), w.begin(), w.end());
  }
  a.fleet = f;
  return a;
}

struct running_server {
  explicit running_server(std::string registry_root = {})
      : catalog(std::make_shared<model_catalog>(std::move(registry_root))) {
    server_options o;
    o.endpoint = "tcp://127.0.0.1:*";
    srv = std::make_unique<server>(o, catalog);
  }
  std::string start() {
    srv->start();
    return srv->endpoint();
  }
  zmq::context_t ctx;
  std::shared_ptr<model_catalog> catalog;
  std::unique_ptr<server> srv;
};

const std::vector<std::vector<float>> rows{{2, 3, -1, 0.5f}, {0, 1, 4, -2}};
const std::vector<float> flat{2, 3, -1, 0.5f, 0, 1, 4, -2};

std::string keyed(std::uint64_t id, const std::string& model, const std::string& key) {
  return request_builder().str("op", "predict").uint("id", id).str("model", model)
    .str("key", key).rows("inputs", rows).bytes();
}

void check_outputs(const reply& r, const std::vector<float>& want) {
  BOOST_REQUIRE(r.ok);
  BOOST_REQUIRE_EQUAL(r.outputs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      BOOST_TEST(r.outputs[i][c] == want[i * 3 + c], boost::test_tools::tolerance(1e-6f));
}

} // namespace

BOOST_AUTO_TEST_SUITE(fleet_serving)

BOOST_AUTO_TEST_CASE(a_known_key_gets_its_own_model_and_a_fallback_key_the_shared_one) {
  running_server s;
  s.catalog->add("stores", 4, encoded(tiny_fleet(10, true)));
  peer p(s.ctx, s.start());
  auto a = p.call(keyed(1, "stores", "a"));
  check_outputs(a, expected_outputs(tiny_classifier(11), flat, 2));
  BOOST_TEST(a.model == "stores");
  BOOST_TEST(a.version == 4u);
  check_outputs(p.call(keyed(2, "stores", "b")), expected_outputs(tiny_classifier(12), flat, 2));
  check_outputs(p.call(keyed(3, "stores", "c")), expected_outputs(tiny_classifier(10), flat, 2));
  // built with unknown_key = shared: a key it never saw gets the shared model
  check_outputs(p.call(keyed(4, "stores", "z")), expected_outputs(tiny_classifier(10), flat, 2));
}

BOOST_AUTO_TEST_CASE(an_unknown_key_is_an_error_when_the_fleet_was_built_so_and_keys_must_fit_the_model) {
  running_server s;
  s.catalog->add("stores", 1, encoded(tiny_fleet(10, false)));
  s.catalog->add("single", 1, encoded(tiny_classifier(3)));
  peer p(s.ctx, s.start());
  auto unknown = p.call(keyed(5, "stores", "z"));
  BOOST_TEST(!unknown.ok);
  BOOST_TEST(unknown.id == 5u);
  BOOST_TEST(unknown.code == "unknown_key");
  BOOST_TEST(unknown.message == "model 'stores' version 1 has no model for store 'z' (it knows 3 keys)");
  check_outputs(p.call(keyed(6, "stores", "a")), expected_outputs(tiny_classifier(11), flat, 2));

  auto no_key = p.call(predict_request(7, "stores", rows));
  BOOST_TEST(no_key.code == "bad_request");
  BOOST_TEST(no_key.message == "model 'stores' version 1 is a fleet by 'store': send the row's 'store' as 'key'");
  auto key_on_single = p.call(keyed(8, "single", "a"));
  BOOST_TEST(key_on_single.code == "bad_request");
  BOOST_TEST(key_on_single.message.find("is a single model, not a fleet") != std::string::npos);
  // old clients, no key: a single model answers as before
  check_outputs(p.call(predict_request(9, "single", rows)), expected_outputs(tiny_classifier(3), flat, 2));
  auto bad_type = p.call(request_builder().str("op", "predict").uint("id", 10).str("model", "stores")
                           .uint("key", 3).rows("inputs", rows).bytes());
  BOOST_TEST(bad_type.code == "bad_request");
  BOOST_TEST(bad_type.message == "'key' must be a string");
  BOOST_TEST(s.srv->stats().errors[static_cast<std::size_t>(wire::error_code::unknown_key)] == 1u);
}

BOOST_AUTO_TEST_CASE(a_new_fleet_version_in_the_registry_replaces_the_whole_fleet) {
  const auto dir = fs::temp_directory_path() / ("conveyor_fleet_serving_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  registry reg(dir.string());
  reg.publish("stores", encoded(tiny_fleet(10, true)));
  running_server s(dir.string());
  BOOST_REQUIRE(s.catalog->load_latest().empty());
  peer p(s.ctx, s.start());
  check_outputs(p.call(keyed(1, "stores", "b")), expected_outputs(tiny_classifier(12), flat, 2));
  // version 2: every key's model changes, and "c" now has its own
  auto next = tiny_fleet(20, true);
  next.fleet->segments[2].own = true;
  auto w = tiny_classifier(23).weights;
  next.fleet->weights.insert(next.fleet->weights.end(), w.begin(), w.end());
  reg.publish("stores", encoded(next));
  auto refreshed = s.catalog->refresh();
  BOOST_REQUIRE_EQUAL(refreshed.loaded.size(), 1u);
  auto b = p.call(keyed(2, "stores", "b"));
  BOOST_TEST(b.version == 2u);
  check_outputs(b, expected_outputs(tiny_classifier(22), flat, 2));
  check_outputs(p.call(keyed(3, "stores", "c")), expected_outputs(tiny_classifier(23), flat, 2));
  check_outputs(p.call(keyed(4, "stores", "z")), expected_outputs(tiny_classifier(20), flat, 2));
  // the old version stays pinnable
  auto pinned = p.call(request_builder().str("op", "predict").uint("id", 5).str("model", "stores")
                         .uint("version", 1).str("key", "b").rows("inputs", rows).bytes());
  check_outputs(pinned, expected_outputs(tiny_classifier(12), flat, 2));
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
