// Test doubles for running steps without an actor system: a step_context that
// records rejects, log lines and durable state; an emitter that collects batches per
// port; helpers that drive a source to its end or push batches through a step the
// way the runtime does (stamping source and sequence on a source's output).
#pragma once

#include "data/batch.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"
#include "tests/data/batch_helpers.hpp"
#include "tests/support/scratch_files.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace conveyor::test {

class fake_context : public step_context {
public:
  std::string name = "test_step";
  std::uint64_t rejected = 0;
  std::vector<std::string> reject_reasons;
  std::vector<std::string> info;
  std::vector<std::string> warnings;
  /// Durable state: keep the context and pass it to a new step to simulate a restart.
  std::optional<std::string> state;

  const std::string& step_name() const override { return name; }
  int replica() const override { return 0; }
  int replicas() const override { return 1; }
  void reject(std::uint64_t rows, const std::string& reason) override {
    rejected += rows;
    reject_reasons.push_back(reason);
  }
  std::optional<std::string> load_state() const override { return state; }
  void save_state(std::string bytes) override { state = std::move(bytes); }
  void log_info(const std::string& m) override { info.push_back(m); }
  void log_warning(const std::string& m) override { warnings.push_back(m); }
  /// Reported metrics (latest value per name) and progress, in order.
  std::map<std::string, double> metrics;
  std::vector<progress_info> progress;
  void report_metrics(const std::map<std::string, double>& m) override {
    for (const auto& [k, v] : m)
      metrics[k] = v;
  }
  void report_progress(const progress_info& p) override { progress.push_back(p); }
  /// What stop_requested() answers: a test sets it (from any thread) to drain the step.
  std::atomic<bool> stop{false};
  bool stop_requested() const override { return stop.load(); }
};

class collector : public emitter {
public:
  std::map<std::size_t, std::vector<batch>> ports;
  /// Models emitted on any port, in order.
  std::vector<model_message> models;
  void emit(std::size_t port, batch b) override { ports[port].push_back(std::move(b)); }
  void emit_model(std::size_t, model_message m) override { models.push_back(std::move(m)); }
  std::vector<batch>& on(std::size_t port) { return ports[port]; }
};

/// Runs `s` (opened already) to the end of its stream, stamping source/sequence.
inline std::vector<batch> drain(step& s, const std::string& source = "src",
                                std::uint64_t first_sequence = 1) {
  collector c;
  auto seq = first_sequence;
  while (s.produce(c)) {
    auto& out = c.on(0);
    if (!out.empty() && out.back().sequence == 0) {
      out.back().source = source;
      out.back().sequence = seq++;
    }
  }
  return std::move(c.on(0));
}

/// Pushes `in` through `s` (opened already), then finish; returns what was emitted.
inline collector push(step& s, std::vector<batch> in, bool finish = true) {
  collector c;
  for (auto& b : in)
    s.consume(0, std::move(b), c);
  if (finish)
    s.finish(c);
  return c;
}

/// Waits for `f` with a generous deadline; if it is still blocked, `unblock` frees it
/// (so that a failing test does not hang) and the result is false.
template <class T, class Unblock>
bool finishes(std::future<T>& f, Unblock unblock) {
  if (f.wait_for(std::chrono::seconds(30)) == std::future_status::ready)
    return true;
  unblock();
  f.wait();
  return false;
}

/// Builds step parameters from the kind's defaults plus `overrides`.
inline step_params params_for(const kind_entry& kind,
                              std::map<std::string, dsl::value> overrides) {
  for (const auto& p : kind.schema.params)
    if (p.default_value && overrides.count(p.name) == 0)
      overrides[p.name] = *p.default_value;
  return step_params(std::move(overrides));
}

inline std::unique_ptr<step> make_step(const kind_entry& kind,
                                       std::map<std::string, dsl::value> overrides) {
  step_config c;
  c.name = "test_step";
  c.params = params_for(kind, std::move(overrides));
  return kind.factory(c);
}

} // namespace conveyor::test
