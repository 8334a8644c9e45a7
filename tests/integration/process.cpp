#include "process.hpp"

#include "tests/support/wait_until.hpp"

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace conveyor::testing {

child_process::child_process(const std::string& program, const std::vector<std::string>& args,
                             const std::string& working_dir, const std::string& log_dir) {
  static int counter = 0;
  auto stem = log_dir + "/proc" + std::to_string(++counter);
  out_path_ = stem + ".out";
  err_path_ = stem + ".err";
  pid_ = ::fork();
  if (pid_ < 0)
    throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
  if (pid_ == 0) {
    int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (::chdir(working_dir.c_str()) != 0)
      ::_exit(126);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
}

child_process::~child_process() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void child_process::signal(int sig) {
  if (!reaped_)
    ::kill(pid_, sig);
}

int child_process::wait(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (true) {
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      if (WIFSIGNALED(status)) // a crash: say so, since the exit status cannot
        std::fprintf(stderr, "child_process: pid %d died of signal %d (%s)\n", pid_,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string child_process::out() const {
  return read_file(out_path_);
}

std::string child_process::err() const {
  return read_file(err_path_);
}

run_result run_conveyor(const std::vector<std::string>& args, std::chrono::milliseconds limit) {
  auto logs = scratch_dir("logs");
  child_process p{conveyor_binary(), args, source_dir(), logs};
  run_result r;
  r.status = p.wait(limit);
  r.out = p.out();
  r.err = p.err();
  return r;
}

std::string conveyor_binary() {
  return std::string{CONVEYOR_BINARY_DIR} + "/conveyor";
}

std::string source_dir() {
  return CONVEYOR_SOURCE_DIR;
}

std::string scratch_dir(const std::string& name) {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("conveyor-it-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
              "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string wait_for_log(const child_process& p, const std::string& pattern,
                         std::chrono::milliseconds limit) {
  const std::regex re(pattern);
  std::smatch m;
  std::string log;
  if (!wait_until([&] { return std::regex_search(log = p.err() + p.out(), m, re); }, limit))
    return {};
  return m[1];
}

std::string node_address(const child_process& node) {
  return wait_for_log(node, "listening on (127\\.0\\.0\\.1:[0-9]+)");
}

std::string wait_for_endpoint(const child_process& server) {
  auto endpoint = wait_for_log(server, "serving on (tcp://127\\.0\\.0\\.1:[0-9]+)");
  if (endpoint.empty())
    BOOST_FAIL("the server never logged its endpoint:\n" + server.err());
  return endpoint;
}

} // namespace conveyor::testing
