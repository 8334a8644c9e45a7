// The result of decoding untrusted bytes: a value, or an error message. Decoders that
// return it never throw and never crash on any input.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace conveyor {

template <class T>
struct decoded {
  std::optional<T> value;
  std::string error; ///< empty exactly when `value` holds something

  static decoded success(T v) { return decoded{std::move(v), {}}; }
  static decoded failure(std::string message) { return decoded{std::nullopt, std::move(message)}; }
  explicit operator bool() const noexcept { return value.has_value(); }
};

} // namespace conveyor
