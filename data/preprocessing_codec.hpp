// A compact, versioned MessagePack encoding of `preprocessing`, for the cleaner's
// durable state (and for anything else that stores a fitted transform, such as a
// model file). Layout: [1, [[op, column, a, b, [categories...]], ...]].
#pragma once

#include "data/preprocessing.hpp"

#include <string>
#include <string_view>

namespace conveyor {

std::string encode_preprocessing(const preprocessing& p);

/// Throws std::invalid_argument on bytes that are not an encoding of version 1.
preprocessing decode_preprocessing(std::string_view bytes);

} // namespace conveyor
