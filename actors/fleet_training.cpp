#include "actors/fleet_training.hpp"

#include "actors/trained_model.hpp"

#include "compute/backend_factory.hpp"
#include "compute/cpu/batched_gemm.hpp"
#include "compute/model_file.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <random>
#include <thread>

#include <sched.h>

namespace conveyor {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// A key's feature histograms describe at most this many of its rows (shares to about
/// 3 %; a drift check judges a key on at least segment_min_rows live rows).
constexpr std::size_t key_histogram_rows = 1024;

/// Rows a segment of `n` rows holds out for validation.
std::size_t validation_rows(std::size_t n, double share) {
  const auto k = static_cast<std::size_t>(std::floor(static_cast<double>(n) * share));
  if (k == 0 && share > 0 && n >= 10)
    return 1;
  return std::min(k, n - 1);
}

} // namespace

fleet_training::fleet_training(trainer_options options, std::string step_name)
    : options_(std::move(options)), step_name_(std::move(step_name)),
      data_(options_.model != "linear", options_.implied_classes(), options_.by) {}

fleet_training::~fleet_training() = default;

void fleet_training::consume(std::size_t, batch b, emitter&) { data_.add(b); }

void fleet_training::consume_model(std::size_t, model_message m, emitter&) {
  warn_retrain_ignored(ctx_, m, retrain_warned_);
}

void fleet_training::finish(emitter&) {
  if (started_)
    return;
  data_.assemble();
  if (data_.transform())
    for (const auto& op : data_.transform()->ops)
      if (op.column == options_.by)
        throw step_failure("trainer: the preprocessing has a " + std::string(to_string(op.op)) +
                           " on '" + options_.by + "', the fleet's key column; leave it alone in "
                           "the cleaner (the key picks the model, it is no feature)");
  start();
}

void fleet_training::start() {
  started_ = true;
  start_time_ = clock_type::now(); // the segments' layout counts as training time
  const int f = static_cast<int>(data_.features());
  spec_.kind = options_.model;
  if (!options_.layers.empty()) {
    spec_.layers = options_.layers;
    if (spec_.layers.front() != f)
      throw step_failure("trainer: layers[0] = " + std::to_string(spec_.layers.front()) +
                         " but the data has " + std::to_string(f) + " feature columns");
  } else if (options_.model == "linear") {
    spec_.layers = {f, 1};
  } else if (options_.model == "logistic") {
    spec_.layers = {f};
  } else {
    float mx = 0;
    for (float v : data_.labels())
      mx = std::max(mx, v);
    spec_.layers = {f, std::max(2, static_cast<int>(mx) + 1)};
  }
  spec_.seed = static_cast<std::uint64_t>(options_.seed);
  spec_.weight_decay = static_cast<float>(options_.weight_decay);
  try {
    spec_ = compute::validate(spec_);
  } catch (const std::invalid_argument& e) {
    throw step_failure(std::string("trainer: ") + e.what());
  }
  const int classes = spec_.objective == compute::task::regression ? 0
                      : spec_.layers.back() == 1                  ? 2
                                                                  : spec_.layers.back();
  if (classes > 0)
    for (float v : data_.labels())
      if (v >= static_cast<float>(classes))
        throw step_failure("trainer: a label " + std::to_string(v) +
                           " is not a class index in [0, " + std::to_string(classes) + ")");

  // Each key's rows, split into training and validation rows with the seed.
  const auto& names = data_.key_names();
  std::vector<std::vector<std::uint32_t>> rows_of(names.size());
  const auto& keys = data_.keys();
  for (std::uint32_t r = 0; r < keys.size(); ++r)
    rows_of[keys[r]].push_back(r);
  std::vector<compute::fleet_slot_rows> slots;
  compute::fleet_slot_rows shared;
  own_slot_.assign(names.size(), 0);
  std::vector<bool> own(names.size());
  for (std::size_t k = 0; k < names.size(); ++k) {
    auto& rows = rows_of[k];
    const std::size_t v = validation_rows(rows.size(), options_.validation);
    if (v > 0) { // validation rows drawn at random; without them the order does not matter
      std::seed_seq seq{static_cast<std::uint32_t>(options_.seed), static_cast<std::uint32_t>(k)};
      std::mt19937_64 rng(seq);
      for (std::size_t i = rows.size(); i > 1; --i)
        std::swap(rows[i - 1], rows[static_cast<std::size_t>(rng() % i)]);
    }
    compute::fleet_slot_rows s;
    s.validation.assign(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(v));
    s.train.assign(rows.begin() + static_cast<std::ptrdiff_t>(v), rows.end());
    shared.train.insert(shared.train.end(), s.train.begin(), s.train.end());
    shared.validation.insert(shared.validation.end(), s.validation.begin(), s.validation.end());
    own[k] = rows.size() >= static_cast<std::size_t>(options_.min_rows);
    if (own[k]) {
      own_slot_[k] = static_cast<std::uint32_t>(slots.size());
      slots.push_back(std::move(s));
    }
  }
  // The shared model takes as many steps per epoch as the largest segment, with larger
  // batches: one step of it costs about what one step of all the segments does.
  std::size_t steps = 1;
  for (const auto& s : slots)
    steps = std::max<std::size_t>(steps, (s.train.size() + options_.batch - 1) / options_.batch);
  if (!slots.empty())
    shared.batch = std::max<std::size_t>(static_cast<std::size_t>(options_.batch),
                                         (shared.train.size() + steps - 1) / steps);
  // A shared model is trained only when something would use it: a key without its own
  // model, or unknown keys answered by it.
  shared_slot_ = slots.size();
  has_shared_ = options_.unknown_key == "shared" ||
                std::find(own.begin(), own.end(), false) != own.end();
  for (std::size_t k = 0; k < names.size(); ++k)
    if (!own[k])
      own_slot_[k] = static_cast<std::uint32_t>(shared_slot_);
  if (has_shared_)
    slots.push_back(std::move(shared));
  if (warm_)
    warm_keys_ = apply_warm_start(slots, own);

  compute::fleet_training_options o;
  o.optimizer.kind = options_.optimizer == "adam" ? compute::optimizer_kind::adam
                                                  : compute::optimizer_kind::sgd;
  o.optimizer.learning_rate = static_cast<float>(options_.lr);
  o.optimizer.momentum = static_cast<float>(options_.momentum);
  if (options_.optimizer == "newton")
    o.solver = compute::fleet_solver::newton;
  o.batch = static_cast<int>(options_.batch);
  o.epochs = static_cast<int>(options_.epochs);
  o.patience = static_cast<int>(options_.patience);
  o.seed = static_cast<std::uint64_t>(options_.seed);
  try {
    device_ = compute::make_backend("cpu");
    threads_before_ = device_->threads();
    device_->set_threads(usable_cores());
    trainer_ = std::make_unique<compute::fleet_trainer>(spec_, o, data_.feature_matrix().data(), data_.labels().data(),
                                                        data_.rows(), std::move(slots), *device_);
  } catch (const std::invalid_argument& e) {
    throw step_failure(std::string("trainer: ") + e.what());
  }
  if (ctx_)
    ctx_->log_info("fleet by '" + options_.by + "': " + std::to_string(names.size()) + " keys, " +
                   std::to_string(shared_slot_) + " with their own model (min_rows " +
                   std::to_string(options_.min_rows) + ")" +
                   (has_shared_ ? ", and a shared model" : ", no shared model (nothing uses it)") +
                   "; " + device_->describe());
}

