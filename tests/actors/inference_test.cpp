// inference as a step: what it does with the models that arrive on its port, its
// metrics, and an endpoint it cannot bind. (The server itself: tests/serving;
// the step in a real run: tests/integration/serving_test.cpp.)
#include "actors/inference.hpp"
#include "step_harness.hpp"
#include "tests/compute/test_models.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;

namespace {

std::unique_ptr<step> make_inference(std::map<std::string, dsl::value> params = {}) {
  if (params.count("endpoint") == 0)
    params["endpoint"] = std::string("tcp://127.0.0.1:*");
  return test::make_step(inference_kind(), std::move(params));
}

model_message message(std::string artifact, std::uint64_t version) {
  model_message m{"m", std::make_shared<const std::string>(std::move(artifact))};
  m.version = version;
  return m;
}

} // namespace

BOOST_AUTO_TEST_SUITE(inference_suite)

BOOST_AUTO_TEST_CASE(a_model_that_cannot_be_served_is_counted_and_the_step_keeps_serving) {
  auto s = make_inference();
  test::fake_context ctx;
  test::collector out;
  s->open(ctx);
  BOOST_TEST(s->is_service());
  s->consume_model(0, message(test::logistic_bytes(1), 1), out);
  s->consume_model(0, message("not a model", 2), out);
  s->consume_model(0, model_message{"m", nullptr}, out);
  BOOST_TEST(ctx.rejected == 2u);
  s->consume_model(0, message(test::logistic_bytes(1), 1), out); // a replay: nothing new
  BOOST_TEST(ctx.rejected == 2u);
  s->tick();
  BOOST_TEST(ctx.metrics.at("requests") == 0.0);
  BOOST_TEST(ctx.metrics.count("latency_p99_ms") == 1u);
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_cannot_be_bound_fails_the_step_naming_it) {
  auto s = make_inference({{"endpoint", std::string("tcp://256.0.0.1:1")}});
  test::fake_context ctx;
  try {
    s->open(ctx);
    BOOST_FAIL("bound an impossible endpoint");
  } catch (const step_failure& e) {
    BOOST_TEST(std::string(e.what()).find("tcp://256.0.0.1:1") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(out_of_range_parameters_are_refused_by_name) {
  BOOST_CHECK_EXCEPTION(make_inference({{"max_batch", std::int64_t{0}}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("'max_batch'") != std::string::npos;
                        });
  BOOST_CHECK_EXCEPTION(make_inference({{"max_request_bytes", dsl::size_value{10}}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("'max_request_bytes'") != std::string::npos;
                        });
  BOOST_CHECK_EXCEPTION(make_inference({{"max_model_bytes", dsl::size_value{4ull << 30}}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("'max_model_bytes'") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
