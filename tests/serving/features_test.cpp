// Serving must turn raw rows into exactly the features training saw: the compiled
// feature_builder is checked against apply_preprocessing on a batch.
#include "serving/features.hpp"

#include "data/apply_preprocessing.hpp"
#include "serving_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <random>

using namespace conveyor;
using namespace conveyor::serving;

namespace {

column_op op(column_op::kind k, std::string column, double a = 0, double b = 0) {
  column_op o;
  o.op = k;
  o.column = std::move(column);
  o.a = a;
  o.b = b;
  return o;
}

/// A 5-input model whose preprocessing drops one column, imputes, clips, scales twice.
compute::model_artifact artifact_with_every_numeric_op() {
  compute::model_spec spec;
  spec.kind = "softmax";
  spec.layers = {4, 2};
  compute::model m(compute::validate(spec));
  auto a = compute::make_artifact(m);
  a.input_columns = {"a", "b", "c", "d", "e"};
  a.feature_columns = {"e", "a", "b", "d"}; // reordered: picked by name
  using k = column_op::kind;
  a.preprocessing.ops = {op(k::impute, "a", 1.5),      op(k::standardize, "a", 2, 3),
                         op(k::drop, "c"),             op(k::min_max, "b", -1, 3),
                         op(k::clip, "b", 0.1, 0.9),   op(k::scale, "d", 0.25),
                         op(k::scale, "d", 4),         op(k::drop, "not_there")};
  return a;
}

} // namespace

BOOST_AUTO_TEST_SUITE(features)

