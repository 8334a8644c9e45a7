// publisher: files models in the registry, forwards them with their version, is
// idempotent across replays and restarts, prunes with `keep`, and rejects junk without
// failing.
#include "compute/model_file.hpp"
#include "actors/publisher.hpp"
#include "serving/registry.hpp"
#include "step_harness.hpp"
#include "tests/compute/test_models.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

/// A small logistic model named `name`; a different `w` gives different bytes.
model_message model(float w, const std::string& name = "m") {
  return model_message{name, std::make_shared<const std::string>(test::logistic_bytes(w))};
}

std::unique_ptr<step> make_publisher(const std::string& registry,
                                     std::map<std::string, dsl::value> params = {}) {
  params["registry"] = registry;
  return test::make_step(publisher_kind(), std::move(params));
}

std::vector<std::uint64_t> versions_on_disk(const std::string& root, const std::string& name) {
  std::vector<std::uint64_t> out;
  for (const auto& v : serving::registry(root).versions(name))
    out.push_back(v.version);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(publisher_suite)

BOOST_AUTO_TEST_CASE(each_new_model_is_published_and_forwarded_with_its_version) {
  test::temp_dir dir;
  const auto root = dir.file("models");
  auto s = make_publisher(root);
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  s->consume_model(0, model(1), out);
  s->consume_model(0, model(2), out);
  BOOST_TEST_REQUIRE(out.models.size() == 2u);
  BOOST_TEST(out.models[0].version == 1u);
  BOOST_TEST(out.models[1].version == 2u);
  BOOST_TEST(out.models[1].name == "m");
  BOOST_TEST(*out.models[1].artifact == *model(2).artifact); // forwarded as it came
  BOOST_TEST(versions_on_disk(root, "m") == (std::vector<std::uint64_t>{1, 2}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(ctx.info.size() == 2u);
  BOOST_TEST(ctx.info[1] == "published m version 2 (" + root + "/m/2.model)");
  BOOST_TEST(ctx.metrics["published"] == 2.0);
  BOOST_TEST(ctx.metrics["version"] == 2.0);
  BOOST_TEST(ctx.rejected == 0u);
}

BOOST_AUTO_TEST_CASE(a_replayed_model_is_not_republished_but_still_forwarded_with_its_version) {
  test::temp_dir dir;
  const auto root = dir.file("models");
  test::fake_context ctx;
  test::collector out;
  auto s = make_publisher(root);
  s->open(ctx);
  s->consume_model(0, model(1), out);
  s->consume_model(0, model(1), out); // replayed to the same instance
  auto restarted = make_publisher(root);
  restarted->open(ctx);
  restarted->consume_model(0, model(1), out); // and to a restarted one
  BOOST_TEST(versions_on_disk(root, "m") == (std::vector<std::uint64_t>{1}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(out.models.size() == 3u);
  for (const auto& m : out.models)
    BOOST_TEST(m.version == 1u);
  BOOST_TEST(ctx.info.back() == "m: identical to version 1; not republished");
  BOOST_TEST(ctx.metrics["published"] == 0.0); // the restarted instance wrote nothing
  BOOST_TEST(ctx.metrics["version"] == 1.0);
}

BOOST_AUTO_TEST_CASE(keep_bounds_the_versions_kept_on_disk) {
  test::temp_dir dir;
  const auto root = dir.file("models");
  auto s = make_publisher(root, {{"keep", 2}});
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  for (int i = 1; i <= 4; ++i)
    s->consume_model(0, model(static_cast<float>(i)), out);
  BOOST_TEST(versions_on_disk(root, "m") == (std::vector<std::uint64_t>{3, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(out.models.back().version == 4u);
}

BOOST_AUTO_TEST_CASE(a_model_that_does_not_decode_is_rejected_without_failing_the_step) {
  test::temp_dir dir;
  const auto root = dir.file("models");
  auto s = make_publisher(root);
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  BOOST_CHECK_NO_THROW(s->consume_model(
    0, model_message{"m", std::make_shared<const std::string>("not a model")}, out));
  BOOST_CHECK_NO_THROW(s->consume_model(0, model_message{"m", nullptr}, out));
  BOOST_TEST(ctx.rejected == 2u);
  BOOST_TEST_REQUIRE(!ctx.reject_reasons.empty());
  BOOST_TEST(ctx.reject_reasons[0].find("model 'm' not published: truncated or not a conveyor "
                                        "model") != std::string::npos,
             ctx.reject_reasons[0]);
  BOOST_TEST(out.models.empty());
  s->consume_model(0, model(1), out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(out.models[0].version == 1u);
}

BOOST_AUTO_TEST_CASE(the_name_parameter_overrides_the_models_name_and_bad_names_are_rejected) {
  test::temp_dir dir;
  const auto root = dir.file("models");
  test::fake_context ctx;
  test::collector out;
  auto named = make_publisher(root, {{"name", std::string("fashion")}});
  named->open(ctx);
  named->consume_model(0, model(1, "trainer_output"), out);
  BOOST_TEST_REQUIRE(out.models.size() == 1u);
  BOOST_TEST(out.models[0].name == "fashion");
  BOOST_TEST(versions_on_disk(root, "fashion").size() == 1u);

  auto by_message = make_publisher(root);
  by_message->open(ctx);
  BOOST_CHECK_NO_THROW(by_message->consume_model(0, model(1, "../escape"), out));
  BOOST_TEST(ctx.rejected == 1u);
  BOOST_TEST(out.models.size() == 1u);

  BOOST_CHECK_THROW(make_publisher(root, {{"name", std::string("a/b")}}), step_failure);
  BOOST_CHECK_THROW(make_publisher(root, {{"keep", -1}}), step_failure);
}

BOOST_AUTO_TEST_CASE(a_registry_that_cannot_be_written_fails_the_step) {
  test::temp_dir dir;
  test::write_file(dir.file("file"), "x");
  auto s = make_publisher(dir.file("file")); // the registry root is a regular file
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  BOOST_CHECK_THROW(s->consume_model(0, model(1), out), step_failure);
}

BOOST_AUTO_TEST_SUITE_END()
