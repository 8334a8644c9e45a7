// Server threads take no asynchronous signals (the process's handlers run elsewhere), so
// that a signal never interrupts a ZeroMQ call there. Faults stay deliverable.
#pragma once

#include <csignal>
#include <pthread.h>

namespace conveyor::serving {

inline void block_signals() {
  sigset_t set;
  sigfillset(&set);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    sigdelset(&set, fault);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

} // namespace conveyor::serving
