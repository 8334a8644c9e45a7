// A running run's counters, readable from any thread while it runs: the coordinator
// writes each step's summary (the same figures the report will hold: rows in, out and
// rejected, replays, restarts, busy seconds, batches per output port, credit waits)
// and where its instances run whenever a step's counters or restarts arrive; a cluster
// run adds its nodes (what they offer, when each last answered). `conveyor run
// --metrics-listen` reads them at each scrape, and its /status for `conveyor status`.
// Plain C++ (no CAF).
#pragma once

#include "runtime/run_report.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace conveyor {

/// Where one step instance runs and how it stands.
struct instance_status {
  std::string instance;
  std::string step;
  std::string node;
  /// `running`; `ended` (its stream ended); `lost` (its node was lost, not moved yet).
  std::string state;
  int incarnation = 0;
};

/// One node of a cluster run.
struct node_status {
  std::string name;
  std::string address;
  std::vector<std::string> labels;
  int cores = 0;
  std::uint64_t memory_bytes = 0;
  int gpus = 0;
  /// When it last answered the run's heartbeat request (a steady clock).
  std::chrono::steady_clock::time_point last_heard;
};

class live_counters {
public:
  void set(step_summary s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto name = s.step;
    steps_[std::move(name)] = std::move(s);
  }
  /// The steps reported so far, by name (a step appears with its first counters).
  std::map<std::string, step_summary> steps() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return steps_;
  }
  void set_instance(instance_status s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto name = s.instance;
    instances_[std::move(name)] = std::move(s);
  }
  std::map<std::string, instance_status> instances() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return instances_;
  }
  void set_node(node_status n) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto name = n.name;
    nodes_[std::move(name)] = std::move(n);
  }
  void heard_from(const std::string& node) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto i = nodes_.find(node);
    if (i != nodes_.end())
      i->second.last_heard = std::chrono::steady_clock::now();
  }
  /// Empty for an embedded run.
  std::map<std::string, node_status> nodes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return nodes_;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, step_summary> steps_;
  std::map<std::string, instance_status> instances_;
  std::map<std::string, node_status> nodes_;
};

} // namespace conveyor
