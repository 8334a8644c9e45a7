// Backends by device name: "cpu", and "cuda:N" (GPU N) in builds with the CUDA backend.
// A trainer's `devices` says how many replicas run on which kind of device; replica r
// of a "cuda:K" group trains on "cuda:r", every replica of a "cpu:K" group on "cpu".
#pragma once

#include "compute/backend.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace conveyor::compute {

/// True when this build has backends of `kind` ("cpu", "cuda").
bool backend_built(std::string_view kind);

/// A backend for `device`; throws std::invalid_argument naming the device when it is
/// malformed or its kind is not built in.
std::unique_ptr<backend> make_backend(std::string_view device);

} // namespace conveyor::compute
