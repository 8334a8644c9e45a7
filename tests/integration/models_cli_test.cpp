// `conveyor models list|show|rm` on a registry filled through serving::registry, run as
// the real binary: output, JSON, removal, and exit status 2 (1 for a corrupt file).
#include "compute/model_file.hpp"
#include "serving/registry.hpp"
#include "process.hpp"

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace conveyor;
using namespace conveyor::testing;

namespace {

/// An mlp on ten columns c0..c9 with two preprocessing ops, metrics and provenance; a
/// different `seed` gives different bytes.
std::string mlp_bytes(std::uint64_t seed) {
  compute::model_spec spec;
  spec.kind = "mlp";
  spec.layers = {10, 4, 3};
  spec.seed = seed;
  compute::model m(compute::validate(spec));
  auto a = compute::make_artifact(m);
  for (int i = 0; i < 10; ++i)
    a.input_columns.push_back("c" + std::to_string(i));
  a.feature_columns = a.input_columns;
  column_op standardize;
  standardize.op = column_op::kind::standardize;
  standardize.column = "c0";
  standardize.a = 1.5;
  standardize.b = 2;
  column_op clip;
  clip.op = column_op::kind::clip;
  clip.column = "c1";
  clip.a = 0;
  clip.b = 1;
  a.preprocessing.ops = {standardize, clip};
  a.metrics = {{"accuracy", 0.875}, {"log_loss", 0.31}};
  a.provenance.graph = "fashion_graph";
  a.provenance.step = "train";
  a.provenance.data_source = "data/fashion.csv";
  a.provenance.created_unix = 1700000000;
  a.provenance.conveyor_version = "0.1.0";
  return compute::model_file::encode(a);
}

/// A registry with fashion versions 1 and 2 and housing version 1, in a scratch
/// directory removed at scope exit.
class test_registry {
public:
  explicit test_registry(const std::string& name) : dir_(scratch_dir(name)) {
    serving::registry r(root());
    r.publish("fashion", mlp_bytes(1));
    r.publish("fashion", mlp_bytes(2));
    r.publish("housing", mlp_bytes(3));
  }
  ~test_registry() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string root() const { return dir_ + "/models"; }

private:
  std::string dir_;
};

/// stderr is one line starting with "error: " (and holding `text`).
void check_one_line_error(const run_result& r, const std::string& text) {
  BOOST_TEST(r.status == 2, r.err);
  BOOST_TEST(r.err.rfind("error: ", 0) == 0u, r.err);
  BOOST_TEST(r.err.find('\n') == r.err.size() - 1, r.err);
  BOOST_TEST(r.err.find(text) != std::string::npos, r.err);
}

} // namespace

BOOST_AUTO_TEST_SUITE(models_cli)

BOOST_AUTO_TEST_CASE(list_prints_one_line_per_model_with_its_latest_version) {
  test_registry registry("models-list");
  const auto root = registry.root();
  auto r = run_conveyor({"models", "list", "--registry", root});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.out.find("NAME") == 0u, r.out);
  const auto fashion = r.out.find("\nfashion ");
  const auto housing = r.out.find("\nhousing ");
  BOOST_TEST_REQUIRE(fashion != std::string::npos, r.out);
  BOOST_TEST(housing > fashion, r.out);
  const auto line = r.out.substr(fashion + 1, r.out.find('\n', fashion + 1) - fashion - 1);
  for (const char* part : {" 2 ", " mlp ", " 10-4-3 ", "accuracy=0.875 log_loss=0.31"})
    BOOST_TEST(line.find(part) != std::string::npos, line << " lacks '" << part << "'");

  auto j = run_conveyor({"models", "list", "--registry", root, "--json"});
  BOOST_TEST_REQUIRE(j.status == 0, j.err);
  auto models = nlohmann::json::parse(j.out);
  BOOST_TEST_REQUIRE(models.size() == 2u);
  BOOST_TEST(models[0]["name"] == "fashion");
  BOOST_TEST(models[0]["latest"] == 2);
  BOOST_TEST(models[0]["versions"] == nlohmann::json::array({1, 2}));
  BOOST_TEST(models[1]["kind"] == "mlp");
}

