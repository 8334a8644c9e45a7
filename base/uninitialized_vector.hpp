// A std::vector whose resize(n) leaves trivially constructible elements uninitialised:
// for large buffers that are written in full right after, where zero-filling them first
// costs a pass over memory (and, for fresh pages, takes every page fault on the one
// thread that fills them, where the writers could take them side by side).
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace conveyor {

template <class T, class Base = std::allocator<T>>
class default_init_allocator : public Base {
  using traits = std::allocator_traits<Base>;

public:
  template <class U>
  struct rebind {
    using other = default_init_allocator<U, typename traits::template rebind_alloc<U>>;
  };
  using Base::Base;

  /// Value-initialisation (resize, the size constructor) default-initialises instead.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    traits::construct(static_cast<Base&>(*this), p, std::forward<Args>(args)...);
  }
};

template <class T>
using uninitialized_vector = std::vector<T, default_init_allocator<T>>;

} // namespace conveyor
