#include "metrics/registry.hpp"
#include "tests/support/prometheus_text.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <thread>

using namespace conveyor;
using conveyor::test::parse_prometheus_text;

BOOST_AUTO_TEST_SUITE(exposition)

BOOST_AUTO_TEST_CASE(label_values_escape_backslash_quote_and_newline_and_read_back) {
  metrics::registry r;
  r.counter_family("odd_total", "help with \\ and\nnewline", {"v"}).with({"a\\b\"c\nd"}).add(3);
  const auto text = r.render();
  BOOST_TEST(text.find("odd_total{v=\"a\\\\b\\\"c\\nd\"} 3\n") != std::string::npos);
  BOOST_TEST(text.find("# HELP odd_total help with \\\\ and\\nnewline\n") != std::string::npos);
  auto parsed = parse_prometheus_text(text);
  BOOST_TEST(parsed.value("odd_total", {{"v", "a\\b\"c\nd"}}).value() == 3);
  BOOST_TEST(parsed.types.at("odd_total") == "counter");
}

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count) {
  metrics::registry r;
  auto& h = r.histogram_family("lat_seconds", "latency", {"model"}, {0.1, 1, 10}).with({"m"});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0})
    h.observe(v);
  auto parsed = parse_prometheus_text(r.render());
  BOOST_TEST(parsed.types.at("lat_seconds") == "histogram");
  BOOST_TEST(parsed.value("lat_seconds_bucket", {{"model", "m"}, {"le", "0.1"}}).value() == 2); // le is inclusive
  BOOST_TEST(parsed.value("lat_seconds_bucket", {{"model", "m"}, {"le", "1"}}).value() == 3);
  BOOST_TEST(parsed.value("lat_seconds_bucket", {{"model", "m"}, {"le", "10"}}).value() == 4);
  BOOST_TEST(parsed.value("lat_seconds_bucket", {{"model", "m"}, {"le", "+Inf"}}).value() == 6);
  BOOST_TEST(parsed.value("lat_seconds_count", {{"model", "m"}}).value() == 6);
  BOOST_TEST(std::abs(parsed.value("lat_seconds_sum", {{"model", "m"}}).value() - 52.65) < 1e-9);
}

BOOST_AUTO_TEST_CASE(values_render_as_shortest_decimals_and_infinities_and_nan_by_name) {
  BOOST_TEST(metrics::format_value(0.1) == "0.1");
  BOOST_TEST(metrics::format_value(3) == "3");
  BOOST_TEST(metrics::format_value(HUGE_VAL) == "+Inf");
  BOOST_TEST(metrics::format_value(-HUGE_VAL) == "-Inf");
  BOOST_TEST(metrics::format_value(std::nan("")) == "NaN");
}

BOOST_AUTO_TEST_CASE(a_family_without_labels_renders_bare_samples) {
  metrics::registry r;
  r.gauge_family("depth", "queue depth").with({}).set(7);
  r.histogram_family("h", "h", {}, {1}).with({}).observe(0.5);
  const auto text = r.render();
  BOOST_TEST(text.find("\ndepth 7\n") != std::string::npos);
  BOOST_TEST(text.find("h_bucket{le=\"1\"} 1\n") != std::string::npos);
  BOOST_TEST(text.find("h_sum 0.5\n") != std::string::npos);
  parse_prometheus_text(text);
}

BOOST_AUTO_TEST_CASE(registering_a_name_again_returns_the_same_family_or_refuses_another_shape) {
  metrics::registry r;
  auto& a = r.counter_family("c_total", "c", {"x"});
  a.with({"1"}).add();
  auto& b = r.counter_family("c_total", "c", {"x"});
  BOOST_TEST(&a == &b);
  BOOST_CHECK_THROW(r.gauge_family("c_total", "c", {"x"}), std::invalid_argument);
  BOOST_CHECK_THROW(r.counter_family("c_total", "c", {"y"}), std::invalid_argument);
  BOOST_CHECK_THROW(r.counter_family("9bad", "c"), std::invalid_argument);
  BOOST_CHECK_THROW(r.counter_family("ok", "c", {"__reserved"}), std::invalid_argument);
  BOOST_CHECK_THROW(r.histogram_family("h", "h", {"le"}, {1}), std::invalid_argument);
  BOOST_CHECK_THROW(r.histogram_family("h", "h", {}, {2, 1}), std::invalid_argument);
  BOOST_CHECK_THROW(a.with({}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(collect_hooks_run_before_each_render_until_removed) {
  metrics::registry r;
  auto& g = r.gauge_family("g", "g").with({});
  double next = 1;
  auto id = r.add_collect_hook([&] { g.set(next++); });
  BOOST_TEST(parse_prometheus_text(r.render()).value("g").value() == 1);
  BOOST_TEST(parse_prometheus_text(r.render()).value("g").value() == 2);
  r.remove_collect_hook(id);
  BOOST_TEST(parse_prometheus_text(r.render()).value("g").value() == 2);
}

BOOST_AUTO_TEST_CASE(observations_from_many_threads_are_all_counted) {
  metrics::registry r;
  auto& c = r.counter_family("n_total", "n").with({});
  auto& h = r.histogram_family("d", "d", {}, {0.5}).with({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.add();
        h.observe(i % 2 ? 1.0 : 0.25);
      }
    });
  for (auto& t : threads)
    t.join();
  auto parsed = parse_prometheus_text(r.render());
  BOOST_TEST(parsed.value("n_total").value() == 40000);
  BOOST_TEST(parsed.value("d_bucket", {{"le", "0.5"}}).value() == 20000);
  BOOST_TEST(parsed.value("d_count").value() == 40000);
  BOOST_TEST(parsed.value("d_sum").value() == 25000);
}

BOOST_AUTO_TEST_SUITE_END()
