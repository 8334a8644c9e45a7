// The inference server's Prometheus metrics: counted as requests are answered, read back
// through the registry's text format.
#include "serving/server.hpp"

#include "serving_fixtures.hpp"
#include "tests/support/prometheus_text.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::serving;
using namespace conveyor::serving::testing;

BOOST_AUTO_TEST_SUITE(server_metrics_suite)

BOOST_AUTO_TEST_CASE(requests_are_counted_by_model_and_outcome_and_predictions_timed) {
  metrics::registry registry;
  auto catalog = std::make_shared<model_catalog>(std::string());
  catalog->add("tiny", 1, encoded(tiny_classifier()));
  catalog->add("other", 1, encoded(tiny_classifier(3)));
  server_options o;
  o.endpoint = "tcp://127.0.0.1:*";
  o.metrics = std::make_shared<server_metrics>(registry, "api");
  server srv(o, catalog);
  srv.start();
  zmq::context_t ctx;
  peer p(ctx, srv.endpoint());
  for (std::uint64_t id = 1; id <= 3; ++id) { // alternating: each counted under its own name
    BOOST_TEST(p.call(predict_request(id, "tiny", {{1, 2, 3, 4}})).ok);
    BOOST_TEST(p.call(predict_request(100 + id, "other", {{1, 2, 3, 4}})).ok);
  }
  BOOST_TEST(p.call(predict_request(4, "nope", {{1, 2, 3, 4}})).code == "unknown_model");
  BOOST_TEST(p.call(predict_request(5, "tiny", {{1, 2}})).code == "shape_mismatch");
  BOOST_TEST(p.call(request_builder().str("op", "health").uint("id", 6).bytes()).ok);

  auto text = test::parse_prometheus_text(registry.render());
  auto requests = [&](const std::string& model, const std::string& outcome) {
    return text.value("conveyor_inference_requests_total",
                      {{"step", "api"}, {"model", model}, {"outcome", outcome}});
  };
  BOOST_TEST(requests("tiny", "ok").value() == 3);
  BOOST_TEST(requests("other", "ok").value() == 3);
  BOOST_TEST(requests("", "unknown_model").value() == 1); // not the client's made-up name
  BOOST_TEST(requests("tiny", "shape_mismatch").value() == 1);
  BOOST_TEST(requests("", "ok").value() == 1);
  BOOST_TEST(text.value("conveyor_inference_latency_seconds_count",
                        {{"step", "api"}, {"model", "tiny"}})
               .value() == 3);
  BOOST_TEST(text.value("conveyor_inference_latency_seconds_bucket",
                        {{"step", "api"}, {"model", "tiny"}, {"le", "+Inf"}})
               .value() == 3);
  BOOST_TEST(text.value("conveyor_inference_dropped_replies_total", {{"step", "api"}}).value() == 0);
  srv.stop();
}

BOOST_AUTO_TEST_SUITE_END()
