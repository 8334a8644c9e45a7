// A batch's float block: a contiguous array of floats with the parts of std::vector's
// interface that batches use, which can also take over memory it did not allocate (the
// bytes of a received network message, a vector) without copying it, keeping that
// memory's owner alive for as long as the block uses it.
//
// Value semantics, like std::vector: a copy is a deep copy into memory of its own;
// growing (resize, reserve, insert) beyond the capacity moves the contents into memory
// of its own. Memory of its own is not zero-filled where the contents overwrite it
// (assign, insert, growth by resize zero-fills only the new elements, as std::vector
// does).
// Contract for `adopt`: the memory holds `size` floats, then `room` bytes, is aligned for
// float, stays valid and unchanged by others while `owner` lives, and this block may
// write to all of it.
// Room after the elements: a block of its own of 16 KiB or more is allocated with some
// bytes beyond its capacity (1/64 of it, 1 to 64 KiB), which the data plane writes a
// frame's header into, so that a batch leaves as one network message without copying
// its floats (runtime/data_plane_codec.hpp); `room_after` says how many bytes past the
// elements its holder may write (spare capacity included).
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <vector>

namespace conveyor {

class float_block {
public:
  using value_type = float;
  using iterator = float*;
  using const_iterator = const float*;

  float_block() = default;
  float_block(std::initializer_list<float> values) { assign(values.begin(), values.end()); }
  /// Takes the vector's memory (no copy).
  float_block(std::vector<float>&& values) { // NOLINT: implicit, as a vector assigns
    auto owner = std::make_shared<std::vector<float>>(std::move(values));
    data_ = owner->data();
    size_ = owner->size();
    capacity_ = size_; // the vector's spare room is not ours to write: growth reallocates
    tail_ = 0;
    owner_ = std::move(owner);
  }
  float_block(const float_block& other) { assign(other.begin(), other.end()); }
  float_block(float_block&& other) noexcept { swap(other); }
  float_block& operator=(const float_block& other) {
    if (this != &other)
      assign(other.begin(), other.end());
    return *this;
  }
  float_block& operator=(float_block&& other) noexcept {
    float_block moved(std::move(other));
    swap(moved);
    return *this;
  }
  float_block& operator=(std::initializer_list<float> values) {
    assign(values.begin(), values.end());
    return *this;
  }

  /// Uses `size` floats at `data` and `room` bytes after them, kept alive by `owner`
  /// (see the contract above).
  void adopt(float* data, std::size_t size, std::shared_ptr<void> owner, std::size_t room = 0) {
    owner_ = std::move(owner);
    data_ = data;
    size_ = size;
    capacity_ = size;
    tail_ = room;
  }
  /// What keeps the memory alive (null when empty): for senders that hand the bytes to
  /// a transport without copying them.
  const std::shared_ptr<void>& owner() const { return owner_; }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  /// Bytes after the elements that this block's holder may write (they are not part of
  /// the contents, and growth does not keep them).
  std::size_t room_after() const { return (capacity_ - size_) * sizeof(float) + tail_; }
  bool empty() const { return size_ == 0; }
  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](std::size_t i) { return data_[i]; }
  const float& operator[](std::size_t i) const { return data_[i]; }
  iterator begin() { return data_; }
  iterator end() { return data_ + size_; }
  const_iterator begin() const { return data_; }
  const_iterator end() const { return data_ + size_; }

  void clear() { size_ = 0; }
  void reserve(std::size_t n) {
    if (n > capacity_)
      reallocate(n);
  }
  /// New elements are 0.
  void resize(std::size_t n) { resize(n, 0.0f); }
  void resize(std::size_t n, float value) {
    reserve(n);
    if (n > size_)
      std::fill(data_ + size_, data_ + n, value);
    size_ = n;
  }
  void assign(std::size_t n, float value) {
    clear();
    resize(n, value);
  }
  template <class It>
  void assign(It first, It last) {
    clear();
    insert(end(), first, last);
  }
  /// Appends (inserting elsewhere than at the end is not supported).
  template <class It>
  iterator insert(const_iterator at, It first, It last) {
    const auto offset = static_cast<std::size_t>(at - data_);
    const auto n = static_cast<std::size_t>(std::distance(first, last));
    if (size_ + n > capacity_)
      reallocate(std::max(size_ + n, 2 * capacity_));
    std::copy(first, last, data_ + size_);
    size_ += n;
    return data_ + offset;
  }

  void swap(float_block& other) noexcept {
    std::swap(owner_, other.owner_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(tail_, other.tail_);
  }

  friend bool operator==(const float_block& a, const float_block& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const float_block& a, const std::vector<float>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator!=(const float_block& a, const float_block& b) { return !(a == b); }

  /// Prints up to 16 values (for test failures).
  friend std::ostream& operator<<(std::ostream& out, const float_block& b);

private:
  /// Floats allocated beyond a capacity of `n` (see "Room after the elements").
  static std::size_t tail_floats(std::size_t n) {
    const std::size_t bytes = n * sizeof(float);
    if (bytes < 16 * 1024)
      return 0;
    return std::clamp<std::size_t>(bytes / 64, 1024, 64 * 1024) / sizeof(float);
  }

  /// Moves the contents into memory of its own with room for `n` (not zero-filled).
  void reallocate(std::size_t n) {
    const std::size_t tail = tail_floats(n);
    std::shared_ptr<float[]> memory(new float[n + tail]);
    std::copy(data_, data_ + size_, memory.get());
    data_ = memory.get();
    capacity_ = n;
    tail_ = tail * sizeof(float);
    owner_ = std::move(memory);
  }

  std::shared_ptr<void> owner_;
  float* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t tail_ = 0; ///< bytes writable after the capacity
};

} // namespace conveyor
