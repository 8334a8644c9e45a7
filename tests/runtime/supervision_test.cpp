// The coordinator's supervision decisions over a whole graph (runtime/supervision.hpp),
// without actors: which instances a failure restarts by strategy, wherever they run,
// and the policy, intensity and backoff of the failed instance.
#include "dsl/front_end.hpp"
#include "runtime/supervision.hpp"
#include "step/kind_registry.hpp"
#include "test_kinds.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <set>

using namespace conveyor;
using namespace std::chrono_literals;

namespace {

struct supervised_graph {
  explicit supervised_graph(const std::string& text) {
    testing::register_test_kinds(kinds);
    auto compiled = dsl::compile(text, kinds);
    BOOST_TEST_REQUIRE(compiled.ok(), dsl::format_diagnostics(compiled.diagnostics, text));
    spec = *compiled.spec;
    shape.emplace(spec, kinds);
    for (const auto& n : spec.nodes)
      for (int r = 0; r < n.instances; ++r)
        instances[instance_name(n.name, r)] = n.name;
  }

  supervision_decision fail(graph_supervisor& s, const std::string& instance,
                            restart_tracker::clock::time_point now =
                              restart_tracker::clock::time_point{}) {
    return s.on_exit(instance, instances.at(instance), true, instances, now);
  }

  kind_registry kinds;
  dsl::graph_spec spec;
  std::optional<topology> shape;
  std::map<std::string, std::string> instances;
};

std::set<std::string> set_of(const supervision_decision& d) {
  return {d.instances.begin(), d.instances.end()};
}

const char* const chain = R"(graph g
node src = numbers
node a = pass { strategy = "%" }
node b = pass { replicas = 2 }
node sink = collect
node other = numbers
node side = collect
src -> a -> b -> sink
other -> side
)";

std::string with_strategy(const std::string& strategy) {
  std::string text = chain;
  text.replace(text.find('%'), 1, strategy);
  return text;
}

} // namespace

BOOST_AUTO_TEST_SUITE(supervision_suite)

BOOST_AUTO_TEST_CASE(one_for_one_restarts_only_the_failed_instance) {
  supervised_graph g{with_strategy("one_for_one")};
  graph_supervisor s{g.spec, *g.shape, {}};
  auto d = g.fail(s, "a");
  BOOST_TEST((d.what == supervision_decision::verdict::restart));
  BOOST_TEST((d.instances == std::vector<std::string>{"a"}));
  BOOST_TEST(d.restarts == 1);
}

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_every_instance_downstream_wherever_it_runs) {
  supervised_graph g{with_strategy("rest_for_one")};
  graph_supervisor s{g.spec, *g.shape, {}};
  auto d = g.fail(s, "a");
  BOOST_TEST(d.instances.front() == "a");
  BOOST_TEST((set_of(d) == std::set<std::string>{"a", "b", "b#1", "sink"}));
}

BOOST_AUTO_TEST_CASE(one_for_all_restarts_every_instance_of_the_graph) {
  supervised_graph g{with_strategy("one_for_all")};
  graph_supervisor s{g.spec, *g.shape, {}};
  auto d = g.fail(s, "a");
  BOOST_TEST(d.instances.size() == g.instances.size());
}

BOOST_AUTO_TEST_CASE(a_replica_group_restarts_together_under_one_for_one) {
  supervised_graph g{with_strategy("one_for_one")};
  graph_supervisor s{g.spec, *g.shape, {"b"}};
  auto d = g.fail(s, "b#1");
  BOOST_TEST(d.instances.front() == "b#1");
  BOOST_TEST((set_of(d) == std::set<std::string>{"b", "b#1"}));
  // Without the group, replicas are independent.
  graph_supervisor plain{g.spec, *g.shape, {}};
  BOOST_TEST((plain.on_exit("b#1", "b", true, g.instances, {}).instances ==
              std::vector<std::string>{"b#1"}));
}

BOOST_AUTO_TEST_CASE(the_backoff_doubles_and_past_max_restarts_the_step_gives_up) {
  supervised_graph g{R"(graph g
node src = numbers
node sink = collect { max_restarts = 2, backoff = 50ms, restart_window = 10s }
src -> sink
)"};
  graph_supervisor s{g.spec, *g.shape, {}};
  restart_tracker::clock::time_point t{};
  auto first = g.fail(s, "sink", t);
  auto second = g.fail(s, "sink", t + 1s);
  auto third = g.fail(s, "sink", t + 2s);
  BOOST_TEST((first.delay == 50ms));
  BOOST_TEST((second.delay == 100ms));
  BOOST_TEST((third.what == supervision_decision::verdict::give_up));
  BOOST_TEST(third.restarts == 2);
  // Outside the window the count starts again.
  BOOST_TEST((g.fail(s, "sink", t + 30s).what == supervision_decision::verdict::restart));
}

BOOST_AUTO_TEST_CASE(restart_never_gives_up_at_once_and_a_clean_exit_restarts_only_with_always) {
  supervised_graph g{R"(graph g
node src = numbers
node sink = collect { restart = "never" }
node keep = collect { restart = "always" }
src -> sink
src -> keep
)"};
  graph_supervisor s{g.spec, *g.shape, {}};
  auto never = g.fail(s, "sink");
  BOOST_TEST((never.what == supervision_decision::verdict::give_up));
  BOOST_TEST(never.restarts == 0);
  BOOST_TEST((s.on_exit("src", "src", false, g.instances, {}).what ==
              supervision_decision::verdict::ignore));
  BOOST_TEST((s.on_exit("keep", "keep", false, g.instances, {}).what ==
              supervision_decision::verdict::restart));
}

BOOST_AUTO_TEST_SUITE_END()
