// data/float_block.hpp: a batch's float block behaves as a vector of floats (copies are
// deep, growth keeps the contents, new elements of resize are 0) and can use memory it
// did not allocate, keeping that memory's owner alive exactly as long as it uses it.
#include "data/float_block.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

using namespace conveyor;

BOOST_AUTO_TEST_SUITE(float_block_suite)

BOOST_AUTO_TEST_CASE(it_behaves_as_a_vector_of_floats) {
  float_block b;
  BOOST_TEST(b.empty());
  b = {1.0f, 2.0f};
  const float more[] = {3.0f, 4.0f, 5.0f};
  b.insert(b.end(), more, more + 3);
  BOOST_TEST(b == (std::vector<float>{1, 2, 3, 4, 5}));
  b.resize(7);
  BOOST_TEST(b == (std::vector<float>{1, 2, 3, 4, 5, 0, 0}));
  b.resize(2);
  BOOST_TEST(b == (std::vector<float>{1, 2}));
  b.assign(3, 0.5f);
  BOOST_TEST(b == (std::vector<float>{0.5f, 0.5f, 0.5f}));
  float_block copy = b;
  copy[0] = 9.0f;
  BOOST_TEST(b[0] == 0.5f); // deep
  BOOST_TEST(copy.data() != b.data());
  float_block moved = std::move(copy);
  BOOST_TEST(moved[0] == 9.0f);
  BOOST_TEST(copy.empty());
}

BOOST_AUTO_TEST_CASE(a_vector_is_taken_without_a_copy) {
  std::vector<float> v{1, 2, 3};
  const float* where = v.data();
  float_block b = std::move(v);
  BOOST_TEST(b.data() == where);
  BOOST_TEST(b == (std::vector<float>{1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(adopted_memory_is_used_in_place_and_its_owner_kept_until_let_go) {
  auto memory = std::make_shared<std::vector<float>>(std::vector<float>{4, 5, 6, 7});
  std::weak_ptr<std::vector<float>> watch = memory;
  float_block b;
  b.adopt(memory->data(), 4, memory);
  const float* where = memory->data();
  memory.reset();
  BOOST_TEST(!watch.expired()); // the block keeps it
  BOOST_TEST(b.data() == where);
  b[0] = 40.0f; // writable in place
  BOOST_TEST(b == (std::vector<float>{40, 5, 6, 7}));
  float_block copy = b; // a copy has memory of its own
  BOOST_TEST(copy.data() != where);
  b.resize(5); // growth moves out of the adopted memory, which is let go
  BOOST_TEST(watch.expired());
  BOOST_TEST(b == (std::vector<float>{40, 5, 6, 7, 0}));
  BOOST_TEST(copy == (std::vector<float>{40, 5, 6, 7}));
}

BOOST_AUTO_TEST_CASE(a_large_block_of_its_own_has_room_after_its_floats_a_small_one_none) {
  float_block small;
  small.resize(100);
  BOOST_TEST(small.room_after() == 0u);
  float_block large;
  large.reserve(16384); // 64 KiB: 1/64 of it after the capacity
  BOOST_TEST(large.room_after() == 16384u * 4 + 1024);
  large.resize(16000);
  BOOST_TEST(large.room_after() == 384u * 4 + 1024);
  float_block copy = large; // a copy is a block of its own, with room of its own
  BOOST_TEST(copy.room_after() >= 1024u);
  std::vector<float> v(16384);
  float_block taken = std::move(v); // a vector's spare room is not the block's
  BOOST_TEST(taken.room_after() == 0u);
  auto memory = std::make_shared<std::vector<float>>(10);
  float_block adopted;
  adopted.adopt(memory->data(), 8, memory, 8); // 8 bytes after the 8 floats
  BOOST_TEST(adopted.room_after() == 8u);
  adopted.resize(9); // growth moves out: the new block's room is its own
  BOOST_TEST(adopted.room_after() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
