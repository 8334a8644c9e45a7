// Leveled logging to stderr for the whole process (spdlog). Steps log through
// step_context, which prefixes their names.
#pragma once

#include <string>

namespace conveyor {

/// Sets up the stderr logger. `level`: trace, debug, info, warn, error, off.
/// Returns false (and keeps `info`) for an unknown level.
bool setup_logging(const std::string& level);

} // namespace conveyor
