#include "cli/status_command.hpp"

#include "metrics/http_endpoint.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <thread>

namespace conveyor::cli {

namespace {

constexpr int exit_unreachable = 1;
constexpr int exit_bad_input = 2;

struct fetched {
  nlohmann::json doc;
  std::string error;
};

/// cpp-httplib names its failures tersely ("Connection"): the common ones in words.
std::string failure(httplib::Error e) {
  switch (e) {
  case httplib::Error::Connection: return "connection refused or host unreachable";
  case httplib::Error::ConnectionTimeout: return "no answer to the connection within 3 s";
  case httplib::Error::Read: return "the connection closed before an answer";
  default: return httplib::to_string(e);
  }
}

fetched fetch(const metrics::listen_address& where, const std::string& shown) {
  httplib::Client client(where.host, where.port);
  client.set_connection_timeout(std::chrono::seconds(3));
  client.set_read_timeout(std::chrono::seconds(5));
  auto res = client.Get("/status");
  if (!res)
    return {{}, "nothing answers at " + shown + " (" + failure(res.error()) +
                  "): give the address of a run started with --metrics-listen (the run logs "
                  "it as 'metrics: http://HOST:PORT/metrics')"};
  if (res->status != 200)
    return {{}, shown + " answers, but not as a run's coordinator (HTTP " +
                  std::to_string(res->status) + " for /status; a node's metrics port has no "
                  "status)"};
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return {{}, shown + " answered /status with something that is not a status document"};
  return {std::move(doc), {}};
}

std::string memory(std::uint64_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1ull << 30));
}

std::string joined(const nlohmann::json& list, const char* key = nullptr) {
  std::string out;
  for (const auto& v : list) {
    if (!out.empty())
      out += ",";
    out += key ? v.value(key, std::string{}) : v.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

void print(const nlohmann::json& now, const nlohmann::json* before, double interval) {
  std::cout << fmt::format("run {} (up {:.1f} s)\n", now.value("graph", std::string{}),
                           now.value("uptime_seconds", 0.0));
  if (!now["nodes"].empty()) {
    std::cout << fmt::format("\n{:<12} {:<22} {:>5} {:>10} {:>4}  {:<16} {}\n", "NODE",
                             "ADDRESS", "CORES", "MEMORY", "GPUS", "LABELS", "HEARTBEAT");
    for (const auto& n : now["nodes"])
      std::cout << fmt::format("{:<12} {:<22} {:>5} {:>10} {:>4}  {:<16} {:.1f} s ago\n",
                               n.value("name", std::string{}), n.value("address", std::string{}),
                               n.value("cores", 0), memory(n.value("memory_bytes", 0ull)),
                               n.value("gpus", 0), joined(n["labels"]),
                               n.value("heartbeat_age_seconds", 0.0));
  }
  std::cout << fmt::format("\n{:<16} {:<12} {:<16} {:<10} {:>8} {:>12} {:>12}\n", "STEP", "KIND",
                           "NODE", "STATE", "RESTARTS", "ROWS IN", "ROWS OUT");
  for (const auto& s : now["steps"]) {
    std::map<std::string, int> states;
    for (const auto& i : s["instances"])
      ++states[i.value("state", std::string{})];
    std::string state;
    for (const auto& [name, count] : states)
      state += (state.empty() ? "" : ",") +
               (states.size() > 1 || count > 1 ? std::to_string(count) + " " : "") + name;
    std::cout << fmt::format("{:<16} {:<12} {:<16} {:<10} {:>8} {:>12} {:>12}\n",
                             s.value("step", std::string{}), s.value("kind", std::string{}),
                             joined(s["instances"], "node"), state.empty() ? "-" : state,
                             s.value("restarts", 0), s.value("rows_in", 0ull),
                             s.value("rows_out", 0ull));
  }
  if (now["edges"].empty())
    return;
  std::cout << fmt::format("\n{:<24} {:<24} {:>10} {:>10} {:>12} {:>10}\n", "FROM", "TO",
                           "BATCHES", "BATCHES/S", "CREDIT WAIT", "BLOCKED");
  for (std::size_t k = 0; k < now["edges"].size(); ++k) {
    const auto& e = now["edges"][k];
    std::string rate = "-";
    std::string blocked = "-";
    if (before != nullptr && k < (*before)["edges"].size() && interval > 0) {
      const auto& b = (*before)["edges"][k];
      rate = fmt::format("{:.1f}", static_cast<double>(e.value("batches", 0ull) -
                                                       b.value("batches", 0ull)) / interval);
      blocked = fmt::format("{:.0f} %", 100.0 *
                                          (e.value("credit_wait_seconds", 0.0) -
                                           b.value("credit_wait_seconds", 0.0)) / interval);
    }
    std::cout << fmt::format("{:<24} {:<24} {:>10} {:>10} {:>10.2f} s {:>10}\n",
                             e.value("from", std::string{}), e.value("to", std::string{}),
                             e.value("batches", 0ull), rate,
                             e.value("credit_wait_seconds", 0.0), blocked);
  }
  std::cout << "(CREDIT WAIT: time the producer waited for the consumer's credit since the run "
               "began; BLOCKED: the share of the last interval it waited)\n";
}

} // namespace

status_command::status_command(CLI::App& app) {
  status_ = app.add_subcommand("status", "Show a running cluster run: nodes, steps, edges and "
                                         "where backpressure is (from its coordinator)");
  status_->add_option("--coordinator", coordinator_,
                      "HOST:PORT of the run's --metrics-listen (logged by the run)")
    ->required();
  status_->add_option("--interval", interval_,
                      "seconds between the two reads that rates come from (0: one read)")
    ->capture_default_str();
  status_->add_flag("--json", json_, "print the coordinator's status document as it is");
}

bool status_command::parsed() const { return status_->parsed(); }

int status_command::run() const {
  std::string why;
  auto where = metrics::parse_listen_address(coordinator_, why);
  if (!where || where->port == 0) {
    std::cerr << "error: --coordinator: " << (where ? "port 0 names no running coordinator" : why)
              << '\n';
    return exit_bad_input;
  }
  if (interval_ < 0 || interval_ > 3600) {
    std::cerr << "error: --interval must be between 0 and 3600 seconds\n";
    return exit_bad_input;
  }
  auto first = fetch(*where, coordinator_);
  if (!first.error.empty()) {
    std::cerr << "error: " << first.error << '\n';
    return exit_unreachable;
  }
  if (json_) {
    std::cout << first.doc.dump(2) << '\n';
    return 0;
  }
  if (interval_ == 0) {
    print(first.doc, nullptr, 0);
    return 0;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(interval_));
  auto second = fetch(*where, coordinator_);
  if (!second.error.empty()) { // the run ended in between: show what it was
    print(first.doc, nullptr, 0);
    return 0;
  }
  print(second.doc, &first.doc, interval_);
  return 0;
}

} // namespace conveyor::cli
