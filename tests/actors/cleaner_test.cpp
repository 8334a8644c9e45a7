#include "actors/cleaner.hpp"

#include "data/apply_preprocessing.hpp"
#include "data/preprocessing_codec.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;
namespace tt = boost::test_tools;

namespace {

const float missing = std::numeric_limits<float>::quiet_NaN();

std::unique_ptr<step> make_cleaner(std::map<std::string, dsl::value> p, fake_context& ctx) {
  auto s = make_step(cleaner_kind(), std::move(p));
  s->open(ctx);
  return s;
}

dsl::value strings(std::vector<std::string> v) {
  dsl::list_value l;
  for (auto& s : v)
    l.emplace_back(s);
  return dsl::value{l};
}

dsl::value numbers(std::vector<double> v) {
  dsl::list_value l;
  for (auto d : v)
    l.emplace_back(d);
  return dsl::value{l};
}

batch sample() {
  // x: 1,2,3,4 (mean 2.5, population sd sqrt(1.25)); y: 10,20,30,40; label 0,1,0,1
  auto b = make_batch({{"x", {1, 2, 3, 4}}, {"y", {10, 20, 30, 40}}, {"label", {0, 1, 0, 1}}},
                      {{"color", {"red", "blue", "red", "green"}}}, "label");
  b.source = "src";
  b.sequence = 1;
  return b;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cleaner_suite)

BOOST_AUTO_TEST_CASE(a_cleaner_without_statistics_to_fit_streams_each_batch_at_once) {
  fake_context ctx;
  auto c = make_cleaner({{"scale", dsl::value{0.5}}, {"drop", strings({"y"})}}, ctx);
  collector out;
  c->consume(0, sample(), out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 1u); // not held for fit_rows
  BOOST_TEST(cell(out.on(0)[0], "x", 3) == 2.0f);
  auto second = sample();
  second.sequence = 2;
  c->consume(0, std::move(second), out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 2u);
  BOOST_TEST(out.on(0)[1].sequence == 2u);
}

BOOST_AUTO_TEST_CASE(a_cleaner_with_statistics_to_fit_holds_batches_until_fit_rows) {
  fake_context ctx;
  auto c = make_cleaner({{"standardize", strings({"x"})}, {"fit_rows", dsl::value{8}}}, ctx);
  collector out;
  c->consume(0, sample(), out);
  BOOST_TEST(out.on(0).empty());
  auto second = sample();
  second.sequence = 2;
  c->consume(0, std::move(second), out);
  BOOST_TEST(out.on(0).size() == 2u);
}

BOOST_AUTO_TEST_CASE(standardize_uses_the_mean_and_population_standard_deviation) {
  fake_context ctx;
  auto c = make_cleaner({{"standardize", strings({"x"})}}, ctx);
  auto out = push(*c, {sample()});
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 1u);
  const auto& b = out.on(0)[0];
  const float sd = std::sqrt(1.25f);
  for (std::size_t r = 0; r < 4; ++r)
    BOOST_TEST(cell(b, "x", r) == (static_cast<float>(r + 1) - 2.5f) / sd, tt::tolerance(1e-6f));
  BOOST_TEST(cell(b, "y", 2) == 30.0f); // untouched
  BOOST_TEST(cell(b, "label", 1) == 1.0f);
  BOOST_REQUIRE(b.transform);
  BOOST_REQUIRE_EQUAL(b.transform->ops.size(), 1u);
  BOOST_TEST(b.transform->ops[0].a == 2.5);
  BOOST_TEST(b.transform->ops[0].b == std::sqrt(1.25), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_constant_column_standardizes_to_zero_without_dividing_by_zero) {
  fake_context ctx;
  auto c = make_cleaner({{"standardize", strings({"*"})}}, ctx);
  auto out = push(*c, {make_batch({{"k", {5, 5, 5}}})});
  const auto& b = out.on(0)[0];
  BOOST_TEST(b.transform->ops[0].b == 1.0);
  BOOST_TEST(cell(b, "k", 0) == 0.0f);
}

BOOST_AUTO_TEST_CASE(min_max_scale_and_clip_apply_in_that_order_and_never_to_the_label) {
  fake_context ctx;
  auto c = make_cleaner({{"min_max", strings({"y"})}, {"scale", 2.0}, {"clip", numbers({0, 5})}},
                        ctx);
  auto out = push(*c, {sample()});
  const auto& b = out.on(0)[0];
  // y: (y-10)/30 -> 0, 1/3, 2/3, 1; then *2
  BOOST_TEST(cell(b, "y", 0) == 0.0f);
  BOOST_TEST(cell(b, "y", 1) == 2.0f / 3.0f, tt::tolerance(1e-6f));
  BOOST_TEST(cell(b, "y", 3) == 2.0f);
  // x: *2 -> 2,4,6,8; clipped to 5
  BOOST_TEST(cell(b, "x", 0) == 2.0f);
  BOOST_TEST(cell(b, "x", 2) == 5.0f);
  BOOST_TEST(cell(b, "x", 3) == 5.0f);
  BOOST_TEST(cell(b, "label", 1) == 1.0f);
}

BOOST_AUTO_TEST_CASE(one_hot_replaces_a_categorical_column_with_sorted_category_columns) {
  fake_context ctx;
  auto c = make_cleaner({{"one_hot", strings({"*"})}, {"drop", strings({"y"})}}, ctx);
  auto out = push(*c, {sample()});
  const auto& b = out.on(0)[0];
  std::vector<std::string> names;
  for (const auto& col : b.schema->columns)
    names.push_back(col.name);
  BOOST_TEST(names == (std::vector<std::string>{"x", "label", "color=blue", "color=green",
                                                "color=red"}),
             tt::per_element());
  BOOST_TEST(b.categoricals.empty());
  BOOST_TEST(rows_as_text({b}) == (std::vector<std::string>{"1|0|0|0|1|", "2|1|1|0|0|",
                                                            "3|0|0|0|1|", "4|1|0|1|0|"}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(an_unseen_category_one_hot_encodes_to_all_zeros) {
  fake_context ctx;
  auto c = make_cleaner({{"one_hot", strings({"color"})}, {"fit_rows", 4}}, ctx);
  auto later = make_batch({{"x", {9}}, {"y", {9}}, {"label", {0}}}, {{"color", {"purple"}}},
                          "label");
  auto out = push(*c, {sample(), later});
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 2u);
  BOOST_TEST(rows_as_text({out.on(0)[1]}) == (std::vector<std::string>{"9|9|0|0|0|0|"}),
             tt::per_element());
}

BOOST_AUTO_TEST_CASE(missing_drop_removes_incomplete_rows_and_counts_them) {
  fake_context ctx;
  auto c = make_cleaner({{"missing", "drop"}, {"drop", strings({"y"})}}, ctx);
  auto b = make_batch({{"x", {1, missing, 3, 4}}, {"y", {missing, 1, 1, 1}}, {"label", {0, 1, missing, 1}}},
                      {{"c", {"a", "a", "a", "<NA>"}}}, "label");
  auto out = push(*c, {b});
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 1u);
  // row 0 kept (its NaN is in the dropped column), rows 1-3 removed
  BOOST_TEST(rows_as_text(out.on(0)) == (std::vector<std::string>{"1|0|a|"}), tt::per_element());
  BOOST_TEST(ctx.rejected == 3u);
  BOOST_TEST(ctx.reject_reasons[0] == "missing values");
}

BOOST_AUTO_TEST_CASE(missing_impute_fills_the_mean_and_the_most_frequent_category) {
  fake_context ctx;
  auto c = make_cleaner({{"missing", "impute"}}, ctx);
  auto b = make_batch({{"x", {1, missing, 3, 8}}, {"label", {0, 1, 0, missing}}},
                      {{"c", {"b", "a", "<NA>", "b"}}}, "label");
  auto out = push(*c, {b});
  const auto& o = out.on(0)[0];
  BOOST_TEST(cell(o, "x", 1) == 4.0f);
  BOOST_TEST(*category(o, "c", 2) == "b");
  BOOST_TEST(std::isnan(cell(o, "label", 3))); // labels are never imputed
  BOOST_TEST(ctx.rejected == 0u);
}

BOOST_AUTO_TEST_CASE(the_fit_window_holds_batches_then_releases_them_in_order_with_their_sequences) {
  fake_context ctx;
  auto c = make_cleaner({{"standardize", strings({"x"})}, {"fit_rows", 5}}, ctx);
  collector out;
  auto mk = [](std::uint64_t seq, float a, float b) {
    auto x = make_batch({{"x", {a, b}}});
    x.source = "s";
    x.sequence = seq;
    x.first_row = (seq - 1) * 2;
    return x;
  };
  c->consume(0, mk(1, 1, 2), out);
  c->consume(0, mk(2, 3, 4), out);
  BOOST_TEST(out.on(0).empty()); // 4 rows held, fit_rows = 5
  c->consume(0, mk(3, 5, 6), out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 3u); // fitted on 6 rows, all released
  c->consume(0, mk(4, 7, 8), out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 4u);
  c->finish(out);
  c->finish(out); // again after a replay: nothing new
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 4u);
  for (std::uint64_t i = 0; i < 4; ++i)
    BOOST_TEST(out.on(0)[i].sequence == i + 1);
  // mean 3.5 and population sd of 1..6 = sqrt(35/12), fitted on the first 6 rows only
  BOOST_TEST(cell(out.on(0)[3], "x", 1) == (8.0f - 3.5f) / std::sqrt(35.0f / 12.0f),
             tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(finish_fits_on_fewer_rows_than_the_fit_window) {
  fake_context ctx;
  auto c = make_cleaner({{"min_max", strings({"x"})}}, ctx);
  collector out;
  c->consume(0, make_batch({{"x", {2, 4}}}), out);
  BOOST_TEST(out.on(0).empty());
  c->finish(out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 1u);
  BOOST_TEST(cell(out.on(0)[0], "x", 1) == 1.0f);
}

BOOST_AUTO_TEST_CASE(a_restarted_cleaner_reloads_its_fit_and_does_not_refit) {
  fake_context ctx;
  {
    auto c = make_cleaner({{"standardize", strings({"x"})}}, ctx);
    push(*c, {sample()});
  }
  BOOST_REQUIRE(ctx.state.has_value());
  auto saved = decode_preprocessing(*ctx.state);
  auto c2 = make_cleaner({{"standardize", strings({"x"})}}, ctx);
  // Different data: a refit would give different numbers; the reload transforms at once.
  collector out;
  c2->consume(0, make_batch({{"x", {2.5f, 100}}, {"y", {0, 0}}, {"label", {0, 0}}}, {}, "label"),
              out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 1u);
  BOOST_TEST(cell(out.on(0)[0], "x", 0) == 0.0f);
  BOOST_TEST(*out.on(0)[0].transform == saved);
}

BOOST_AUTO_TEST_CASE(an_upstream_transform_is_kept_and_the_fit_is_appended) {
  fake_context ctx;
  auto c = make_cleaner({{"scale", 0.5}}, ctx);
  auto b = make_batch({{"x", {2}}});
  auto upstream = std::make_shared<preprocessing>();
  upstream->ops.push_back({column_op::kind::drop, "gone", 0, 0, {}});
  b.transform = upstream;
  auto out = push(*c, {b});
  const auto& t = *out.on(0)[0].transform;
  BOOST_REQUIRE_EQUAL(t.ops.size(), 2u);
  BOOST_TEST(t.ops[0].column == "gone");
  BOOST_TEST(t.ops[1].a == 0.5);
}

BOOST_AUTO_TEST_CASE(fit_rows_zero_holds_every_batch_until_the_input_ends_and_fits_on_all_rows) {
  fake_context ctx;
  auto c = make_cleaner({{"standardize", strings({"x"})}, {"fit_rows", 0}}, ctx);
  collector out;
  auto mk = [](std::uint64_t seq, float a, float b) {
    auto x = make_batch({{"x", {a, b}}});
    x.source = "s";
    x.sequence = seq;
    x.first_row = (seq - 1) * 2;
    return x;
  };
  for (std::uint64_t seq = 1; seq <= 50; ++seq) // 100 rows: past any small window
    c->consume(0, mk(seq, static_cast<float>(2 * seq - 1), static_cast<float>(2 * seq)), out);
  BOOST_TEST(out.on(0).empty());
  c->finish(out);
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 50u);
  for (std::uint64_t i = 0; i < 50; ++i)
    BOOST_TEST(out.on(0)[i].sequence == i + 1);
  // x = 1..100: mean 50.5, population sd sqrt((100^2 - 1) / 12)
  const double sd = std::sqrt(9999.0 / 12.0);
  BOOST_TEST(out.on(0)[0].transform->ops[0].a == 50.5, tt::tolerance(1e-12));
  BOOST_TEST(out.on(0)[0].transform->ops[0].b == sd, tt::tolerance(1e-12));
  BOOST_TEST(cell(out.on(0)[49], "x", 1) == static_cast<float>((100.0 - 50.5) / sd),
             tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(bad_parameters_fail_with_a_clear_message) {
  BOOST_CHECK_EXCEPTION(make_step(cleaner_kind(), {{"fit_rows", -1}}), step_failure,
                        [](const step_failure& e) {
                          return std::string(e.what()).find("'fit_rows' must be >= 0") !=
                                 std::string::npos;
                        });
  BOOST_CHECK_THROW(make_step(cleaner_kind(), {{"clip", numbers({1})}}), step_failure);
  BOOST_CHECK_THROW(make_step(cleaner_kind(), {{"clip", numbers({2, 1})}}), step_failure);
  fake_context ctx;
  auto c = make_cleaner({{"standardize", strings({"nope"})}}, ctx);
  BOOST_CHECK_EXCEPTION(push(*c, {sample()}), step_failure, [](const step_failure& e) {
    return std::string(e.what()).find("'nope'") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(the_preprocessing_encoding_round_trips) {
  preprocessing p;
  p.ops.push_back({column_op::kind::standardize, "x", 1.5, 0.25, {}});
  p.ops.push_back({column_op::kind::one_hot, "c", 0, 0, {"a", "b,c"}});
  BOOST_TEST(decode_preprocessing(encode_preprocessing(p)) == p);
  BOOST_CHECK_THROW(decode_preprocessing("garbage"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
