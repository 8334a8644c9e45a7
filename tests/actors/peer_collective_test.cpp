// peer_collective: all-reduce and broadcast over peer messages, as the trainer's replicas
// use them, with the messages moved by hand between ranks.
#include "actors/peer_collective.hpp"
#include "base/float_bytes.hpp"
#include "compute/cpu/cpu_backend.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <deque>
#include <memory>
#include <vector>

using namespace conveyor;

namespace {

struct rank_context : test::fake_context {
  int index = 0;
  std::vector<std::deque<peer_message>>* inboxes = nullptr;
  std::vector<const std::string*> sent; // the buffers handed out, in order
  int replica() const override { return index; }
  void send_to_peers(std::uint64_t tag, std::shared_ptr<const std::string> bytes) override {
    sent.push_back(bytes.get());
    for (std::size_t r = 0; r < inboxes->size(); ++r)
      if (static_cast<int>(r) != index)
        (*inboxes)[r].push_back(peer_message{index, tag, bytes});
  }
};

struct group {
  std::vector<std::deque<peer_message>> inboxes;
  std::vector<rank_context> ctx;
  std::vector<std::unique_ptr<peer_collective>> ranks;

  explicit group(int n) : inboxes(static_cast<std::size_t>(n)), ctx(static_cast<std::size_t>(n)) {
    for (int r = 0; r < n; ++r) {
      ctx[static_cast<std::size_t>(r)].index = r;
      ctx[static_cast<std::size_t>(r)].inboxes = &inboxes;
      ranks.push_back(std::make_unique<peer_collective>(ctx[static_cast<std::size_t>(r)],
                                                        compute::default_cpu_backend(), r, n));
    }
  }
  void deliver(std::size_t r) {
    while (!inboxes[r].empty()) {
      ranks[r]->deliver(inboxes[r].front());
      inboxes[r].pop_front();
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(peer_collective_suite)

BOOST_AUTO_TEST_CASE(an_all_reduce_gives_every_rank_the_same_sum_in_rank_order) {
  group g(3);
  std::vector<std::vector<float>> data{{1e8f, 1, 2}, {-1e8f, 3, 4}, {1, 5, 6}};
  for (std::size_t r = 0; r < 3; ++r)
    g.ranks[r]->start_all_reduce(data[r].data(), 3);
  BOOST_TEST(!g.ranks[0]->ready()); // nothing delivered yet
  for (std::size_t r = 0; r < 3; ++r) {
    g.deliver(r);
    BOOST_TEST_REQUIRE(g.ranks[r]->ready());
    g.ranks[r]->complete();
  }
  // (1e8 + -1e8) + 1 = 1 in rank order (1e8 + 1 would lose the 1)
  for (std::size_t r = 0; r < 3; ++r)
    BOOST_TEST(data[r] == (std::vector<float>{1, 9, 12}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(parts_for_an_operation_not_started_yet_wait_for_it) {
  group g(2);
  std::vector<float> a{1, 2}, b{10, 20};
  g.ranks[1]->start_all_reduce(b.data(), 2);
  g.deliver(0); // rank 0 has not started: the part is kept
  g.ranks[0]->start_all_reduce(a.data(), 2);
  BOOST_TEST(g.ranks[0]->ready());
  g.ranks[0]->complete();
  g.deliver(1);
  g.ranks[1]->complete();
  BOOST_TEST(a == (std::vector<float>{11, 22}), boost::test_tools::per_element());
  BOOST_TEST(b == a, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_broadcast_hands_rank_0s_bytes_to_every_rank) {
  group g(3);
  g.ranks[0]->start_broadcast("resume/42.ckpt");
  g.ranks[1]->start_broadcast("");
  g.ranks[2]->start_broadcast("");
  BOOST_TEST(g.ranks[0]->ready());
  BOOST_TEST(!g.ranks[1]->ready());
  for (std::size_t r = 0; r < 3; ++r) {
    g.deliver(r);
    g.ranks[r]->complete();
    BOOST_TEST(g.ranks[r]->broadcast_result() == "resume/42.ckpt");
  }
}

BOOST_AUTO_TEST_CASE(a_part_of_the_wrong_size_fails_naming_the_replica) {
  group g(2);
  std::vector<float> a{1, 2, 3};
  g.ranks[0]->start_all_reduce(a.data(), 3);
  g.ranks[0]->deliver(peer_message{1, 1, std::make_shared<const std::string>(8, '\0')});
  BOOST_TEST_REQUIRE(g.ranks[0]->ready());
  std::string message;
  try {
    g.ranks[0]->complete();
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  BOOST_TEST(message == "replica 1 sent 8 bytes for an all-reduce of 3 floats");
}

BOOST_AUTO_TEST_CASE(message_buffers_are_reused_only_once_every_peer_let_go) {
  group g(2);
  std::vector<float> a{1, 2}, b{3, 4};
  auto step = [&] {
    g.ranks[0]->start_all_reduce(a.data(), 2);
    g.ranks[1]->start_all_reduce(b.data(), 2);
    g.deliver(0);
    g.deliver(1);
    g.ranks[0]->complete();
    g.ranks[1]->complete();
  };
  step();
  step();
  BOOST_TEST_REQUIRE(g.ctx[0].sent.size() == 2u);
  BOOST_TEST(g.ctx[0].sent[1] == g.ctx[0].sent[0]); // the peer was done with it: reused
  // now rank 1 keeps rank 0's part (not delivered): the next send needs a fresh buffer
  g.ranks[0]->start_all_reduce(a.data(), 2);
  g.ranks[1]->start_all_reduce(b.data(), 2);
  g.deliver(0);
  g.ranks[0]->complete();
  g.ranks[0]->start_all_reduce(a.data(), 2);
  BOOST_TEST(g.ctx[0].sent.back() != g.ctx[0].sent[2]);
}

BOOST_AUTO_TEST_CASE(an_aborted_all_reduce_stops_waiting_for_a_silent_rank_and_refuses_further_work) {
  group g(3);
  std::vector<std::vector<float>> data{{1, 2}, {3, 4}, {5, 6}};
  g.ranks[0]->start_all_reduce(data[0].data(), 2);
  g.ranks[1]->start_all_reduce(data[1].data(), 2);
  // rank 2 hangs: it never starts
  g.deliver(0);
  BOOST_TEST(!g.ranks[0]->ready());
  g.ranks[0]->abort(); // the watchdog's timeout
  BOOST_TEST(g.ranks[0]->ready());
  BOOST_CHECK_THROW(g.ranks[0]->complete(), std::runtime_error);
  BOOST_TEST(data[0] == (std::vector<float>{1, 2})); // untouched
  BOOST_CHECK_THROW(g.ranks[0]->start_all_reduce(data[0].data(), 2), std::runtime_error);
  BOOST_CHECK_THROW(g.ranks[0]->start_broadcast("x"), std::runtime_error);
  g.ranks[2]->start_all_reduce(data[2].data(), 2); // a late part changes nothing
  g.deliver(0);
  BOOST_TEST(g.ranks[0]->ready());
}

BOOST_AUTO_TEST_SUITE_END()
