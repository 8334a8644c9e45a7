// `conveyor keys --out NAME`: makes a CurveZMQ key pair for an inference server or a
// client (docs/serving.md, "Transport security"): NAME.key holds the secret key (mode
// 0600: only its owner may read it), NAME.pub the public key, each in Z85 with a comment
// line. Existing files are never overwritten. Exit status: 0 written; 2 bad usage or a
// file that cannot be written (nothing is left behind).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace conveyor::cli {

class keys_command {
public:
  /// Adds `keys` to `app`; the object must outlive parsing.
  explicit keys_command(CLI::App& app);
  keys_command(const keys_command&) = delete;
  keys_command& operator=(const keys_command&) = delete;

  bool parsed() const;
  int run() const;

private:
  CLI::App* keys_ = nullptr;
  std::string out_;
};

} // namespace conveyor::cli
