#include "actors/trainer_options.hpp"

#include "compute/backend_factory.hpp"
#include "compute/model_spec.hpp"

#include <algorithm>
#include <cmath>

namespace conveyor {

std::string trainer_devices::device_of(int replica) const {
  return kind == "cpu" ? std::string("cpu")
                       : "cuda:" + std::to_string(gpus.at(static_cast<std::size_t>(replica)));
}

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 3 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// The GPUs of "all" or "0,1,..." (distinct, each present).
std::vector<int> parse_gpus(const std::string& devices, const std::string& list) {
  const auto bad = [&](const std::string& why) {
    return step_failure("trainer: devices = \"" + devices + "\": " + why);
  };
  std::string why_none;
  const int present = compute::gpu_count(&why_none);
  if (!compute::backend_built("cuda"))
    throw bad("GPU training is not built in this build (use \"cpu:N\" or \"auto\")");
  if (present == 0)
    throw bad("no GPU is usable on this machine (" + why_none + "); use \"cpu:N\" or \"auto\"");
  std::vector<int> gpus;
  if (list == "all") {
    for (int g = 0; g < present; ++g)
      gpus.push_back(g);
    return gpus;
  }
  std::size_t at = 0;
  while (at <= list.size()) {
    const auto comma = std::min(list.find(',', at), list.size());
    const auto item = list.substr(at, comma - at);
    if (!all_digits(item))
      throw bad("expected \"gpu:all\" or GPU numbers separated by commas, got \"" + item + "\"");
    const int g = std::stoi(item);
    if (g >= present)
      throw bad("GPU " + item + " is not there (this machine has " + std::to_string(present) +
                " GPU(s), numbered from 0)");
    if (std::find(gpus.begin(), gpus.end(), g) != gpus.end())
      throw bad("GPU " + item + " is listed twice (one replica per GPU)");
    gpus.push_back(g);
    at = comma + 1;
  }
  return gpus;
}

} // namespace

trainer_devices parse_devices(const std::string& devices) {
  trainer_devices d;
  if (devices == "auto") {
    std::string why;
    if (compute::gpu_count(&why) == 0) {
      d.cpu_fallback = why;
      return d; // cpu:1
    }
    d.kind = "cuda";
    d.gpus = parse_gpus(devices, "all");
    d.count = static_cast<int>(d.gpus.size());
    return d;
  }
  const auto bad = [&] {
    return step_failure("trainer: devices must be \"cpu:N\", \"gpu:all\", \"gpu:0,1,...\" or "
                        "\"auto\", got \"" + devices + "\"");
  };
  const auto colon = devices.find(':');
  if (colon == std::string::npos)
    throw bad();
  const auto kind = devices.substr(0, colon);
  const auto rest = devices.substr(colon + 1);
  if (kind == "gpu" || kind == "cuda") {
    d.kind = "cuda";
    d.gpus = parse_gpus(devices, rest);
    d.count = static_cast<int>(d.gpus.size());
    return d;
  }
  if (kind != "cpu" || !all_digits(rest))
    throw bad();
  d.count = std::stoi(rest);
  if (d.count < 1 || d.count > 256)
    throw step_failure("trainer: devices \"" + devices + "\": N must be in 1..256");
  return d;
}

int trainer_options::implied_classes() const {
  if (model == "logistic")
    return 2;
  if (model == "softmax" && layers.size() == 2)
    return layers[1];
  if (model == "mlp" && !layers.empty())
    return layers.back() == 1 ? 2 : layers.back();
  return 0;
}

namespace {
/// Bounded memory: a window holds at most this many rows.
constexpr std::int64_t max_window_rows = std::int64_t{1} << 24;
} // namespace

