#include "actors/inference.hpp"

#include "compute/backend_factory.hpp"
#include "compute/cpu/cpu_backend.hpp"
#include "actors/kind_schema_builder.hpp"

#include <chrono>
#include <map>
#include <sstream>
#include <stdexcept>

#include <sys/stat.h>

namespace conveyor {

namespace {

template <class T>
T positive(const step_params& p, const std::string& key, std::int64_t max) {
  auto v = p.get_integer(key);
  if (v < 1 || v > max)
    throw step_failure("inference: '" + key + "' must be in [1, " + std::to_string(max) + "], not " +
                       std::to_string(v));
  return static_cast<T>(v);
}

} // namespace

inference_options inference_options::from(const step_config& config) {
  const auto& p = config.params;
  inference_options o;
  o.server.endpoint = p.get_string("endpoint");
  o.server.workers = config.replicas_attribute;
  o.server.max_batch = positive<std::uint32_t>(p, "max_batch", 1 << 16);
  auto delay_ns = p.get_duration_ns("max_delay");
  if (delay_ns < 0 || delay_ns > std::int64_t{1000} * 1000 * 1000)
    throw step_failure("inference: 'max_delay' must be between 0 and 1s");
  o.server.max_delay = std::chrono::microseconds(delay_ns / 1000);
  o.server.max_queue = positive<std::size_t>(p, "max_queue", 1 << 24);
  auto bytes = [&](const std::string& key, std::uint64_t min, std::uint64_t max, const char* range) {
    const auto v = p.get_size_bytes(key);
    if (v < min || v > max)
      throw step_failure("inference: '" + key + "' must be between " + range);
    return static_cast<std::size_t>(v);
  };
  o.server.max_queue_bytes = bytes("max_queue_bytes", 1 << 20, std::uint64_t{64} << 30, "1MiB and 64GiB");
  o.server.max_unread_bytes = bytes("max_unread_bytes", 64 << 10, std::uint64_t{1} << 30, "64KiB and 1GiB");
  o.server.max_total_unread_bytes =
    bytes("max_total_unread_bytes", 64 << 10, std::uint64_t{64} << 30, "64KiB and 64GiB");
  o.server.limits.max_rows = positive<std::uint32_t>(p, "max_rows", 1 << 20);
  o.server.limits.max_bytes = p.get_size_bytes("max_request_bytes");
  if (o.server.limits.max_bytes < 1024 || o.server.limits.max_bytes > (std::uint64_t{1} << 30))
    throw step_failure("inference: 'max_request_bytes' must be between 1KiB and 1GiB");
  o.registry = p.get_string("registry");
  o.keep_loaded = positive<std::size_t>(p, "keep_loaded", 1024);
  o.max_model_bytes = p.get_size_bytes("max_model_bytes");
  if (o.max_model_bytes < 1024 || o.max_model_bytes > compute::model_file::max_file_bytes)
    throw step_failure("inference: 'max_model_bytes' must be between 1KiB and " +
                       std::to_string(compute::model_file::max_file_bytes >> 20) + "MiB");
  o.curve_secret_key_file = p.get_string("curve_secret_key_file");
  o.curve_allowed_clients_file = p.get_string("curve_allowed_clients_file");
  const auto device = p.get_string("device");
  if (device == "auto") {
    std::string why;
    if (compute::gpu_count(&why) > 0)
      o.device = "cuda:0";
    else
      o.cpu_fallback = why;
  } else if (device != "cpu") {
    // gpu:N or cuda:N, present on this machine: refused here, when the graph is checked.
    const auto colon = device.find(':');
    const auto kind = device.substr(0, colon);
    const auto n = colon == std::string::npos ? std::string() : device.substr(colon + 1);
    if ((kind != "gpu" && kind != "cuda") || n.empty() || n.size() > 3 ||
        n.find_first_not_of("0123456789") != std::string::npos)
      throw step_failure("inference: device must be \"cpu\", \"gpu:N\" or \"auto\", got \"" +
                         device + "\"");
    std::string why;
    const int gpus = compute::gpu_count(&why);
    if (std::stoi(n) >= gpus)
      throw step_failure("inference: device = \"" + device + "\": " +
                         (gpus == 0 ? "no GPU is usable on this machine (" + why + ")"
                                    : "this machine has " + std::to_string(gpus) + " GPU(s)") +
                         "; use \"cpu\" or \"auto\"");
    o.device = "cuda:" + n;
  }
  if (o.curve_secret_key_file.empty() != o.curve_allowed_clients_file.empty())
    throw step_failure("inference: 'curve_secret_key_file' and 'curve_allowed_clients_file' "
                       "go together (set both for CurveZMQ, or neither)");
  return o;
}

namespace {

/// The durable state: the latest model of each name that reached the step, as
/// "conveyor-models 1\n" and per model "<name> <version> <bytes>\n<artifact>".
std::string encode_models(
  const std::map<std::string, std::pair<std::uint64_t, std::shared_ptr<const std::string>>>& m) {
  std::string out = "conveyor-models 1\n";
  for (const auto& [name, latest] : m)
    out += name + " " + std::to_string(latest.first) + " " +
           std::to_string(latest.second->size()) + "\n" + *latest.second;
  return out;
}

} // namespace

inference::inference(inference_options options) : options_(std::move(options)) {}

void inference::restore_models(const std::string& state) {
  const std::string header = "conveyor-models 1\n";
  if (state.compare(0, header.size(), header) != 0) {
    ctx_->log_warning("its saved state holds no models it can read; starting without them");
    return;
  }
  std::size_t at = header.size();
  while (at < state.size()) {
    const auto newline = state.find('\n', at);
    std::istringstream line(state.substr(at, newline == std::string::npos ? 0 : newline - at));
    std::string name;
    std::uint64_t version = 0;
    std::size_t size = 0;
    if (newline == std::string::npos || !(line >> name >> version >> size) ||
        size > state.size() - newline - 1) {
      ctx_->log_warning("its saved state is malformed after " +
                        std::to_string(latest_.size()) + " model(s); serving those");
      return;
    }
    auto artifact = std::make_shared<const std::string>(state.substr(newline + 1, size));
    at = newline + 1 + size;
    try {
      catalog_->add(name, version, *artifact);
      latest_[name] = {version, std::move(artifact)};
      ctx_->log_info("serving '" + name + "' version " + std::to_string(version) +
                     " from its saved state");
    } catch (const std::invalid_argument& e) {
      ctx_->log_warning("not serving '" + name + "' from its saved state: " + e.what());
    }
  }
}

inference::~inference() {
  if (metrics_hook_ != 0)
    metrics::default_registry().remove_collect_hook(metrics_hook_);
  if (server_)
    server_->stop();
}

void inference::open(step_context& ctx) {
  ctx_ = &ctx;
  // Workers compute side by side, one batch each: threaded BLAS under each would
  // oversubscribe the cores (measured on 2 cores at 32 in flight: 48k req/s with one
  // BLAS thread, 34k with two). Process-wide; a trainer takes the cores while it trains.
  compute::set_blas_threads(1);
  if (!options_.cpu_fallback.empty())
    ctx.log_info("device = \"auto\": no GPU is usable (" + options_.cpu_fallback +
                 "); computing on the CPU");
  try {
    device_ = std::make_unique<compute::locked_backend>(compute::make_backend(options_.device));
  } catch (const std::exception& e) {
    throw step_failure(std::string("inference: ") + e.what());
  }
  catalog_ = std::make_shared<serving::model_catalog>(options_.registry, options_.keep_loaded,
                                                      options_.max_model_bytes, device_.get());
  for (const auto& problem : catalog_->load_latest())
    ctx.log_warning("not serving " + problem);
  // Models that reached an earlier incarnation, on this node or another (the coordinator
  // keeps the state): served at once, without a shared registry.
  if (auto state = ctx.load_state())
    restore_models(*state);
  auto server_options = options_.server;
  if (!options_.curve_secret_key_file.empty()) {
    auto secret = wire::load_curve_key(options_.curve_secret_key_file, "curve_secret_key_file");
    if (!secret)
      throw step_failure("inference: " + secret.error);
    auto allowed = wire::load_curve_key_list(options_.curve_allowed_clients_file);
    if (!allowed)
      throw step_failure("inference: curve_allowed_clients_file: " + allowed.error);
    server_options.curve = serving::curve_server_keys{*secret.value, std::move(*allowed.value)};
    struct stat st {};
    if (::stat(options_.curve_secret_key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      ctx.log_warning("curve_secret_key_file '" + options_.curve_secret_key_file +
                      "' can be read by others than its owner (chmod 600 it)");
  }
  auto recorded = std::make_shared<serving::server_metrics>(metrics::default_registry(),
                                                           ctx.step_name());
  server_options.metrics = recorded;
  server_options.compute_backend = [device = options_.device] {
    return compute::make_backend(device);
  };
  server_ = std::make_unique<serving::server>(server_options, catalog_);
  metrics_hook_ = metrics::default_registry().add_collect_hook(
    [recorded, server = server_.get()] {
      const auto s = server->stats();
      recorded->queue_depth.set(static_cast<double>(s.queued));
      recorded->queued_bytes.set(static_cast<double>(s.queued_bytes));
      recorded->computing.set(static_cast<double>(s.computing));
      recorded->unread_bytes.set(static_cast<double>(s.unread_bytes));
    });
  try {
    server_->start();
  } catch (const std::exception& e) {
    throw step_failure(std::string("inference: ") + e.what());
  }
  std::string models;
  for (const auto& m : catalog_->list())
    models += (models.empty() ? "" : ", ") + m.name + " v" + std::to_string(m.version);
  const std::string security =
    server_options.curve ? "CurveZMQ, " + std::to_string(server_options.curve->allowed_clients.size()) +
                             " allowed client key(s), "
                         : std::string();
  ctx.log_info("serving on " + server_->endpoint() + " (" + security + "computing on " +
               device_->describe() + ", " + std::to_string(options_.server.workers) +
               " worker(s), max_batch " + std::to_string(options_.server.max_batch) +
               ", max_delay " + std::to_string(options_.server.max_delay.count()) + "us); " +
               (models.empty() ? std::string("no models yet") : "models: " + models));
}

void inference::consume_model(std::size_t, model_message m, emitter&) {
  if (!m.artifact) {
    ctx_->reject(1, "model '" + m.name + "' carries no artifact");
    return;
  }
  try {
    if (catalog_->add(m.name, m.version, *m.artifact))
      ctx_->log_info("now serving '" + m.name + "'" +
                     (m.version ? " version " + std::to_string(m.version) : std::string()));
    auto& latest = latest_[m.name];
    if (!latest.second || m.version >= latest.first) {
      latest = {m.version, m.artifact};
      ctx_->save_state(encode_models(latest_));
    }
  } catch (const std::exception& e) { // undecodable, unservable, or no room on the device
    ctx_->reject(1, "model '" + m.name + "' cannot be served: " + e.what());
  }
}

void inference::finish(emitter&) {
  std::string models;
  for (const auto& m : catalog_->list())
    models += (models.empty() ? "" : ", ") + m.name + " version " + std::to_string(m.version);
  if (!models.empty()) {
    ctx_->log_info("its inputs have ended; serving " + models +
                   " until the run is drained (SIGINT/SIGTERM)");
    return;
  }
  ctx_->log_warning(
    "its inputs have ended and no model reached it; serving nothing yet (requests get "
    "unknown_model)" +
    (options_.registry.empty() ? std::string{}
                               : "; it serves what is published to '" + options_.registry +
                                   "' from now on") +
    "; the run goes on until it is drained (SIGINT/SIGTERM)");
}

void inference::tick() {
  if (!server_)
    return;
  if (auto failure = server_->failure())
    throw step_failure("inference: " + *failure);
  // Versions published to the registry by others (another graph, `conveyor run` of a
  // training graph) are swapped in within a tick.
  auto refreshed = catalog_->refresh();
  for (const auto& m : refreshed.loaded)
    ctx_->log_info("now serving '" + m.name + "' version " + std::to_string(m.version) +
                   " (new in the registry)");
  for (const auto& problem : refreshed.problems)
    ctx_->log_warning("not serving " + problem);
  for (const auto& key : server_->take_newly_refused())
    ctx_->log_warning("refused a CurveZMQ handshake from client key " + key + " (not in '" +
                      options_.curve_allowed_clients_file +
                      "'); its further attempts are counted (refused_handshakes), not logged");
  auto s = server_->stats();
  std::map<std::string, double> metrics;
  metrics["requests"] = static_cast<double>(s.requests);
  metrics["ok"] = static_cast<double>(s.ok);
  for (int c = 0; c < wire::error_code_count; ++c)
    if (s.errors[static_cast<std::size_t>(c)] != 0)
      metrics[std::string(wire::to_string(static_cast<wire::error_code>(c)))] =
        static_cast<double>(s.errors[static_cast<std::size_t>(c)]);
  metrics["rows"] = static_cast<double>(s.rows);
  if (s.dropped != 0)
    metrics["dropped"] = static_cast<double>(s.dropped);
  if (s.unread_refused != 0)
    metrics["unread_refused"] = static_cast<double>(s.unread_refused);
  if (s.shed != 0)
    metrics["shed"] = static_cast<double>(s.shed);
  if (s.refused_handshakes != 0)
    metrics["refused_handshakes"] = static_cast<double>(s.refused_handshakes);
  if (s.batches != 0)
    metrics["rows_per_batch"] = static_cast<double>(s.rows) / static_cast<double>(s.batches);
  metrics["model_bytes"] = static_cast<double>(device_->floats_held() * sizeof(float));
  metrics["latency_p50_ms"] = s.latency_p50_ms;
  metrics["latency_p99_ms"] = s.latency_p99_ms;
  ctx_->report_metrics(metrics);
}

kind_entry inference_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "inference";
  e.schema.doc = "Serves models over ZeroMQ + MessagePack (inference protocol v1) with a bounded "
                 "queue, dynamic batching and `replicas` worker threads; swaps in models that "
                 "arrive on `model` without failing requests. Runs until the run is drained.";
  e.schema.params = {
    optional_param("endpoint", param_type::string, std::string("tcp://*:5555"),
                   "the ZeroMQ ROUTER endpoint to bind (tcp://, ipc://)"),
    optional_param("registry", param_type::string, std::string(),
                   "a model registry: serve the latest of each model there from the start, "
                   "and pinned versions"),
    optional_param("max_batch", param_type::integer, std::int64_t{64},
                   "rows per computed batch (1: no batching)"),
    optional_param("max_delay", param_type::duration, dsl::duration_value{500'000},
                   "how long a batch waits for more requests after its oldest arrived"),
    optional_param("max_queue", param_type::integer, std::int64_t{2048},
                   "requests waiting at most, server-wide; beyond, fair shedding (`overloaded`)"),
    optional_param("max_queue_bytes", param_type::size, dsl::size_value{256ull << 20},
                   "bytes the waiting requests may hold (values and replies-to-be), server-wide"),
    optional_param("max_unread_bytes", param_type::size, dsl::size_value{8ull << 20},
                   "unread replies held for one client; beyond, its requests are discarded"),
    optional_param("max_total_unread_bytes", param_type::size, dsl::size_value{64ull << 20},
                   "unread replies held for all clients together; beyond, each gets its share"),
    optional_param("max_rows", param_type::integer, std::int64_t{4096},
                   "rows per request at most (`too_large` beyond)"),
    optional_param("max_request_bytes", param_type::size, dsl::size_value{64ull << 20},
                   "request size at most (`too_large` beyond; connections sending twice "
                   "this are dropped by ZeroMQ)"),
    optional_param("keep_loaded", param_type::integer, std::int64_t{4},
                   "versions per model kept in memory (the latest always)"),
    optional_param("max_model_bytes", param_type::size, dsl::size_value{256ull << 20},
                   "model files larger than this are not loaded (refused unread)"),
    optional_param("device", param_type::string, std::string("cpu"),
                   "where batches are computed: \"cpu\", \"gpu:N\" (checked against this "
                   "machine), or \"auto\" (gpu:0 where a GPU is usable, else cpu)"),
    dsl::reads_file(optional_param("curve_secret_key_file", param_type::string, std::string(),
                                   "CurveZMQ: the server's secret key (Z85; `conveyor keys`); "
                                   "with curve_allowed_clients_file")),
    dsl::reads_file(optional_param("curve_allowed_clients_file", param_type::string,
                                   std::string(),
                                   "CurveZMQ: the client public keys admitted (Z85, one per "
                                   "line, # comments); others get no answer")),
  };
  e.schema.inputs = {dsl::port_schema{"model", "model"}};
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    return std::make_unique<inference>(inference_options::from(c));
  };
  e.instances = instance_rule{{}, [](const step_params&) { return 1; }};
  return e;
}

} // namespace conveyor
