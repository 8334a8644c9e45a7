// The node, message by message, under CAF's deterministic scheduler (the test plays
// the coordinator): deployment, exits reported to the coordinator, respawns on its
// order, a graph it cannot compile, and the drain flag.
#include "deterministic.hpp"

#include "runtime/node.hpp"
#include "step/kind_registry.hpp"
#include "test_kinds.hpp"

#include <set>

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

deployment deploy_of(const std::string& text, std::vector<instance_assignment> instances) {
  return deployment{"test.flow", text, {}, std::move(instances), {}};
}

const char* const two_steps = R"(graph g
node src = numbers { count = 10 }
node sink = collect { backoff = 250ms }
src -> sink
)";

struct node_fixture : deterministic_fixture {
  node_fixture() {
    node_options o;
    o.registry = &registry();
    o.stop_requested = stop_requested;
    node = spawn_node(sys, o);
  }

  /// The node's step actors tick forever; stopping the node ends them.
  ~node_fixture() override {
    self->send(node, stop_atom::value);
    sched.run();
  }

  /// Deploys `d` as the coordinator would; the handles by instance name.
  std::map<std::string, caf::actor> deploy(const deployment& d) {
    std::map<std::string, caf::actor> handles;
    auto answer = self->request(node, caf::infinite, deploy_atom::value, d);
    sched.run();
    answer.receive(
      [&](std::vector<spawned_instance>& spawned) {
        for (auto& s : spawned)
          handles[s.instance] = s.handle;
      },
      [&](caf::error& e) { BOOST_ERROR("deploy failed: " << sys.render(e)); });
    return handles;
  }

  /// True if a `restarted` report is waiting (it is taken).
  bool restarted_reported() {
    bool seen = false;
    self->receive([&](restarted_atom, std::vector<spawned_instance>&, bool) { seen = true; },
                  caf::after(std::chrono::seconds(0)) >> [] {});
    return seen;
  }

  std::shared_ptr<std::atomic<bool>> stop_requested = std::make_shared<std::atomic<bool>>(false);
  caf::actor node;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(node_suite, node_fixture)

BOOST_AUTO_TEST_CASE(a_deployment_spawns_the_listed_instances_and_answers_with_their_handles) {
  auto handles = deploy(deploy_of(two_steps, {{"src", 0}, {"sink", 0}}));
  BOOST_TEST(handles.size() == 2u);
  BOOST_TEST(handles.count("src") == 1u);
  BOOST_TEST(bool(handles["sink"]));
}

BOOST_AUTO_TEST_CASE(a_failed_instance_is_reported_to_the_coordinator_and_not_restarted_by_the_node) {
  auto handles = deploy(deploy_of(two_steps, {{"src", 0}, {"sink", 0}}));
  self->send_exit(handles["sink"], make_error(runtime_errc::step_failed, "disk full"));
  sched.run();
  instance_exit exit;
  self->receive([&](exited_atom, instance_exit& e) { exit = std::move(e); });
  BOOST_TEST(exit.instance == "sink");
  BOOST_TEST(exit.incarnation == 0);
  BOOST_TEST(exit.failed);
  BOOST_TEST(exit.reason == "disk full");
  // The coordinator decides: the node waits, whatever the backoff.
  advance_time(std::chrono::seconds(5));
  sched.run();
  BOOST_TEST(!restarted_reported());
}

BOOST_AUTO_TEST_CASE(respawn_replaces_the_listed_instances_and_reports_the_next_incarnation) {
  auto handles = deploy(deploy_of(two_steps, {{"src", 0}, {"sink", 0, -1, 4}}));
  self->send(node, respawn_atom::value, std::vector<std::string>{"sink"}, false);
  sched.run();
  std::vector<spawned_instance> restarted;
  bool planned = false;
  self->receive([&](restarted_atom, std::vector<spawned_instance>& s, bool p) {
    restarted = std::move(s);
    planned = p;
  });
  BOOST_TEST_REQUIRE(restarted.size() == 1u);
  BOOST_TEST(restarted[0].instance == "sink");
  BOOST_TEST((restarted[0].handle != handles["sink"]));
  BOOST_TEST(planned);
  // A deployment's incarnation is where the count continues (a moved instance).
  self->send_exit(restarted[0].handle, make_error(runtime_errc::step_failed, "again"));
  sched.run();
  instance_exit exit;
  self->receive([&](exited_atom, instance_exit& e) { exit = std::move(e); });
  BOOST_TEST(exit.incarnation == 5);
}

BOOST_AUTO_TEST_CASE(a_graph_the_node_cannot_compile_is_refused_with_graph_invalid) {
  caf::error refused;
  auto answer = self->request(node, caf::infinite, deploy_atom::value,
                              deploy_of("graph g\nnode a = no_such_kind\n", {{"a", 0}}));
  sched.run();
  answer.receive([](std::vector<spawned_instance>&) { BOOST_ERROR("deployed a broken graph"); },
                [&](caf::error& e) { refused = std::move(e); });
  BOOST_TEST(is(refused, runtime_errc::graph_invalid), sys.render(refused));
  BOOST_TEST(error_text(refused).find("unknown kind 'no_such_kind'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_drain_sets_the_flag_its_steps_read_without_their_mailboxes) {
  deploy(deploy_of(two_steps, {{"src", 0}, {"sink", 0}}));
  BOOST_TEST(!stop_requested->load());
  self->send(node, drain_atom::value);
  expect((drain_atom), from(self).to(node));
  BOOST_TEST(stop_requested->load());
}

BOOST_AUTO_TEST_CASE(durable_state_is_kept_for_the_next_incarnation_and_not_forwarded) {
  deploy(deploy_of(two_steps, {{"src", 0}, {"sink", 0}}));
  self->send(node, save_atom::value, std::string{"sink"}, std::string{"\x01fitted"});
  sched.run();
  // The step sends the coordinator its copy itself (in order with its acknowledgements).
  bool forwarded = false;
  self->receive([&](save_atom, std::string&, std::string&) { forwarded = true; },
                caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(!forwarded);
}

BOOST_AUTO_TEST_CASE(a_node_whose_coordinator_ends_stops_its_steps_and_ends) {
  std::map<std::string, caf::actor> handles;
  {
    caf::scoped_actor coordinator{sys};
    auto answer = coordinator->request(node, caf::infinite, deploy_atom::value,
                                       deploy_of(two_steps, {{"src", 0}, {"sink", 0}}));
    sched.run();
    answer.receive(
      [&](std::vector<spawned_instance>& spawned) {
        for (auto& s : spawned)
          handles[s.instance] = s.handle;
      },
      [&](caf::error& e) { BOOST_ERROR("deploy failed: " << sys.render(e)); });
  } // the coordinator ends here
  BOOST_TEST_REQUIRE(handles.size() == 2u);
  self->monitor(node);
  self->monitor(handles["sink"]);
  sched.run();
  std::set<caf::actor_addr> down;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg& d) { down.insert(d.source); },
                  caf::after(std::chrono::seconds(0)) >> [] {});
  BOOST_TEST(down.count(node.address()) == 1u);
  BOOST_TEST(down.count(handles["sink"].address()) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
