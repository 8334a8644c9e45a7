// `conveyor infer`: ask a running inference server (protocol v1, over ZeroMQ) from the
// command line, through the C++ client (client/client.hpp).
//   infer --endpoint E --model M [--version V] [--key K] --csv rows.csv
//         [--rows-per-request N] [--timeout 5s]
//                             one line per CSV row: label (classifiers) and outputs;
//                             --key: which model of a fleet answers (every row)
//   infer --endpoint E --models                  the models served
//   infer --endpoint E --health                  the server's status
//   with CurveZMQ: --curve-server-key SERVER.pub --curve-secret-key CLIENT.key
// The CSV holds numbers only, one row per line; a first line whose first cell is not a
// number is a header and skipped. It is streamed a request at a time (memory: one
// request's rows and one line of at most 4 MiB), so pipes and huge files work.
// Exit status: 0 done; 1 the server answered with an error or did not answer in time
// (`error <code>: <message>` on stderr); 2 bad usage or a CSV that is not numbers.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace conveyor::cli {

class infer_command {
public:
  /// Adds `infer` to `app`; the object must outlive parsing.
  explicit infer_command(CLI::App& app);
  infer_command(const infer_command&) = delete;
  infer_command& operator=(const infer_command&) = delete;

  /// True when the command line chose `infer`.
  bool parsed() const;
  /// Runs it (after parsing); returns the exit status.
  int run() const;

private:
  CLI::App* infer_ = nullptr;
  std::string endpoint_;
  std::string model_;
  std::uint64_t version_ = 0;
  std::string key_;
  std::string csv_;
  std::uint32_t rows_per_request_ = 64;
  std::string timeout_ = "5s";
  bool models_ = false;
  bool health_ = false;
  std::string curve_server_key_;
  std::string curve_secret_key_;
};

} // namespace conveyor::cli
