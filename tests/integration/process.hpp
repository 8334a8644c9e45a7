// Starting the real `conveyor` binary from tests: spawn with arguments, capture
// stdout and stderr to files, signal it, wait with a deadline, kill it if it hangs.
#pragma once

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace conveyor::testing {

class child_process {
public:
  /// Starts `program` with `args` in `working_dir`; output goes to files in `log_dir`.
  child_process(const std::string& program, const std::vector<std::string>& args,
                const std::string& working_dir, const std::string& log_dir);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void signal(int sig);
  /// Waits up to `limit`; returns the exit status, or -1 if the limit passed (the
  /// process is then killed) or it died of a signal.
  int wait(std::chrono::milliseconds limit);
  std::string out() const;
  std::string err() const;

private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string out_path_;
  std::string err_path_;
};

/// Runs to the end (at most `limit`) and returns the exit status.
struct run_result {
  int status = -1;
  std::string out;
  std::string err;
};
run_result run_conveyor(const std::vector<std::string>& args,
                        std::chrono::milliseconds limit = std::chrono::seconds(60));

/// The first group of `pattern` in the process's log (stderr, then stdout), waiting up
/// to `limit` for it; empty if it never appeared.
std::string wait_for_log(const child_process& p, const std::string& pattern,
                         std::chrono::milliseconds limit = std::chrono::seconds(30));
/// The HOST:PORT a `conveyor node --listen 127.0.0.1:0` logs once it listens; empty if
/// it never did.
std::string node_address(const child_process& node);
/// The endpoint an inference step logs once bound ("serving on tcp://..."); fails the
/// test if it never did (30 s).
std::string wait_for_endpoint(const child_process& server);

/// Where the built binary and the source tree are (from CMake).
std::string conveyor_binary();
std::string source_dir();
/// A fresh empty directory for one test.
std::string scratch_dir(const std::string& name);
std::string read_file(const std::string& path);

} // namespace conveyor::testing