BOOST_AUTO_TEST_CASE(show_lists_a_fleets_keys_with_their_metrics_and_the_feature_histograms) {
  auto dir = scratch_dir("models-fleet");
  compute::model_spec spec;
  spec.kind = "logistic";
  spec.layers = {2};
  auto a = compute::make_artifact(compute::model(compute::validate(spec)));
  a.input_columns = a.feature_columns = {"x0", "x1"};
  compute::model_fleet f;
  f.by = "store";
  f.min_rows = 50;
  f.segments = {{"north", 800, true, {{"accuracy", 0.93}}}, {"south", 12, false, {}}};
  f.weights.assign(3, 0.5f);
  a.fleet = f;
  const std::vector<float> x{0, 1, 1, 2, 2, 3, 3, 4};
  a.trained_on = compute::describe_features(x.data(), 4, a.feature_columns);
  serving::registry(dir + "/models").publish("stores", compute::model_file::encode(a));
  auto r = run_conveyor({"models", "show", "stores", "--registry", dir + "/models"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  for (const char* part : {"by 'store', 2 keys, 1 with their own model (min_rows 50)",
                           "north (800 rows): accuracy=0.93", "south (12 rows, shared model)",
                           "histograms of 2 features over 4 rows"})
    BOOST_TEST(r.out.find(part) != std::string::npos, "lacks '" << part << "':\n" << r.out);
  auto j = run_conveyor({"models", "show", "stores", "--registry", dir + "/models", "--json"});
  BOOST_TEST_REQUIRE(j.status == 0, j.err);
  auto m = nlohmann::json::parse(j.out);
  BOOST_TEST(m["fleet"]["segments"][0]["key"] == "north");
  BOOST_TEST(m["fleet"]["segments"][0]["metrics"]["accuracy"] == 0.93);
  BOOST_TEST(m["fleet"]["own_models"] == 1);
  BOOST_TEST(m["feature_distribution"]["features"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(show_describes_a_version_without_its_weights_as_text_and_json) {
  test_registry registry("models-show");
  const auto root = registry.root();
  auto r = run_conveyor({"models", "show", "fashion", "--registry", root});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  for (const char* part :
       {"fashion version 2", root.c_str(), "checksum:", " ok\n", "kind:", "mlp", "10-4-3",
        "input columns:", "10: c0, c1, c2, c3, c4, c5, c6, c7, ... (+2 more)",
        "standardize c0 (a=1.5, b=2)", "clip c1", "accuracy=0.875", "fashion_graph",
        "data/fashion.csv", "2023-11-14"})
    BOOST_TEST(r.out.find(part) != std::string::npos, "lacks '" << part << "':\n" << r.out);

  auto j = run_conveyor({"models", "show", "fashion:1", "--registry", root, "--json"});
  BOOST_TEST_REQUIRE(j.status == 0, j.err);
  auto m = nlohmann::json::parse(j.out);
  BOOST_TEST(m["name"] == "fashion");
  BOOST_TEST(m["version"] == 1);
  BOOST_TEST(m["checksum_ok"] == true);
  BOOST_TEST(m["path"] == root + "/fashion/1.model");
  BOOST_TEST(m["size_bytes"] == mlp_bytes(1).size());
  BOOST_TEST(m["spec"]["layers"] == nlohmann::json::array({10, 4, 3}));
  BOOST_TEST(m["spec"]["seed"] == 1);
  BOOST_TEST(m["classes"] == 3);
  BOOST_TEST(m["input_columns"].size() == 10u);
  BOOST_TEST(m["preprocessing"][0]["op"] == "standardize");
  BOOST_TEST(m["metrics"]["accuracy"] == 0.875);
  BOOST_TEST(m["provenance"]["step"] == "train");
  BOOST_TEST(!m.contains("weights"));
}

BOOST_AUTO_TEST_CASE(rm_removes_one_version_or_all_and_refuses_without_a_version) {
  test_registry registry("models-rm");
  const auto root = registry.root();
  serving::registry reg(root);
  check_one_line_error(run_conveyor({"models", "rm", "fashion", "--registry", root}), "--all");
  BOOST_TEST(reg.versions("fashion").size() == 2u);

  auto one = run_conveyor({"models", "rm", "fashion:1", "--registry", root});
  BOOST_TEST(one.status == 0, one.err);
  BOOST_TEST(one.out.find("removed fashion:1") != std::string::npos, one.out);
  BOOST_TEST_REQUIRE(reg.versions("fashion").size() == 1u);
  BOOST_TEST(reg.versions("fashion")[0].version == 2u);

  auto all = run_conveyor({"models", "rm", "housing", "--all", "--registry", root});
  BOOST_TEST(all.status == 0, all.err);
  BOOST_TEST(reg.versions("housing").empty());
  BOOST_TEST(reg.names() == std::vector<std::string>{"fashion"});
  // Numbers are not reused after removal.
  BOOST_TEST(reg.publish("housing", mlp_bytes(3)).version == 2u);
}

BOOST_AUTO_TEST_CASE(bad_input_exits_2_with_one_line_on_stderr) {
  test_registry registry("models-bad");
  const auto root = registry.root();
  check_one_line_error(run_conveyor({"models", "list", "--registry", root + "/nowhere"}),
                       "is not a model registry");
  check_one_line_error(run_conveyor({"models", "show", "shoes", "--registry", root}),
                       "no model 'shoes'");
  check_one_line_error(run_conveyor({"models", "show", "fashion:9", "--registry", root}),
                       "model 'fashion' has no version 9 (it has 1, 2)");
  check_one_line_error(run_conveyor({"models", "show", "../fashion", "--registry", root}),
                       "not a model name");
  check_one_line_error(run_conveyor({"models", "show", "fashion:x", "--registry", root}),
                       "the version must be a positive number");
  check_one_line_error(run_conveyor({"models", "rm", "fashion:9", "--registry", root}),
                       "no version 9");
  check_one_line_error(run_conveyor({"models", "rm", "fashion:1", "--all", "--registry", root}),
                       "not both");
  BOOST_TEST(run_conveyor({"models", "show", "fashion"}).status == 2); // --registry missing
  BOOST_TEST(serving::registry(root).versions("fashion").size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_newest_version_is_listed_as_skipped_and_show_exits_1) {
  test_registry registry("models-corrupt");
  const auto root = registry.root();
  const auto path = root + "/fashion/2.model";
  auto bytes = read_file(path);
  bytes[bytes.size() / 2] ^= 0x01;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  auto show = run_conveyor({"models", "show", "fashion", "--registry", root});
  BOOST_TEST(show.status == 1);
  BOOST_TEST(show.err.find("checksum mismatch") != std::string::npos, show.err);

  // LATEST is what a server serves: version 1; version 2 is named below the table.
  auto list = run_conveyor({"models", "list", "--registry", root});
  BOOST_TEST(list.status == 0, list.err);
  const auto fashion = list.out.find("\nfashion ");
  BOOST_TEST_REQUIRE(fashion != std::string::npos, list.out);
  const auto line = list.out.substr(fashion + 1, list.out.find('\n', fashion + 1) - fashion - 1);
  BOOST_TEST(line.find("fashion  1 ") == 0u, line);
  BOOST_TEST(line.find(" mlp ") != std::string::npos, line);
  BOOST_TEST(list.out.find("fashion:2 cannot be loaded, servers skip it: " + path +
                           ": checksum mismatch") != std::string::npos,
             list.out);

  auto j = run_conveyor({"models", "list", "--registry", root, "--json"});
  BOOST_TEST_REQUIRE(j.status == 0, j.err);
  auto models = nlohmann::json::parse(j.out);
  BOOST_TEST(models[0]["latest"] == 1);
  BOOST_TEST(models[0]["versions"] == nlohmann::json::array({1, 2}));
  BOOST_TEST(models[0]["unloadable"][0]["version"] == 2);
  BOOST_TEST(models[0]["unloadable"][0]["error"].get<std::string>().find("checksum mismatch") !=
             std::string::npos);
  BOOST_TEST(!models[1].contains("unloadable"));

  // No version loads: LATEST is "-" and every version is named.
  const auto first = root + "/fashion/1.model";
  std::ofstream(first, std::ios::binary | std::ios::trunc) << "garbage";
  auto none = run_conveyor({"models", "list", "--registry", root});
  BOOST_TEST(none.status == 0, none.err);
  BOOST_TEST(none.out.find("fashion  -  ") != std::string::npos, none.out);
  BOOST_TEST(none.out.find("fashion:1 cannot be loaded") != std::string::npos, none.out);
}

BOOST_AUTO_TEST_SUITE_END()