BOOST_AUTO_TEST_CASE(compiled_features_equal_apply_preprocessing_bit_for_bit) {
  auto a = artifact_with_every_numeric_op();
  feature_builder fb(a);
  BOOST_TEST(fb.input_width() == 5u);
  BOOST_TEST(fb.feature_width() == 4u);

  const std::uint32_t rows = 50;
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 5);
  std::vector<float> raw(rows * 5);
  for (auto& v : raw)
    v = noise(rng);
  raw[7 * 5] = std::nanf(""); // a missing "a": imputed

  std::vector<float> got;
  fb.build(raw.data(), rows, got);

  batch b;
  b.rows = rows;
  auto schema = std::make_shared<table_schema>();
  for (const auto& name : a.input_columns)
    schema->columns.push_back({name, column_kind::numeric});
  b.schema = schema;
  b.floats.resize(rows * 5);
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < 5; ++c)
      b.floats[c * rows + r] = raw[r * 5 + c];
  apply_preprocessing(a.preprocessing, b);
  for (std::uint32_t j = 0; j < 4; ++j) {
    auto col = b.schema->find(a.feature_columns[j]);
    BOOST_REQUIRE(col >= 0);
    for (std::uint32_t r = 0; r < rows; ++r)
      BOOST_TEST(got[r * 4 + j] == b.floats[static_cast<std::size_t>(col) * rows + r]);
  }
  BOOST_TEST(got[7 * 4 + 1] == static_cast<float>((1.5 - 2) / 3), boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(one_op_of_one_kind_per_feature_takes_the_flat_path_with_the_same_result) {
  // The shape of the Fashion example: the cleaner scaled every pixel.
  compute::model_spec spec;
  spec.kind = "softmax";
  spec.layers = {6, 2};
  compute::model m(compute::validate(spec));
  auto a = compute::make_artifact(m);
  for (int c = 0; c < 6; ++c) {
    a.input_columns.push_back("p" + std::to_string(c));
    a.preprocessing.ops.push_back(op(column_op::kind::scale, a.input_columns.back(), 0.1 * (c + 1)));
  }
  a.feature_columns = {"p5", "p0", "p1", "p2", "p3", "p4"};
  feature_builder fb(a);
  const std::uint32_t rows = 7;
  std::vector<float> raw(rows * 6);
  for (std::size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<float>(i) * 3.7f - 20;
  std::vector<float> got;
  fb.build(raw.data(), rows, got);
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t j = 0; j < 6; ++j) {
      auto source = static_cast<std::uint32_t>(std::stoi(a.feature_columns[j].substr(1)));
      float want = raw[r * 6 + source];
      apply_elementwise(a.preprocessing.ops[source], &want, 1);
      BOOST_TEST(got[r * 6 + j] == want);
    }
}

BOOST_AUTO_TEST_CASE(features_that_are_the_inputs_in_order_give_apply_preprocessings_values_for_every_kind) {
  // One op per column, columns kept in order: the loop over parameter arrays. 37
  // columns, so that a vectorized loop has a remainder; NaNs and infinities included.
  using k = column_op::kind;
  const std::uint32_t width = 37, rows = 5;
  for (auto kind : {k::impute, k::standardize, k::min_max, k::scale, k::clip}) {
    compute::model_spec spec;
    spec.kind = "softmax";
    spec.layers = {static_cast<int>(width), 2};
    compute::model m(compute::validate(spec));
    auto a = compute::make_artifact(m);
    for (std::uint32_t c = 0; c < width; ++c) {
      a.input_columns.push_back("x" + std::to_string(c));
      a.preprocessing.ops.push_back(op(kind, a.input_columns.back(), 0.3 * c - 2, 0.7 + 0.1 * c));
    }
    feature_builder fb(a);
    std::vector<float> raw(rows * width);
    for (std::size_t i = 0; i < raw.size(); ++i)
      raw[i] = static_cast<float>(i) * 1.37f - 60;
    raw[3] = std::numeric_limits<float>::quiet_NaN();
    raw[width + 8] = std::numeric_limits<float>::infinity();
    std::vector<float> got;
    fb.build(raw.data(), rows, got);
    BOOST_REQUIRE_EQUAL(got.size(), raw.size());
    for (std::uint32_t r = 0; r < rows; ++r)
      for (std::uint32_t c = 0; c < width; ++c) {
        float want = raw[r * width + c];
        apply_elementwise(a.preprocessing.ops[c], &want, 1);
        const float value = got[r * width + c];
        BOOST_TEST((value == want || (std::isnan(value) && std::isnan(want))),
                   "kind " << static_cast<int>(kind) << ", row " << r << ", column " << c
                           << ": " << value << ", want " << want);
      }
  }
}

BOOST_AUTO_TEST_CASE(models_that_protocol_v1_cannot_feed_are_refused_naming_the_column) {
  auto a = artifact_with_every_numeric_op();
  a.preprocessing.ops.push_back(op(column_op::kind::one_hot, "e"));
  BOOST_CHECK_EXCEPTION(feature_builder{a}, std::invalid_argument, [](const std::invalid_argument& e) {
    return std::string(e.what()).find("'e'") != std::string::npos;
  });
  auto b = artifact_with_every_numeric_op();
  b.feature_columns[0] = "c"; // dropped by its own preprocessing
  BOOST_CHECK_THROW(feature_builder{b}, std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_model_without_preprocessing_takes_rows_as_they_are) {
  auto a = serving::testing::tiny_classifier();
  a.preprocessing.ops.clear();
  feature_builder fb(a);
  std::vector<float> raw{1, 2, 3, 4, 5, 6, 7, 8}, out;
  fb.build(raw.data(), 2, out);
  BOOST_TEST(out == raw);
}

BOOST_AUTO_TEST_CASE(unusable_values_are_named_by_row_and_column_and_imputed_or_dropped_ones_pass) {
  // a: imputed; b: min_max then clip; c: dropped; d: scaled twice; e: as it is.
  auto a = artifact_with_every_numeric_op();
  a.preprocessing.ops.push_back(op(column_op::kind::scale, "e", 1e30));
  feature_builder fb(a);
  const float nan = std::nanf(""), inf = std::numeric_limits<float>::infinity();
  std::vector<float> raw(3 * 5, 1.0f);
  auto unusable = [&]() {
    std::vector<float> features;
    fb.build(raw.data(), 3, features);
    return fb.find_unusable(raw.data(), features.data(), 3);
  };
  BOOST_TEST(!unusable());
  raw[0 * 5 + 0] = nan; // a missing "a" is imputed
  raw[1 * 5 + 2] = nan; // "c" is dropped: never looked at
  raw[2 * 5 + 2] = -inf;
  BOOST_TEST(!unusable());

  raw[2 * 5 + 3] = nan;
  auto missing = unusable();
  BOOST_REQUIRE(missing);
  BOOST_TEST(*missing == "row 2, column 3 ('d'): NaN (a missing value), and the model's "
                         "preprocessing does not impute this column");
  raw[2 * 5 + 3] = 1;

  raw[1 * 5 + 1] = inf; // clipped to a number, but an infinity is no input
  auto infinite = unusable();
  BOOST_REQUIRE(infinite);
  BOOST_TEST(*infinite == "row 1, column 1 ('b'): infinity is not a usable value");
  raw[1 * 5 + 1] = 1;

  raw[0 * 5 + 4] = 1e10f; // times 1e30 overflows float
  auto overflow = unusable();
  BOOST_REQUIRE(overflow);
  BOOST_TEST(*overflow == "row 0, column 4 ('e'): 1e+10 is out of range: the model's "
                          "preprocessing makes it infinite");
  raw[0 * 5 + 4] = 1;
  BOOST_TEST(!unusable());
}

BOOST_AUTO_TEST_CASE(all_finite_finds_a_nan_or_an_infinity_anywhere) {
  std::vector<float> v(1000, 2.5f);
  BOOST_TEST(all_finite(v.data(), v.size()));
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    for (std::size_t at : {std::size_t{0}, std::size_t{517}, std::size_t{999}}) {
      auto w = v;
      w[at] = bad;
      BOOST_TEST(!all_finite(w.data(), w.size()));
    }
  }
  v[3] = std::numeric_limits<float>::max();
  v[4] = std::numeric_limits<float>::denorm_min();
  BOOST_TEST(all_finite(v.data(), v.size()));
}

BOOST_AUTO_TEST_SUITE_END()
