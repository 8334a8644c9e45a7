#include "data/apply_preprocessing.hpp"

#include "tests/data/batch_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace conveyor;
using namespace conveyor::test;

BOOST_AUTO_TEST_SUITE(apply_preprocessing_suite)

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
