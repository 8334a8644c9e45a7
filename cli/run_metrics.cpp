#include "cli/run_metrics.hpp"

#include "step/kind_registry.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace conveyor::cli {

namespace {

metrics::registry& reg() { return metrics::default_registry(); }

metrics::family<metrics::counter>& step_counter(const std::string& name, const std::string& help) {
  return reg().counter_family(name, help, {"step", "kind"});
}

} // namespace

run_metrics::run_metrics(const std::string& listen, const dsl::graph_spec& graph,
                         const kind_registry& kinds)
    : rows_in_(step_counter("conveyor_step_rows_in_total",
                            "Rows a step received (each batch once, replays apart)")),
      rows_out_(step_counter("conveyor_step_rows_out_total",
                             "Rows a step emitted (each batch once, replays apart)")),
      rejected_(step_counter("conveyor_step_rows_rejected_total",
                             "Rows a step rejected (bad input: counted and skipped)")),
      replayed_(step_counter("conveyor_step_rows_replayed_total",
                             "Rows that reached a step again after a restart (sources: "
                             "emitted again)")),
      restarts_(step_counter("conveyor_step_restarts_total", "Restarts of a step after failures")),
      busy_(step_counter("conveyor_step_busy_seconds_total",
                         "Time inside a step's own code, over its instances")),
      batches_(reg().counter_family("conveyor_edge_batches_total",
                                    "Batches sent on an edge (each batch once, replays apart)",
                                    {"from", "to"})),
      credit_wait_(reg().counter_family(
        "conveyor_edge_credit_wait_seconds_total",
        "Time the producer of an edge waited for the consumer's credit (backpressure)",
        {"from", "to"})),
      graph_name_(graph.name),
      endpoint_(reg()) {
  std::string why;
  auto where = metrics::parse_listen_address(listen, why);
  if (!where)
    throw std::runtime_error("--metrics-listen: " + why);
  host_ = where->host;
  for (const auto& n : graph.nodes)
    kinds_[n.name] = n.kind;
  for (const auto& e : graph.edges) {
    if (e.message_type != "batch")
      continue; // models travel outside the counted batches
    const auto* kind = kinds.find_kind(graph.find_node(e.from_node)->kind);
    std::uint32_t port = 0;
    for (std::size_t i = 0; kind && i < kind->outputs.size(); ++i)
      if (kind->outputs[i].name == e.from_port)
        port = static_cast<std::uint32_t>(i);
    edges_.push_back(
      {e.from_node + "." + e.from_port, e.to_node + "." + e.to_port, e.from_node, port, e.to_node});
  }
  endpoint_.add_route("/status", "application/json", [this] { return status_json(); });
  hook_ = reg().add_collect_hook([this] { collect(); });
  try {
    endpoint_.start(*where);
  } catch (...) {
    reg().remove_collect_hook(hook_);
    throw;
  }
}

run_metrics::~run_metrics() {
  endpoint_.stop();
  reg().remove_collect_hook(hook_);
}

std::string run_metrics::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(endpoint_.port()) +
         "/metrics";
}

void run_metrics::collect() {
  const auto steps = counters_->steps();
  for (const auto& [name, s] : steps) {
    const std::vector<std::string> labels{name, kinds_[name]};
    rows_in_.with(labels).set(static_cast<double>(s.rows_in));
    rows_out_.with(labels).set(static_cast<double>(s.rows_out));
    rejected_.with(labels).set(static_cast<double>(s.rows_rejected));
    replayed_.with(labels).set(static_cast<double>(s.rows_replayed));
    restarts_.with(labels).set(static_cast<double>(s.restarts));
    busy_.with(labels).set(s.busy_seconds);
  }
  for (const auto& e : edges_) {
    std::uint64_t n = 0;
    if (auto s = steps.find(e.producer); s != steps.end())
      if (auto b = s->second.batches_out.find(e.out_port); b != s->second.batches_out.end())
        n = b->second;
    batches_.with({e.from, e.to}).set(static_cast<double>(n));
    double waited = 0;
    if (auto s = steps.find(e.producer); s != steps.end())
      if (auto w = s->second.credit_wait_seconds.find({e.out_port, e.consumer});
          w != s->second.credit_wait_seconds.end())
        waited = w->second;
    credit_wait_.with({e.from, e.to}).set(waited);
  }
}

std::string run_metrics::status_json() const {
  const auto now = std::chrono::steady_clock::now();
  const auto steps = counters_->steps();
  const auto instances = counters_->instances();
  nlohmann::json doc;
  doc["graph"] = graph_name_;
  doc["uptime_seconds"] = std::chrono::duration<double>(now - started_).count();
  doc["nodes"] = nlohmann::json::array();
  for (const auto& [name, n] : counters_->nodes())
    doc["nodes"].push_back({{"name", name},
                            {"address", n.address},
                            {"labels", n.labels},
                            {"cores", n.cores},
                            {"memory_bytes", n.memory_bytes},
                            {"gpus", n.gpus},
                            {"heartbeat_age_seconds",
                             std::chrono::duration<double>(now - n.last_heard).count()}});
  doc["steps"] = nlohmann::json::array();
  for (const auto& [name, kind] : kinds_) {
    nlohmann::json step{{"step", name}, {"kind", kind}};
    if (auto s = steps.find(name); s != steps.end()) {
      step["rows_in"] = s->second.rows_in;
      step["rows_out"] = s->second.rows_out;
      step["rows_rejected"] = s->second.rows_rejected;
      step["restarts"] = s->second.restarts;
    }
    step["instances"] = nlohmann::json::array();
    for (const auto& [instance, i] : instances)
      if (i.step == name)
        step["instances"].push_back({{"instance", instance},
                                     {"node", i.node},
                                     {"state", i.state},
                                     {"incarnation", i.incarnation}});
    doc["steps"].push_back(std::move(step));
  }
  doc["edges"] = nlohmann::json::array();
  for (const auto& e : edges_) {
    std::uint64_t batches = 0;
    double waited = 0;
    if (auto s = steps.find(e.producer); s != steps.end()) {
      if (auto b = s->second.batches_out.find(e.out_port); b != s->second.batches_out.end())
        batches = b->second;
      if (auto w = s->second.credit_wait_seconds.find({e.out_port, e.consumer});
          w != s->second.credit_wait_seconds.end())
        waited = w->second;
    }
    doc["edges"].push_back(
      {{"from", e.from}, {"to", e.to}, {"batches", batches}, {"credit_wait_seconds", waited}});
  }
  return doc.dump();
}

} // namespace conveyor::cli
