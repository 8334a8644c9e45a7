// Registers every built-in actor kind (readers, cleaner, splitter, sinks, ...).
#pragma once

#include "step/kind_registry.hpp"

namespace conveyor {

void register_builtin_kinds(kind_registry& registry);

} // namespace conveyor
