#include "serving/model_catalog.hpp"

#include "serving_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

using namespace conveyor::serving;
using namespace conveyor::wire;
using namespace conveyor::serving::testing;
namespace fs = std::filesystem;

namespace conveyor::wire {
std::ostream& operator<<(std::ostream& os, error_code c) { return os << to_string(c); }
} // namespace conveyor::wire

BOOST_AUTO_TEST_SUITE(catalog)

BOOST_AUTO_TEST_CASE(the_newest_version_serves_new_lookups_while_holders_keep_theirs) {
  model_catalog c;
  BOOST_TEST(c.add("m", 1, encoded(tiny_classifier(1))));
  auto held = c.find("m", 0).model;
  BOOST_REQUIRE(held);
  BOOST_TEST(c.add("m", 2, encoded(tiny_classifier(2))));
  BOOST_TEST(!c.add("m", 2, encoded(tiny_classifier(2)))); // a replay loads nothing
  BOOST_TEST(c.find("m", 0).model->version == 2u);
  BOOST_TEST(held->version == 1u);
  BOOST_TEST(c.find("m", 1).model.get() == held.get());
  auto list = c.list();
  BOOST_REQUIRE_EQUAL(list.size(), 1u);
  BOOST_TEST(list[0].version == 2u);
  BOOST_TEST(list[0].inputs == 4u);
  BOOST_TEST(list[0].outputs == 3u);
  BOOST_TEST(c.add("m", 0, encoded(tiny_classifier(3)))); // unpublished: next number
  BOOST_TEST(c.find("m", 0).model->version == 3u);
}

