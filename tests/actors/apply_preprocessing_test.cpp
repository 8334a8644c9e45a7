#include "actors/apply_preprocessing.hpp"

#include "actors/cleaner.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

namespace {

dsl::value strings(std::vector<std::string> v) {
  dsl::list_value l;
  for (auto& s : v)
    l.emplace_back(s);
  return dsl::value{l};
}

batch raw_rows(std::size_t n, std::size_t offset) {
  std::vector<float> a, b, label;
  std::vector<std::string> c;
  const char* colors[] = {"red", "green", "blue"};
  for (std::size_t i = 0; i < n; ++i) {
    auto v = static_cast<float>(i + offset);
    a.push_back(i % 5 == 0 ? std::numeric_limits<float>::quiet_NaN() : v * 0.5f);
    b.push_back(v * v);
    label.push_back(static_cast<float>(i % 2));
    c.push_back(i % 7 == 0 ? "<NA>" : colors[(i + offset) % 3]);
  }
  return make_batch({{"a", a}, {"b", b}, {"label", label}}, {{"c", c}}, "label");
}

} // namespace

BOOST_AUTO_TEST_SUITE(apply_preprocessing_suite)

BOOST_AUTO_TEST_CASE(applying_the_fitted_transform_to_raw_rows_gives_what_the_cleaner_emitted) {
  fake_context ctx;
  auto c = make_step(cleaner_kind(), {{"missing", "impute"},
                                      {"standardize", strings({"a"})},
                                      {"min_max", strings({"b"})},
                                      {"scale", 3.0},
                                      {"one_hot", strings({"c"})},
                                      {"fit_rows", 40}});
  c->open(ctx);
  std::vector<batch> in, raw;
  for (std::size_t i = 0; i < 4; ++i) {
    in.push_back(raw_rows(17, i * 17));
    raw.push_back(raw_rows(17, i * 17));
  }
  auto out = push(*c, std::move(in));
  BOOST_REQUIRE_EQUAL(out.on(0).size(), 4u);
  const auto& fitted = *out.on(0)[0].transform;
  for (std::size_t i = 0; i < 4; ++i) {
    apply_preprocessing(fitted, raw[i]);
    BOOST_TEST(*raw[i].schema == *out.on(0)[i].schema);
    BOOST_TEST(rows_as_text({raw[i]}) == rows_as_text({out.on(0)[i]}),
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(dropping_a_column_the_batch_lacks_is_a_no_op_but_other_ops_fail) {
  preprocessing p;
  p.ops.push_back({column_op::kind::drop, "label", 0, 0, {}});
  auto b = make_batch({{"x", {1, 2}}});
  apply_preprocessing(p, b);
  BOOST_TEST(cell(b, "x", 1) == 2.0f);
  p.ops.push_back({column_op::kind::scale, "y", 2, 0, {}});
  BOOST_CHECK_THROW(apply_preprocessing(p, b), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(one_hot_of_a_missing_value_gives_all_zeros_and_keeps_column_order) {
  preprocessing p;
  p.ops.push_back({column_op::kind::one_hot, "c", 0, 0, {"a", "b"}});
  auto b = make_batch({{"x", {1, 2, 3}}}, {{"c", {"b", "<NA>", "a"}}, {"d", {"u", "v", "u"}}});
  apply_preprocessing(p, b);
  BOOST_TEST(b.schema->columns.size() == 4u);
  BOOST_TEST(b.schema->columns[1].name == "c=a");
  BOOST_TEST(b.schema->columns[3].kind == column_kind::categorical);
  BOOST_TEST(rows_as_text({b}) == (std::vector<std::string>{"1|0|1|u|", "2|0|0|v|", "3|1|0|u|"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