trainer_options trainer_options::from(const step_params& params) {
  trainer_options o;
  o.model = params.get_string("model");
  for (auto v : params.get_integers("layers")) {
    if (v < 1 || v > compute::max_layer_width)
      throw step_failure("trainer: every entry of 'layers' must be in 1.." +
                         std::to_string(compute::max_layer_width) + ", got " + std::to_string(v));
    o.layers.push_back(static_cast<int>(v));
  }
  if (o.model == "mlp" && o.layers.size() < 2)
    throw step_failure("trainer: model \"mlp\" needs 'layers' = [inputs, hidden..., outputs]");
  o.activation = params.get_string("activation");
  o.optimizer = params.get_string("optimizer");
  o.lr = params.get_number("lr");
  o.momentum = params.get_number("momentum");
  o.weight_decay = params.get_number("weight_decay");
  if (!(o.lr > 0) || !std::isfinite(o.lr))
    throw step_failure("trainer: 'lr' must be a positive number");
  if (!(o.momentum >= 0 && o.momentum < 1))
    throw step_failure("trainer: 'momentum' must be in [0, 1)");
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay))
    throw step_failure("trainer: 'weight_decay' must be >= 0");
  o.batch = params.get_integer("batch");
  if (o.batch < 1 || o.batch > (1 << 24))
    throw step_failure("trainer: 'batch' must be in 1..16777216");
  o.epochs = params.get_integer("epochs");
  if (o.epochs < 1 || o.epochs > 1000000)
    throw step_failure("trainer: 'epochs' must be >= 1");
  o.emit_every = params.get_integer("emit_every");
  if (o.emit_every < 0)
    throw step_failure("trainer: 'emit_every' must be >= 0 (epochs; 0: only at the end)");
  o.seed = params.get_integer("seed");
  o.devices = parse_devices(params.get_string("devices"));
  const auto precision = params.get_string("precision");
  if (auto p = compute::parse_precision(precision))
    o.precision = *p;
  else
    throw step_failure("trainer: 'precision' must be fp32, tf32 or bf16, got \"" + precision + "\"");
  // "auto" on a machine without GPUs trains in fp32; an explicit
  // CPU group cannot honour another precision.
  if (o.devices.kind == "cpu" && o.precision != compute::precision::fp32) {
    if (params.get_string("devices") != "auto")
      throw step_failure("trainer: precision = \"" + precision +
                         "\" needs GPU devices (the CPU trains in fp32)");
    o.precision = compute::precision::fp32;
  }
  o.shard = params.get_bool("shard");
  o.cuda_graphs = params.get_bool("cuda_graphs");
  o.checkpoint_every = params.get_integer("checkpoint_every");
  if (o.checkpoint_every < 0)
    throw step_failure("trainer: 'checkpoint_every' must be >= 0");
  o.checkpoint_dir = params.get_string("checkpoint_dir");
  if (o.checkpoint_dir.empty())
    throw step_failure("trainer: 'checkpoint_dir' must not be empty");
  o.resume_from = params.get_string("resume_from");
  o.name = params.get_string("name");
  o.by = params.get_string("by");
  o.min_rows = params.get_integer("min_rows");
  o.unknown_key = params.get_string("unknown_key");
  o.validation = params.get_number("validation");
  o.patience = params.get_integer("patience");
  if (o.min_rows < 1)
    throw step_failure("trainer: 'min_rows' must be >= 1");
  if (!(o.validation >= 0 && o.validation < 1))
    throw step_failure("trainer: 'validation' must be in [0, 1)");
  if (o.patience < 0)
    throw step_failure("trainer: 'patience' must be >= 0 (epochs; 0: no early stopping)");
  if (!o.by.empty()) {
    const bool single_layer = o.model != "mlp" && o.layers.size() <= 2;
    if (!single_layer)
      throw step_failure("trainer: by = \"" + o.by + "\" trains a fleet of linear, logistic or "
                         "softmax models; model \"" + o.model + "\" is not one");
    if (o.devices.kind != "cpu" || o.devices.count != 1)
      throw step_failure("trainer: a fleet (by) trains on devices = \"cpu:1\" (its batched "
                         "kernels use every core)");
    if (o.checkpoint_every > 0 || !o.resume_from.empty() || o.emit_every > 0)
      throw step_failure("trainer: a fleet (by) takes no checkpoint_every, resume_from or emit_every");
  }
  if (o.optimizer == "newton") {
    if (o.by.empty())
      throw step_failure("trainer: optimizer = \"newton\" trains fleets (set by = \"COLUMN\") of "
                         "linear or logistic models; use sgd or adam for one model");
    if (o.model == "softmax")
      throw step_failure("trainer: optimizer = \"newton\" trains one-output models (linear, "
                         "logistic); model \"" + o.model + "\" has more: use sgd or adam");
  }
  const auto timeout_ns = params.get_duration_ns("collective_timeout");
  if (timeout_ns < 1'000'000 || timeout_ns > std::int64_t{24} * 3600 * 1'000'000'000)
    throw step_failure("trainer: 'collective_timeout' must be between 1ms and 24h");
  o.collective_timeout_ms = timeout_ns / 1'000'000;
  o.fail_at_step = params.get_integer("fail_at_step");
  o.fail_times = params.get_integer("fail_times");
  o.hang_at_step = params.get_integer("hang_at_step");
  if (o.fail_at_step < 0 || o.hang_at_step < 0)
    throw step_failure("trainer: 'fail_at_step' and 'hang_at_step' must be >= 0");
  o.window_rows = params.get_integer("window_rows");
  o.window_ns = params.get_duration_ns("window");
  o.retrain_every_rows = params.get_integer("retrain_every_rows");
  o.retrain_every_ns = params.get_duration_ns("retrain_every");
  o.warm_start = params.get_bool("warm_start");
  if (o.window_rows < 0 || o.window_rows > max_window_rows)
    throw step_failure("trainer: 'window_rows' must be in 0.." + std::to_string(max_window_rows) +
                       " (0: no row bound)");
  if (o.retrain_every_rows < 0)
    throw step_failure("trainer: 'retrain_every_rows' must be >= 0 (0: no row trigger)");
  if (!o.retraining()) {
    if (o.retrain_every_rows > 0 || o.retrain_every_ns > 0 || o.warm_start)
      throw step_failure("trainer: retrain_every_rows, retrain_every and warm_start retrain on a "
                         "window of the newest rows: set window_rows or window as well");
    return o;
  }
  if (o.devices.count != 1)
    throw step_failure("trainer: a retraining trainer (window_rows or window) trains one replica: "
                       "devices = \"cpu:1\" or one GPU");
  if (o.checkpoint_every > 0 || !o.resume_from.empty() || o.emit_every > 0 || o.fail_at_step > 0)
    throw step_failure("trainer: a retraining trainer (window_rows or window) takes no "
                       "checkpoint_every, resume_from, emit_every or fail_at_step: each retrain "
                       "is short and starts afresh, or from the previous model (warm_start)");
  return o;
}

} // namespace conveyor