std::size_t fleet_training::apply_warm_start(std::vector<compute::fleet_slot_rows>& slots,
                                             const std::vector<bool>& own) {
  const auto& p = *warm_;
  const auto transform = data_.transform() ? *data_.transform() : preprocessing{};
  std::string fresh;
  if (!p.fleet)
    fresh = "the previous model is not a fleet";
  else if (p.spec.kind != spec_.kind || p.spec.layers != spec_.layers ||
           p.spec.objective != spec_.objective)
    fresh = "the model's shape changed";
  else if (p.feature_columns != data_.feature_columns())
    fresh = "the feature columns changed";
  else if (!(p.preprocessing == transform))
    fresh = "the preprocessing changed (the cleaner refitted)";
  if (!fresh.empty()) {
    if (ctx_)
      ctx_->log_info("warm start: " + fresh + "; every key starts from zero");
    return 0;
  }
  const auto& fleet = *p.fleet;
  const std::size_t params = compute::parameter_count(spec_);
  std::map<std::string, std::size_t> previous; // key -> its own index in the previous fleet
  std::size_t own_index = 0;
  for (const auto& seg : fleet.segments)
    if (seg.own)
      previous.emplace(seg.key, own_index++);
  const auto& names = data_.key_names();
  std::size_t warm = 0;
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (!own[k])
      continue;
    const auto at = previous.find(names[k]);
    if (at == previous.end())
      continue; // new in the window, or answered by the shared model before: from zero
    const auto from = fleet.weights.begin() + static_cast<std::ptrdiff_t>(at->second * params);
    slots[own_slot_[k]].initial.assign(from, from + static_cast<std::ptrdiff_t>(params));
    ++warm;
  }
  const bool shared_warm = has_shared_ && fleet.shared;
  if (shared_warm)
    slots[shared_slot_].initial = p.weights;
  if (ctx_)
    ctx_->log_info("warm start: " + std::to_string(warm) + " of " +
                   std::to_string(shared_slot_) + " keys' models start from the previous "
                   "fleet's, " + std::to_string(shared_slot_ - warm) +
                   " from zero (new to the fleet, or without a model of their own in it)" +
                   (has_shared_ ? shared_warm ? "; the shared model from the previous one"
                                              : "; the shared model from zero"
                                : ""));
  return warm;
}

