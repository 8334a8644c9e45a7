// Feature histograms stored in model files, and the drift statistics over them: a sample of
// the training distribution shows no drift, a shifted one does, and files with and without
// histograms both load.
#include "compute/feature_distribution.hpp"
#include "compute/model_file.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

using namespace conveyor::compute;

namespace {

/// rows x 2 features: N(mean, 1) and a 0/1 column with P(1) = p.
std::vector<float> sample(std::size_t rows, double mean, double p, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(static_cast<float>(mean), 1.0f);
  std::bernoulli_distribution b(p);
  std::vector<float> x;
  for (std::size_t r = 0; r < rows; ++r) {
    x.push_back(n(rng));
    x.push_back(b(rng) ? 1.0f : 0.0f);
  }
  return x;
}

std::vector<std::uint64_t> live_counts(const feature_histogram& h, const std::vector<float>& x,
                                       std::size_t column) {
  std::vector<std::uint64_t> c(h.counts.size(), 0);
  for (std::size_t r = 0; r < x.size() / 2; ++r)
    if (auto b = bin_of(h, x[r * 2 + column]); b != SIZE_MAX)
      ++c[b];
  return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(feature_distribution_suite)

BOOST_AUTO_TEST_CASE(deciles_cut_a_continuous_column_and_a_binary_one_gets_merged_cut_points) {
  const auto x = sample(20000, 0, 0.3, 1);
  const auto d = describe_features(x.data(), 20000, {"amount", "flag"});
  BOOST_TEST_REQUIRE(d.features.size() == 2u);
  BOOST_TEST(d.features[0].edges.size() == 9u);
  BOOST_TEST(d.features[0].counts.size() == 10u);
  for (auto c : d.features[0].counts) // about a tenth each
    BOOST_TEST(std::abs(static_cast<double>(c) / static_cast<double>(d.rows) - 0.1) < 0.02);
  BOOST_TEST(d.features[1].edges.size() <= 2u); // cut points 0 (and 1) only
  BOOST_TEST(d.features[1].counts.size() == d.features[1].edges.size() + 1);
}

BOOST_AUTO_TEST_CASE(a_sample_of_the_same_distribution_shows_no_drift_and_a_shifted_one_does) {
  const auto train = sample(20000, 0, 0.3, 1);
  const auto d = describe_features(train.data(), 20000, {"amount", "flag"});
  const auto same = sample(5000, 0, 0.3, 2);
  const auto shifted = sample(5000, 1.0, 0.6, 3);
  for (std::size_t j = 0; j < 2; ++j) {
    const auto s = compare_counts(d.features[j].counts, live_counts(d.features[j], same, j));
    const auto t = compare_counts(d.features[j].counts, live_counts(d.features[j], shifted, j));
    BOOST_TEST(s.psi < 0.05, "column " << j << " same distribution psi " << s.psi);
    BOOST_TEST(s.ks < 0.05, "column " << j << " same distribution ks " << s.ks);
    BOOST_TEST(t.psi > 0.25, "column " << j << " shifted psi " << t.psi);
    BOOST_TEST(t.ks > 0.2, "column " << j << " shifted ks " << t.ks);
  }
}

BOOST_AUTO_TEST_CASE(histograms_round_trip_through_a_model_file_and_files_without_them_still_load) {
  model_spec s;
  s.kind = "logistic";
  s.layers = {2};
  model_artifact a = make_artifact(model(s));
  a.feature_columns = {"amount", "flag"};
  a.input_columns = a.feature_columns;
  const auto plain = model_file::encode(a);
  auto old = model_file::decode(plain);
  BOOST_TEST_REQUIRE(old.value.has_value());
  BOOST_TEST(!old.value->trained_on.has_value());
  BOOST_TEST(plain.find("feature_distribution") == std::string::npos);

  const auto x = sample(1000, 0, 0.5, 4);
  a.trained_on = describe_features(x.data(), 1000, a.feature_columns);
  const auto bytes = model_file::encode(a);
  BOOST_TEST(bytes.find(std::string("\xae" "format_version\x01")) != std::string::npos);
  auto back = model_file::decode(bytes);
  BOOST_TEST_REQUIRE(back.value.has_value(), back.error);
  BOOST_TEST((*back.value == a));
}

BOOST_AUTO_TEST_SUITE_END()
