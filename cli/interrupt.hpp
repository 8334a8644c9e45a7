// SIGINT/SIGTERM handling for `conveyor run`: the first signal asks the run to drain
// (sources stop, everything in flight is processed and flushed); a second one exits
// at once with status 130.
#pragma once

namespace conveyor::cli {

void install_interrupt_handlers();
bool interrupt_requested();

} // namespace conveyor::cli
