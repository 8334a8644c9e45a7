// `conveyor status --coordinator HOST:PORT [--interval S] [--json]`: what a running
// cluster run is doing, read from its coordinator's /status (the address of `conveyor
// run ... --metrics-listen HOST:PORT`, which the run logs): its nodes (resources, how
// long ago each answered the run's heartbeat), its steps (where each instance runs, its
// state, restarts, rows in and out) and its edges (batches, batches per second, and the
// time producers waited for credit: where backpressure is). Rates come from two reads
// `--interval` seconds apart (0: one read, no rates).
// Exit status: 0 shown; 1 nothing answers there, or not as a run's coordinator; 2 bad
// options. The error says which address and why.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace conveyor::cli {

class status_command {
public:
  explicit status_command(CLI::App& app);
  status_command(const status_command&) = delete;
  status_command& operator=(const status_command&) = delete;

  bool parsed() const;
  int run() const;

private:
  CLI::App* status_ = nullptr;
  std::string coordinator_;
  double interval_ = 1.0;
  bool json_ = false;
};

} // namespace conveyor::cli
