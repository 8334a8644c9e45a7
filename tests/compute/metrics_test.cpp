#include "compute/metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

using namespace conveyor::compute;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(accuracy_uses_threshold_for_binary_and_argmax_for_multiclass) {
  const std::vector<float> bin = {0.9f, 0.4f, 0.5f, 0.1f};
  const std::vector<float> yb = {1, 1, 1, 0};
  BOOST_TEST(accuracy(bin.data(), yb.data(), 4, 1) == 0.75);
  const std::vector<float> multi = {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f};
  const std::vector<float> ym = {1, 2};
  BOOST_TEST(accuracy(multi.data(), ym.data(), 2, 3) == 0.5);
}

BOOST_AUTO_TEST_CASE(log_loss_matches_hand_values) {
  const std::vector<float> p = {0.8f, 0.3f};
  const std::vector<float> y = {1, 0};
  BOOST_TEST(log_loss(p.data(), y.data(), 2, 1) == -(std::log(0.8) + std::log(0.7)) / 2, tt::tolerance(1e-6));
  const std::vector<float> one = {0.0f};
  const std::vector<float> y1 = {1};
  BOOST_TEST(std::isfinite(log_loss(one.data(), y1.data(), 1, 1))); // clipped, not infinite
}

BOOST_AUTO_TEST_CASE(auc_counts_ties_as_one_half) {
  // positives: .8, .5 ; negatives: .5, .2 -> pairs: (.8>.5)=1 (.8>.2)=1 (.5=.5)=.5 (.5>.2)=1
  const std::vector<float> s = {0.8f, 0.5f, 0.5f, 0.2f};
  const std::vector<float> y = {1, 1, 0, 0};
  BOOST_TEST(auc(s.data(), y.data(), 4) == 3.5 / 4);
  const std::vector<float> all_tied = {0.3f, 0.3f, 0.3f};
  const std::vector<float> y2 = {1, 0, 1};
  BOOST_TEST(auc(all_tied.data(), y2.data(), 3) == 0.5);
  const std::vector<float> perfect = {0.1f, 0.9f};
  const std::vector<float> y3 = {0, 1};
  BOOST_TEST(auc(perfect.data(), y3.data(), 2) == 1.0);
  const std::vector<float> one_class = {1, 1};
  BOOST_TEST(std::isnan(auc(perfect.data(), one_class.data(), 2)));
  const std::vector<float> with_nan = {std::nanf(""), 0.5f, 0.7f};
  const std::vector<float> y4 = {0, 1, 1};
  BOOST_TEST(auc(with_nan.data(), y4.data(), 3) == 1.0); // NaN ranks lowest, no hang
}

BOOST_AUTO_TEST_CASE(regression_metrics_match_hand_values) {
  const std::vector<float> p = {1, 2, 3, 5};
  const std::vector<float> t = {1, 2, 4, 4};
  BOOST_TEST(rmse(p.data(), t.data(), 4) == std::sqrt(0.5), tt::tolerance(1e-9));
  BOOST_TEST(mae(p.data(), t.data(), 4) == 0.5, tt::tolerance(1e-9));
  // mean 2.75; ss_tot = 3.0625 + .5625 + 1.5625 + 1.5625 = 6.75; ss_res = 2
  BOOST_TEST(r2(p.data(), t.data(), 4) == 1 - 2 / 6.75, tt::tolerance(1e-9));
  BOOST_TEST(*metric_by_name("mae", p.data(), t.data(), 4, 1) == 0.5, tt::tolerance(1e-9));
  BOOST_TEST(!metric_by_name("f1", p.data(), t.data(), 4, 1).has_value());
  BOOST_TEST(higher_is_better("accuracy"));
  BOOST_TEST(!higher_is_better("rmse"));
}

BOOST_AUTO_TEST_SUITE_END()
