// The coordinator, message by message, under CAF's deterministic scheduler with a
// stand-in node: deployment and wiring, a drain that arrives while nodes deploy, the
// end of a run, a restart's rewiring and replay, a lost node, and a restart set that
// spans two nodes.
#include "deterministic.hpp"

#include "dsl/front_end.hpp"
#include "runtime/coordinator.hpp"
#include "step/kind_registry.hpp"
#include "test_kinds.hpp"

using namespace conveyor;
using conveyor::testing::deterministic_fixture;

namespace {

const kind_registry& registry() {
  static kind_registry r = [] {
    kind_registry k;
    testing::register_test_kinds(k);
    return k;
  }();
  return r;
}

caf::behavior idle(caf::event_based_actor* self) {
  drop_unexpected_messages(self, "idle");
  return {[](int) {}};
}

/// Stands in for a node: spawns an idle actor per instance it is asked to host and
/// answers with their handles, which the test reads from `hosted`; records the instances
/// it is told to respawn in `respawned` (when given).
caf::behavior fake_node(caf::event_based_actor* self,
                        std::shared_ptr<std::map<std::string, caf::actor>> hosted,
                        std::shared_ptr<std::vector<std::string>> respawned) {
  drop_unexpected_messages(self, "fake node");
  return {
    [=](respawn_atom, std::vector<std::string>& names, bool) {
      if (respawned)
        respawned->insert(respawned->end(), names.begin(), names.end());
    },
    [=](deploy_atom, deployment& d) {
      std::vector<spawned_instance> result;
      for (const auto& a : d.instances) {
        auto name = a.replica == 0 ? a.step : a.step + "#" + std::to_string(a.replica);
        auto handle = self->spawn(idle);
        (*hosted)[name] = handle;
        result.push_back(spawned_instance{name, handle});
      }
      return result;
    },
  };
}

struct coordinator_fixture : deterministic_fixture {
  coordinator_fixture() {
    auto compiled = dsl::compile(R"(graph g
node src = numbers { count = 20, batch = 10 }
node sink = collect
src -> sink
)",
                                 registry());
    BOOST_TEST_REQUIRE(compiled.ok());
    node = sys.spawn(fake_node, hosted, std::shared_ptr<std::vector<std::string>>{});
    coordinator_options o;
    o.graph = *compiled.spec;
    o.registry = &registry();
    o.nodes = {cluster::node_offer{"local", {}, 1, 0}};
    o.report = report;
    coordinator = spawn_coordinator(sys, std::move(o), {node});
  }

  /// Runs the run up to the point where both instances are wired.
  void deploy_and_wire() {
    self->send(coordinator, run_atom::value);
    expect((run_atom), from(self).to(coordinator));
    expect((deploy_atom, deployment), from(coordinator).to(node));
    expect((std::vector<spawned_instance>), from(node).to(coordinator));
    expect((wire_atom, wiring), from(coordinator).to(instance("sink")));
    expect((wire_atom, wiring), from(coordinator).to(instance("src")));
  }

  caf::actor instance(const std::string& name) { return hosted->at(name); }

  /// The last counters of an instance's first incarnation, as it sends them when it ends.
  void send_last_stats(const std::string& name, std::vector<handled_batch> handled) {
    step_stats s{name, name, 0, name, 0, 0, std::move(handled), true, {}};
    caf::send_as(instance(name), coordinator, stats_atom::value, std::move(s));
    expect((stats_atom, step_stats), from(instance(name)).to(coordinator));
  }