bool fleet_training::produce(emitter& out) {
  if (!started_ || done_)
    return false;
  const auto slice_start = clock_type::now();
  while (trainer_->run_epoch()) {
    if (ctx_ && ctx_->stop_requested()) {
      if (ctx_)
        ctx_->log_warning("drained at epoch " + std::to_string(trainer_->epochs_done()) + " of " +
                          std::to_string(options_.epochs) +
                          ": no fleet emitted (it is not fully trained)");
      end();
      return false;
    }
    if (seconds_since(slice_start) > 0.04) {
      if (ctx_) {
        progress_info p;
        p.step = step_name_;
        p.epoch = trainer_->epochs_done();
        p.epochs = static_cast<int>(options_.epochs);
        p.step_in_run = static_cast<std::uint64_t>(trainer_->epochs_done());
        p.steps = static_cast<std::uint64_t>(options_.epochs);
        const double shared_loss =
          has_shared_ ? trainer_->result(shared_slot_).validation_loss : std::nan("");
        p.loss = std::isfinite(shared_loss) ? shared_loss : 0.0; // the shared model's validation loss
        const double t = seconds_since(start_time_);
        p.samples_per_second = t > 0 ? static_cast<double>(trainer_->rows_seen()) / t : 0;
        ctx_->report_progress(p);
      }
      return true;
    }
  }
  emit_fleet(out);
  end();
  return false;
}

void fleet_training::emit_fleet(emitter& out) {
  const double seconds = seconds_since(start_time_);
  compute::model_artifact a;
  a.spec = spec_;
  a.classes = spec_.objective == compute::task::regression ? 0
              : spec_.layers.back() == 1                  ? 2
                                                          : spec_.layers.back();
  a.weights = has_shared_ ? trainer_->parameters(shared_slot_)
                          : std::vector<float>(compute::parameter_count(spec_), 0.0f);
  a.preprocessing = data_.transform() ? *data_.transform() : preprocessing{};
  a.feature_columns = data_.feature_columns();
  a.input_columns = data_.input_columns();
  compute::model_fleet fleet;
  fleet.by = options_.by;
  fleet.unknown_key_shared = options_.unknown_key == "shared";
  fleet.min_rows = static_cast<std::uint64_t>(options_.min_rows);
  fleet.shared = has_shared_;
  std::vector<std::uint64_t> rows(data_.key_names().size(), 0);
  for (auto k : data_.keys())
    ++rows[k];
  std::size_t stopped_early = 0;
  const auto segment_metrics = [](const compute::fleet_slot_result& r) {
    std::map<std::string, double> m{{"loss", r.train_loss},
                                    {"epochs", static_cast<double>(r.epochs)},
                                    {"best_epoch", static_cast<double>(r.best_epoch)}};
    if (std::isfinite(r.validation_loss))
      m["validation_loss"] = r.validation_loss;
    return m;
  };
  for (std::size_t k = 0; k < data_.key_names().size(); ++k) {
    compute::fleet_segment seg;
    seg.key = data_.key_names()[k];
    seg.rows = rows[k];
    seg.own = own_slot_[k] != shared_slot_;
    if (seg.own) {
      const auto& r = trainer_->result(own_slot_[k]);
      seg.metrics = segment_metrics(r);
      stopped_early += r.stopped_early ? 1 : 0;
      auto w = trainer_->parameters(own_slot_[k]);
      fleet.weights.insert(fleet.weights.end(), w.begin(), w.end());
    }
    fleet.segments.push_back(std::move(seg));
  }
  // Every key's own feature histograms, for drift checks per key: its rows sampled to
  // at most key_histogram_rows, keys side by side on the cores.
  const auto histograms_start = clock_type::now();
  std::vector<std::vector<std::uint32_t>> rows_of(data_.key_names().size());
  for (std::uint32_t r = 0; r < data_.keys().size(); ++r)
    rows_of[data_.keys()[r]].push_back(r);
  fleet.distributions.resize(rows_of.size());
  compute::cpu::parallel_for(static_cast<int>(rows_of.size()), device_->threads(), [&](int k) {
    const auto& rows = rows_of[static_cast<std::size_t>(k)];
    fleet.distributions[static_cast<std::size_t>(k)] =
      compute::describe_rows(data_.feature_matrix().data(), rows.data(), rows.size(),
                             data_.feature_columns(), 10, key_histogram_rows);
  });
  const double histogram_seconds = seconds_since(histograms_start);
  const auto own_count = fleet.own_count();
  a.fleet = std::move(fleet);
  std::map<std::string, double> metrics;
  if (has_shared_)
    metrics = segment_metrics(trainer_->result(shared_slot_));
  metrics["segments"] = static_cast<double>(data_.key_names().size());
  metrics["own_models"] = static_cast<double>(own_count);
  metrics["stopped_early"] = static_cast<double>(stopped_early);
  if (warm_)
    metrics["warm_started"] = static_cast<double>(warm_keys_);
  metrics["train_seconds"] = seconds;
  metrics["histogram_seconds"] = histogram_seconds;
  metrics["models_per_second"] =
    seconds > 0 ? static_cast<double>(own_count + (has_shared_ ? 1 : 0)) / seconds : 0;
  metrics["samples_per_second"] = seconds > 0 ? static_cast<double>(trainer_->rows_seen()) / seconds : 0;
  emit_trained_model(std::move(a), metrics, options_, step_name_, data_, ctx_, out,
                     "fleet");
}

void fleet_training::end() {
  done_ = true;
  if (device_)
    device_->set_threads(threads_before_);
}

} // namespace conveyor
