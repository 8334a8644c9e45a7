// The transform a cleaner fits, applied to raw rows (as serving does), gives what the
// cleaner itself emitted.
#include "data/apply_preprocessing.hpp"

#include "actors/cleaner.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <limits>

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

BOOST_AUTO_TEST_SUITE(cleaner_transform)

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

BOOST_AUTO_TEST_SUITE_END()
