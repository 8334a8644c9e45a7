// "Did you mean" hints: the closest candidate by edit distance, if it is close enough.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace conveyor::dsl {

/// The candidate closest to `name` (edit distance, a swap of neighbours counting one, at most max(1, len/3), capped at 3),
/// or empty if none is that close.
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

/// "did you mean 'x'?" for the closest candidate, or empty.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

} // namespace conveyor::dsl