  std::shared_ptr<std::map<std::string, caf::actor>> hosted =
    std::make_shared<std::map<std::string, caf::actor>>();
  std::shared_ptr<run_report> report = std::make_shared<run_report>();
  caf::actor node;
  caf::actor coordinator;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(coordinator_suite, coordinator_fixture)

BOOST_AUTO_TEST_CASE(the_coordinator_deploys_every_instance_then_wires_each_to_its_neighbours) {
  self->send(coordinator, run_atom::value);
  expect((run_atom), from(self).to(coordinator));
  BOOST_TEST(next_element<deployment>(node, 1).instances.size() == 2u);
  expect((deploy_atom, deployment), from(coordinator).to(node));
  expect((std::vector<spawned_instance>), from(node).to(coordinator));
  auto w = next_element<wiring>(instance("sink"), 1);
  BOOST_TEST_REQUIRE(w.inputs.size() == 1u);
  BOOST_TEST(w.inputs[0].producer_instance == "src");
  BOOST_TEST((w.inputs[0].producer == instance("src")));
  expect((wire_atom, wiring), from(coordinator).to(instance("sink")));
  auto src_wiring = next_element<wiring>(instance("src"), 1);
  BOOST_TEST_REQUIRE(src_wiring.outputs.size() == 1u);
  BOOST_TEST((src_wiring.outputs[0].consumer == instance("sink")));
  BOOST_TEST(!src_wiring.resume);
  expect((wire_atom, wiring), from(coordinator).to(instance("src")));
}

BOOST_AUTO_TEST_CASE(a_drain_that_arrives_while_the_nodes_deploy_reaches_the_instances) {
  self->send(coordinator, run_atom::value);
  expect((run_atom), from(self).to(coordinator));
  self->send(coordinator, drain_atom::value);
  expect((drain_atom), from(self).to(coordinator));
  expect((deploy_atom, deployment), from(coordinator).to(node));
  expect((drain_atom), from(coordinator).to(node)); // the node sets its steps' flag
  expect((std::vector<spawned_instance>), from(node).to(coordinator));
  expect((wire_atom, wiring), from(coordinator).to(instance("sink")));
  expect((drain_atom), from(coordinator).to(instance("sink")));
  expect((wire_atom, wiring), from(coordinator).to(instance("src")));
  expect((drain_atom), from(coordinator).to(instance("src")));
}

BOOST_AUTO_TEST_CASE(the_run_completes_once_every_instance_is_done_and_every_batch_delivered) {
  deploy_and_wire();
  auto src = instance("src");
  auto sink = instance("sink");
  caf::anon_send(coordinator, stats_atom::value,
                 step_stats{"src", "src", 0, "src", 1000, 0,
                            {handled_batch{true, 0, "src", 1, 10, 0, 0},
                             handled_batch{true, 0, "src", 2, 10, 0, 0}},
                            false,
                            {}});
  sched.run();
  inject((done_atom, std::string, std::uint64_t),
         from(src).to(coordinator).with(done_atom::value, std::string{"src"}, std::uint64_t{2}));
  inject((ack_atom, std::string, deliveries),
         from(sink).to(coordinator)
           .with(ack_atom::value, std::string{"sink"},
                 deliveries{{{"src", 1, source_position{0, 0, 10}}}}));
  // The source learns each advance of what every terminal step has acknowledged.
  expect((delivered_atom, std::uint64_t, source_position),
         from(coordinator).to(src).with(_, std::uint64_t{1}, source_position{0, 0, 10}));
  inject((done_atom, std::string, std::uint64_t),
         from(sink).to(coordinator).with(done_atom::value, std::string{"sink"}, std::uint64_t{0}));
  BOOST_TEST(report->graph.empty()); // batch 2 is not delivered yet
  inject((ack_atom, std::string, deliveries),
         from(sink).to(coordinator)
           .with(ack_atom::value, std::string{"sink"},
                 deliveries{{{"src", 2, source_position{0, 0, 20}}}}));
  expect((delivered_atom, std::uint64_t, source_position),
         from(coordinator).to(src).with(_, std::uint64_t{2}, source_position{0, 0, 20}));
  expect((stop_atom), from(coordinator).to(node));
  // The report waits for the last counters of every step actor, sent as they end.
  send_last_stats("src", {});
  BOOST_TEST(report->graph.empty());
  send_last_stats("sink", {handled_batch{false, 0, "src", 1, 10, 0, 0},
                           handled_batch{false, 0, "src", 2, 10, 0, 0}});
  expect((done_atom), from(coordinator).to(self));
  BOOST_TEST(report->graph == "g");
  BOOST_TEST(to_string(report->status) == "completed");
  BOOST_TEST_REQUIRE(report->steps.size() == 2u);
  BOOST_TEST(report->steps[0].rows_out == 20u);
  BOOST_TEST(report->steps[1].rows_in == 20u);
}

BOOST_AUTO_TEST_CASE(the_report_waits_at_most_two_seconds_for_last_counters) {
  deploy_and_wire();
  self->send(coordinator, drain_atom::value);
  sched.run();
  self->send(coordinator, abandon_atom::value); // nothing had ended
  expect((abandon_atom), from(self).to(coordinator));
  BOOST_TEST(report->abandoned.size() == 2u);
  // It waits for none of the abandoned: it reports at once.
  sched.run();
  bool done = false;
  self->receive([&](done_atom) { done = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(done);
}

BOOST_AUTO_TEST_CASE(a_failed_run_reports_after_the_wait_for_counters_that_never_come) {
  deploy_and_wire();
  caf::send_as(node, coordinator, failed_atom::value,
               step_failure_report{"sink", "sink", 3, "disk full"});
  sched.run();
  bool done = false;
  auto check_done = [&] {
    self->receive([&](done_atom) { done = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
    return done;
  };
  BOOST_TEST(!check_done()); // waiting for the last counters
  BOOST_TEST(advance_time(std::chrono::seconds(2)) > 0u);
  sched.run();
  BOOST_TEST(check_done());
  BOOST_TEST(to_string(report->status) == "failed");
  BOOST_TEST_REQUIRE(report->failures.size() == 1u);
  BOOST_TEST(report->failures[0].last_error == "disk full");
}

BOOST_AUTO_TEST_CASE(a_restarted_sink_is_rewired_with_its_neighbours_and_the_source_replays) {
  deploy_and_wire();
  auto new_sink = sys.spawn(idle);
  caf::send_as(node, coordinator, restarted_atom::value,
               std::vector<spawned_instance>{{"sink", new_sink}}, false);
  expect((restarted_atom, std::vector<spawned_instance>, bool), from(node).to(coordinator));
  expect((wire_atom, wiring), from(coordinator).to(new_sink));
  auto w = next_element<wiring>(instance("src"), 1);
  BOOST_TEST_REQUIRE(w.outputs.size() == 1u);
  BOOST_TEST((w.outputs[0].consumer == new_sink)); // the source now feeds the new sink
  expect((wire_atom, wiring), from(coordinator).to(instance("src")));
  expect((respawn_atom, std::vector<std::string>, bool),
         from(coordinator).to(node).with(_, std::vector<std::string>{"src"}, false));
  caf::anon_send_exit(new_sink, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_CASE(a_lost_node_with_no_other_node_left_fails_the_run_with_node_lost) {
  deploy_and_wire();
  self->send_exit(node, make_error(runtime_errc::unexpected_exception, "out of cheese"));
  sched.run();
  advance_time(std::chrono::seconds(2)); // the lost node's steps send no last counters
  sched.run();
  bool done = false;
  self->receive([&](done_atom) { done = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(done);
  BOOST_TEST(to_string(report->status) == "failed");
  BOOST_TEST(report->error == "lost node 'local': out of cheese; no other node is left",
             report->error);
}

BOOST_AUTO_TEST_CASE(a_node_that_does_not_answer_the_deployment_fails_the_run_with_deploy_failed) {
  auto silent = sys.spawn(idle);
  coordinator_options o;
  o.graph = *dsl::compile("graph g\nnode src = numbers\nnode sink = collect\nsrc -> sink\n",
                          registry())
               .spec;
  o.registry = &registry();
  o.nodes = {cluster::node_offer{"far", {}, 1, 0}};
  o.report = report;
  auto c = spawn_coordinator(sys, std::move(o), {silent});
  self->send(c, run_atom::value);
  sched.run();
  sched.trigger_timeouts(); // the deployment's deadline
  sched.run();
  bool done = false;
  self->receive([&](done_atom) { done = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(done);
  BOOST_TEST(report->error.find("deploying on node 'far' failed") == 0u, report->error);
  caf::anon_send_exit(silent, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_CASE(a_node_answering_with_an_instance_it_was_not_given_fails_the_run) {
  auto stranger = sys.spawn(idle);
  auto lying = sys.spawn([stranger](caf::event_based_actor* self) -> caf::behavior {
    drop_unexpected_messages(self, "lying node");
    return {[stranger](deploy_atom, deployment&) {
      return std::vector<spawned_instance>{{"stranger", stranger}};
    }};
  });
  coordinator_options o;
  o.graph = *dsl::compile("graph g\nnode src = numbers\nnode sink = collect\nsrc -> sink\n",
                          registry())
               .spec;
  o.registry = &registry();
  o.nodes = {cluster::node_offer{"liar", {}, 1, 0}};
  o.report = report;
  auto c = spawn_coordinator(sys, std::move(o), {lying});
  self->send(c, run_atom::value);
  sched.run();
  bool done = false;
  self->receive([&](done_atom) { done = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(done);
  BOOST_TEST(report->error == "node 'liar' answered with an instance it was not given: 'stranger'",
             report->error);
  caf::anon_send_exit(stranger, caf::exit_reason::kill);
  caf::anon_send_exit(lying, caf::exit_reason::kill);
}

BOOST_AUTO_TEST_CASE(a_failure_on_one_node_restarts_its_rest_for_one_set_on_both_after_the_backoff) {
  auto compiled = dsl::compile(R"(graph g
node src = numbers { on = "x" }
node p = pass { strategy = "rest_for_one", backoff = 200ms, on = "x" }
node sink = collect { on = "y" }
src -> p -> sink
)",
                               registry());
  BOOST_TEST_REQUIRE(compiled.ok());
  auto on_x = std::make_shared<std::vector<std::string>>();
  auto on_y = std::make_shared<std::vector<std::string>>();
  auto x = sys.spawn(fake_node, hosted, on_x);
  auto y = sys.spawn(fake_node, hosted, on_y);
  coordinator_options o;
  o.graph = *compiled.spec;
  o.registry = &registry();
  o.nodes = {cluster::node_offer{"x", {"x"}, 1, 0}, cluster::node_offer{"y", {"y"}, 1, 0}};
  o.report = std::make_shared<run_report>();
  auto k = spawn_coordinator(sys, std::move(o), {x, y});
  self->send(k, run_atom::value);
  sched.run();
  // A report about an incarnation the coordinator does not know is dropped.
  caf::send_as(x, k, exited_atom::value, instance_exit{"p", 7, true, "stale"});
  sched.run();
  advance_time(std::chrono::seconds(1));
  sched.run();
  BOOST_TEST(on_x->empty());
  caf::send_as(x, k, exited_atom::value, instance_exit{"p", 0, true, "boom"});
  sched.run();
  BOOST_TEST(on_x->empty()); // the backoff first
  advance_time(std::chrono::milliseconds(200));
  sched.run();
  BOOST_TEST((*on_x == std::vector<std::string>{"p"}));
  BOOST_TEST((*on_y == std::vector<std::string>{"sink"}));
  for (auto& a : {k, x, y})
    caf::anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
}

BOOST_AUTO_TEST_SUITE_END()
