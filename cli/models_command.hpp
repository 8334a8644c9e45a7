// `conveyor models`: look into and prune a model registry (serving/registry.hpp).
//   models list --registry DIR [--json]              one line per model, latest version
//   models show NAME[:VERSION] --registry DIR [--json] what a version holds (latest by default)
//   models rm NAME:VERSION --registry DIR | NAME --all   remove one or every version
// Exit status: 0 done; 1 a model file that does not decode or an I/O failure; 2 bad input
// (no such registry, model or version; a malformed NAME:VERSION), with one line on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace conveyor::cli {

class models_command {
public:
  /// Adds `models` and its subcommands to `app`; the object must outlive parsing.
  explicit models_command(CLI::App& app);
  models_command(const models_command&) = delete;
  models_command& operator=(const models_command&) = delete;

  /// True when the command line chose `models`.
  bool parsed() const;
  /// Runs the chosen subcommand (after parsing); returns the exit status.
  int run() const;

private:
  CLI::App* models_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* rm_ = nullptr;
  std::string registry_;
  std::string target_; ///< NAME or NAME:VERSION
  bool json_ = false;
  bool all_ = false;
};

} // namespace conveyor::cli
