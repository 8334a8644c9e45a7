#include "cli/keys_command.hpp"

#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include <fcntl.h>
#include <unistd.h>

namespace conveyor::cli {

namespace {

constexpr int exit_bad_input = 2;

/// Creates `path` (never replacing a file) with `mode` and writes `text`; false, with the
/// reason on stderr and nothing left behind, when it cannot.
bool write_new_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    std::cerr << "error: cannot create '" << path << "': " << std::strerror(errno)
              << (errno == EEXIST ? " (key files are never overwritten)" : "") << '\n';
    return false;
  }
  // The umask may have taken permissions away, never added them: the secret stays 0600.
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    written += static_cast<std::size_t>(n);
  }
  const int error = errno;
  const bool ok = written == text.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    std::cerr << "error: cannot write '" << path << "': " << std::strerror(error) << '\n';
    ::unlink(path.c_str());
  }
  return ok;
}

} // namespace

keys_command::keys_command(CLI::App& app) {
  keys_ = app.add_subcommand("keys", "Make a CurveZMQ key pair for an inference server or "
                                     "client: NAME.key (secret, mode 0600) and NAME.pub");
  keys_->add_option("--out", out_, "NAME: writes NAME.key and NAME.pub (never overwriting)")
    ->required();
}

bool keys_command::parsed() const { return keys_->parsed(); }

int keys_command::run() const {
  char public_key[41], secret_key[41];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    std::cerr << "error: this libzmq was built without CurveZMQ: " << zmq_strerror(zmq_errno())
              << '\n';
    return exit_bad_input;
  }
  const std::string secret_path = out_ + ".key", public_path = out_ + ".pub";
  const std::string secret_text = std::string("# CurveZMQ secret key (conveyor keys): keep it "
                                              "private. Public key: ") +
                                  public_key + "\n" + secret_key + "\n";
  const std::string public_text =
    std::string("# CurveZMQ public key (conveyor keys)\n") + public_key + "\n";
  if (!write_new_file(secret_path, secret_text, 0600))
    return exit_bad_input;
  if (!write_new_file(public_path, public_text, 0644)) {
    ::unlink(secret_path.c_str());
    return exit_bad_input;
  }
  std::cout << "wrote " << secret_path << " (secret) and " << public_path << " (public key "
            << public_key << ")\n";
  return 0;
}

} // namespace conveyor::cli
