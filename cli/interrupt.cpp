#include "cli/interrupt.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace conveyor::cli {

namespace {

std::atomic<int> signals_seen{0};

extern "C" void on_signal(int) {
  if (signals_seen.fetch_add(1) >= 1) {
    constexpr char msg[] = "\nconveyor: second interrupt, exiting now\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    std::_Exit(130);
  }
}

} // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() {
  return signals_seen.load() > 0;
}

} // namespace conveyor::cli