BOOST_AUTO_TEST_CASE(loaded_versions_are_bounded_and_evicted_ones_reload_from_the_registry) {
  auto dir = fs::temp_directory_path() / ("conveyor_catalog_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry reg(dir.string());
  for (std::uint64_t s = 1; s <= 5; ++s)
    reg.publish("m", encoded(tiny_classifier(s)));
  model_catalog c(dir.string(), 2);
  BOOST_TEST(c.load_latest().empty());
  BOOST_TEST(c.find("m", 0).model->version == 5u);
  for (std::uint64_t v = 1; v <= 4; ++v)
    BOOST_TEST(c.find("m", v).model->version == v);
  BOOST_TEST(c.loaded_versions() == 2u); // the latest and the last one pinned
  BOOST_TEST(c.find("m", 0).model->version == 5u);
  auto missing = c.find("m", 9);
  BOOST_TEST(!missing.model);
  BOOST_TEST(missing.code == error_code::unknown_version);
  BOOST_TEST(c.find("other", 0).code == error_code::unknown_model);
  BOOST_TEST(c.find("../etc", 0).code == error_code::unknown_model);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(refresh_swaps_in_versions_published_by_others_and_skips_damaged_ones) {
  auto dir = fs::temp_directory_path() / ("conveyor_catalog_refresh_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry reg(dir.string());
  reg.publish("m", encoded(tiny_classifier(1)));
  model_catalog c(dir.string());
  BOOST_TEST(c.load_latest().empty());
  BOOST_TEST(c.refresh().loaded.empty()); // nothing new
  reg.publish("m", encoded(tiny_classifier(2)));
  reg.publish("other", encoded(tiny_classifier(3)));
  auto r = c.refresh();
  BOOST_TEST(r.loaded.size() == 2u);
  BOOST_TEST(r.problems.empty());
  BOOST_TEST(c.find("m", 0).model->version == 2u);
  BOOST_TEST(c.find("other", 0).model->version == 1u);
  // A damaged newer file is reported once, and the served version stays.
  auto v3 = reg.publish("m", encoded(tiny_classifier(4)));
  fs::resize_file(v3.path, 100);
  auto damaged = c.refresh();
  BOOST_TEST(damaged.loaded.empty());
  BOOST_TEST(damaged.problems.size() == 1u);
  BOOST_TEST(c.refresh().problems.empty());
  BOOST_TEST(c.find("m", 0).model->version == 2u);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(an_unreadable_name_in_the_registry_hides_no_other_model) {
  auto dir = fs::temp_directory_path() / ("conveyor_catalog_unreadable_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry reg(dir.string());
  reg.publish("good", encoded(tiny_classifier(1)));
  fs::create_directory_symlink(dir / "loop", dir / "loop"); // opendir: ELOOP
  model_catalog c(dir.string());
  auto problems = c.load_latest();
  BOOST_TEST(problems.size() == 1u);
  BOOST_TEST(c.find("good", 0).model);
  BOOST_TEST(c.find("loop", 0).code == error_code::unknown_model);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_registry_version_replaces_an_unpublished_model_with_its_number) {
  auto dir = fs::temp_directory_path() / ("conveyor_catalog_unpublished_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry reg(dir.string());
  reg.publish("m", encoded(tiny_classifier(1)));
  model_catalog c(dir.string());
  c.load_latest();
  BOOST_TEST(c.add("m", 0, encoded(tiny_classifier(2)))); // unpublished: numbered 2 here
  auto unpublished = c.find("m", 2).model;
  reg.publish("m", encoded(tiny_classifier(3)));          // the registry's real version 2
  BOOST_TEST(c.refresh().loaded.size() == 1u);
  BOOST_TEST(c.find("m", 2).model.get() != unpublished.get());
  BOOST_TEST(c.find("m", 0).model->version == 2u);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(an_artifact_that_does_not_decode_is_refused_with_the_reason) {
  model_catalog c;
  BOOST_CHECK_THROW(c.add("m", 1, "not a model"), std::invalid_argument);
  BOOST_TEST(!c.find("m", 0).model);
}

BOOST_AUTO_TEST_CASE(a_damaged_newest_version_is_reported_and_the_newest_good_one_served) {
  auto dir = fs::temp_directory_path() / ("conveyor_catalog_fallback_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry reg(dir.string());
  reg.publish("m", encoded(tiny_classifier(1)));
  auto v2 = reg.publish("m", encoded(tiny_classifier(2)));
  auto v3 = reg.publish("m", encoded(tiny_classifier(3)));
  fs::resize_file(v3.path, 200);                          // truncated
  std::ofstream(v2.path, std::ios::binary | std::ios::trunc) << std::string(5000, '\x93'); // garbage
  model_catalog c(dir.string());
  auto problems = c.load_latest();
  BOOST_REQUIRE_EQUAL(problems.size(), 2u);
  BOOST_TEST(problems[0].find("3.model") != std::string::npos, problems[0]);
  BOOST_TEST(problems[1].find("2.model") != std::string::npos, problems[1]);
  BOOST_TEST(c.find("m", 0).model->version == 1u);
  BOOST_TEST(c.find("m", 1).model->version == 1u);
  BOOST_TEST(c.find("m", 2).code == error_code::internal);
  BOOST_TEST(c.list().at(0).version == 1u);
  BOOST_TEST(c.refresh().problems.empty()); // reported once
  reg.publish("m", encoded(tiny_classifier(4)));
  auto r = c.refresh();
  BOOST_REQUIRE_EQUAL(r.loaded.size(), 1u);
  BOOST_TEST(r.loaded[0].version == 4u);
  BOOST_TEST(c.find("m", 0).model->version == 4u);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(model_files_over_the_limit_are_not_served_and_the_reason_names_the_limit) {
  auto dir = fs::temp_directory_path() / ("conveyor_catalog_limit_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry reg(dir.string());
  const auto bytes = encoded(tiny_classifier(1));
  reg.publish("m", bytes);
  model_catalog c(dir.string(), 4, bytes.size() - 1);
  auto problems = c.load_latest();
  BOOST_REQUIRE_EQUAL(problems.size(), 1u);
  BOOST_TEST(problems[0].find("the limit is " + std::to_string(bytes.size() - 1)) != std::string::npos,
             problems[0]);
  BOOST_CHECK_EXCEPTION(c.add("n", 1, bytes), std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("too large") != std::string::npos;
  });
  BOOST_TEST(c.list().empty());
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
