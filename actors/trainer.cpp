#include "actors/trainer.hpp"

#include "actors/trained_model.hpp"

#include "actors/peer_collective.hpp"
#include "compute/backend_factory.hpp"
#include "compute/checkpoint.hpp"
#include "compute/model_file.hpp"
#include "compute/model_spec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <sched.h>

namespace conveyor {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// Device backends: the loss and the stop vote are read (a wait for the device) every
/// this many steps, at epoch ends and at the last step; host-memory backends read them
/// after every step, which costs nothing there.
constexpr std::uint64_t device_read_every = 16;

/// The start broadcast: '1' (stop: the run drained before training began) or '0'; the
/// group's device transport id (compute::make_device_group_id: rank 0's NCCL id for a
/// GPU group, else empty) as "<bytes>:<id>"; then what to resume from: nothing (start
/// afresh), 'p' and a checkpoint's path (`resume_from`), or 'b' and a checkpoint's bytes
/// (the group's own, from replica 0's durable state: no replica needs to see its files).
std::string start_message(bool stop, const std::string& group_id, char resume_kind,
                          const std::string& resume) {
  return (stop ? "1" : "0") + std::to_string(group_id.size()) + ":" + group_id +
         (resume.empty() ? std::string() : resume_kind + resume);
}

struct start_fields {
  bool stop = false;
  std::string group_id;
  /// 'p' (a path), 'b' (checkpoint bytes) or 0 (nothing).
  char resume_kind = 0;
  std::string resume;
};

start_fields parse_start_message(const std::string& m) {
  start_fields f;
  const auto colon = m.find(':');
  if (m.empty() || colon == std::string::npos)
    throw step_failure("trainer: replica 0 sent a malformed start message");
  f.stop = m[0] == '1';
  const auto size = std::stoull(m.substr(1, colon - 1));
  if (size > m.size() - colon - 1)
    throw step_failure("trainer: replica 0 sent a malformed start message");
  f.group_id = m.substr(colon + 1, size);
  const auto rest = colon + 1 + size;
  if (rest < m.size()) {
    f.resume_kind = m[rest];
    f.resume = m.substr(rest + 1);
  }
  return f;
}

std::string describe(const compute::model_spec& s) {
  std::string out = s.kind + " [";
  for (std::size_t i = 0; i < s.layers.size(); ++i)
    out += (i ? ", " : "") + std::to_string(s.layers[i]);
  return out + "] " + std::string(compute::to_string(s.hidden));
}

/// The summed energy counters (joules) of a GPU group's GPUs, or -1 when the group is
/// not on GPUs or a GPU has no reading (no NVML).
double group_energy_joules(const trainer_devices& d) {
  if (d.kind != "cuda")
    return -1;
  double sum = 0;
  for (int g : d.gpus) {
    const double j = compute::gpu_energy_joules(g);
    if (j < 0)
      return -1;
    sum += j;
  }
  return sum;
}

/// The cores this process may run on (its affinity mask: taskset, cpusets), which
/// hardware_concurrency does not see.
int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

} // namespace

trainer::trainer(trainer_options options, std::string step_name, int replica, int replicas)
    : options_(std::move(options)), step_name_(std::move(step_name)), replica_(replica),
      replicas_(std::max(1, replicas)),
      data_(options_.model != "linear", options_.implied_classes()) {
  if (sharded())
    data_.shard(replica_, replicas_);
}

trainer::~trainer() = default;

void trainer::open(step_context& ctx) {
  ctx_ = &ctx;
  if (auto s = ctx.load_state()) {
    std::istringstream in(*s);
    std::string key;
    while (in >> key) {
      if (key == "failures")
        in >> failures_;
      else if (key == "checkpoint")
        in >> checkpoint_step_;
      else if (key == "hangs")
        in >> hangs_;
      else if (key == "bytes") { // the checkpoint itself, to the end of the state
        std::size_t size = 0;
        in >> size;
        const auto at = static_cast<std::size_t>(in.tellg()) + 1; // past the newline
        if (!in || at + size != s->size())
          throw step_failure("trainer: its saved state is malformed (checkpoint bytes)");
        checkpoint_bytes_ = s->substr(at);
        break;
      }
    }
  }
  if (!options_.devices.cpu_fallback.empty() && replica_ == 0)
    ctx.log_info("devices = \"auto\": no GPU is usable (" + options_.devices.cpu_fallback +
                 "); training on one CPU replica");
  try {
    device_ = compute::make_backend(options_.devices.device_of(replica_), options_.precision);
  } catch (const std::invalid_argument& e) {
    throw step_failure(std::string("trainer: ") + e.what());
  }
  if (replicas_ > 1) {
    // Host messages first; a GPU group moves its all-reduces to the device transport
    // once rank 0's id has arrived (begin_training).
    auto peers = std::make_unique<peer_collective>(ctx, *device_, replica_, replicas_);
    peers_ = peers.get();
    host_collective_ = std::move(peers);
  } else {
    host_collective_ = compute::single_rank_collective();
  }
  collective_ = host_collective_.get();
}

void trainer::save_state() {
  if (!ctx_)
    return;
  // The checkpoint travels with the state (last, raw): a replica group placed on other
  // nodes after a node was lost resumes from it without a shared filesystem.
  ctx_->save_state("failures " + std::to_string(failures_) + "\ncheckpoint " +
                   std::to_string(checkpoint_step_) + "\nhangs " + std::to_string(hangs_) +
                   "\n" +
                   (checkpoint_bytes_.empty()
                      ? std::string()
                      : "bytes " + std::to_string(checkpoint_bytes_.size()) + "\n" +
                          checkpoint_bytes_));
}

void trainer::consume(std::size_t, batch b, emitter&) {
  data_.add(b); // a replay after the data was complete changes nothing
}

void trainer::finish(emitter&) {
  if (phase_ != phase::caching)
    return;
  if (sharded() && options_.batch < replicas_)
    throw step_failure("trainer: shard = true needs batch >= the replica count (" +
                       std::to_string(replicas_) + "): each replica takes batch / " +
                       std::to_string(replicas_) + " rows of its shard per step");
  data_.assemble();
  if (sharded() && ctx_) {
    std::uint64_t all = 0;
    for (int s = 0; s < replicas_; ++s)
      all += data_.shard_rows(s);
    ctx_->log_info("replica " + std::to_string(replica_) + " of " + std::to_string(replicas_) +
                   " holds its shard: " + std::to_string(data_.rows()) + " of " +
                   std::to_string(all) + " rows (row number sum " +
                   std::to_string(data_.row_number_sum()) + ")");
  }
  build_model();
  // A single replica takes every core while it trains, replicas one each (more would
  // oversubscribe them: cpu:2 with threaded BLAS in each ran at half the speed of
  // cpu:1). On the CPU the model splits each step's rows over its own threads, each
  // part's products single-threaded: OpenBLAS's threads would hand over every product
  // (measured: a quarter of the step's time in wake-ups). The backend's knob
  // (OpenBLAS's count, process-wide) goes back to what it was when training ends (an
  // inference server in the same process wants 1).
  const int cores = replicas_ > 1 ? 1 : usable_cores();
  model_->set_training_threads(cores);
  threads_before_ = device_->threads();
  threads_set_ = model_->training_threads() > 1 ? 1 : cores;
  device_->set_threads(threads_set_);
  if (replica_ == 0 && ctx_)
    ctx_->log_info(device_->describe());

  std::string resume;
  char resume_kind = 'p';
  if (replica_ == 0) {
    if (checkpoint_step_ > 0 && !checkpoint_bytes_.empty()) {
      resume = checkpoint_bytes_;
      resume_kind = 'b';
    } else if (checkpoint_step_ > 0) {
      resume = checkpoint_path(checkpoint_step_);
    } else {
      resume = options_.resume_from;
    }
  }
  const bool stop = replica_ == 0 && ctx_ && ctx_->stop_requested();
  const std::string group_id =
      replica_ == 0 ? compute::make_device_group_id(options_.devices.kind, replicas_) : "";
  collective_->start_broadcast(start_message(stop, group_id, resume_kind, resume));
  phase_ = phase::agreeing;
}

void trainer::build_model() {
  compute::model_spec spec;
  spec.kind = options_.model;
  const int f = static_cast<int>(data_.features());
  if (options_.model == "mlp" || !options_.layers.empty()) {
    spec.layers = options_.layers;
    if (spec.layers.empty() || spec.layers.front() != f)
      throw step_failure("trainer: layers[0] = " +
                         (spec.layers.empty() ? std::string("(none)")
                                              : std::to_string(spec.layers.front())) +
                         " but the data has " + std::to_string(f) +
                         " feature columns; set layers = [" + std::to_string(f) + ", ...]");
  } else if (options_.model == "linear") {
    spec.layers = {f, 1};
  } else if (options_.model == "logistic") {
    spec.layers = {f};
  } else { // softmax: classes from the labels (of every row, so shards agree)
    spec.layers = {f, std::max(2, static_cast<int>(data_.max_label()) + 1)};
  }
  auto act = compute::parse_activation(options_.activation);
  spec.hidden = act ? *act : compute::activation::relu;
  spec.seed = static_cast<std::uint64_t>(options_.seed);
  spec.weight_decay = static_cast<float>(options_.weight_decay);
  try {
    spec = compute::validate(spec);
    step_graph_.clear(); // its recordings name the old model's buffers
    model_ = std::make_unique<compute::model>(spec, *device_);
    compute::optimizer_spec os;
    os.kind = options_.optimizer == "adam" ? compute::optimizer_kind::adam
                                           : compute::optimizer_kind::sgd;
    os.learning_rate = static_cast<float>(options_.lr);
    os.momentum = static_cast<float>(options_.momentum);
    optimizer_ = std::make_unique<compute::optimizer>(os, model_->parameter_count(), *device_);
  } catch (const std::invalid_argument& e) {
    throw step_failure(std::string("trainer: ") + e.what());
  }
  if (model_->classes() > 0)
    for (float v : data_.labels())
      if (v >= static_cast<float>(model_->classes()))
        throw step_failure("trainer: a label " + std::to_string(v) +
                           " is not a class index in [0, " +
                           std::to_string(model_->classes()) + ")");

  const auto b = static_cast<std::uint64_t>(options_.batch);
  const auto rows = static_cast<std::uint64_t>(data_.rows());
  steps_per_epoch_ = (rows + b - 1) / b;
  if (sharded()) { // the longest shard decides; the others' last steps are short or empty
    steps_per_epoch_ = 0;
    for (int s = 0; s < replicas_; ++s) {
      const auto local = shard_batch(s);
      steps_per_epoch_ = std::max(steps_per_epoch_, (data_.shard_rows(s) + local - 1) / local);
    }
  }
  total_steps_ = steps_per_epoch_ * static_cast<std::uint64_t>(options_.epochs);
  const auto share = std::min(b, rows) / static_cast<std::uint64_t>(replicas_) + 1;
  model_->reserve(static_cast<int>(share));
  reserved_rows_ = static_cast<int>(share);
  epoch_loss_ = device_->allocate(1);
  if (!device_->host_memory() && rows < (1u << 24)) // row numbers exact as floats
    make_resident(static_cast<std::size_t>(share));
}

void trainer::make_resident(std::size_t share) {
  const std::size_t f = data_.features(), rows = data_.rows();
  try {
    resident_x_ = device_->allocate(rows * f);
    resident_y_ = device_->allocate(rows);
    resident_order_ = device_->allocate(rows);
    batch_x_ = device_->allocate(share * f);
    batch_y_ = device_->allocate(share);
  } catch (const std::runtime_error& e) { // the device's memory is full: per-step uploads
    for (auto* b : {&resident_x_, &resident_y_, &resident_order_, &batch_x_, &batch_y_})
      *b = compute::buffer();
    if (ctx_)
      ctx_->log_info(std::string("the dataset stays in host memory: ") + e.what());
    for (auto& u : uploads_) {
      u.x = device_->allocate(share * f);
      u.y = device_->allocate(share);
    }
    return;
  }
  device_->copy_from_host(resident_x_.data(), data_.feature_matrix().data(), rows * f);
  device_->copy_from_host(resident_y_.data(), data_.labels().data(), rows);
  resident_ = true;
}

bool trainer::blocked() const {
  if (hung_)
    return true;
  if (phase_ == phase::agreeing || (phase_ == phase::training && in_flight_))
    return !collective_->ready();
  return false;
}

void trainer::consume_peer(peer_message m) {
  if (peers_)
    peers_->deliver(std::move(m));
}

bool trainer::begin_training() {
  collective_->complete();
  const auto start = parse_start_message(collective_->broadcast_result());
  if (start.stop) {
    if (replica_ == 0 && ctx_)
      ctx_->log_warning("drained before training began: no checkpoint, no model");
    end();
    return false;
  }
  if (!start.group_id.empty()) {
    try {
      device_collective_ = compute::make_device_collective(
          *host_collective_, start.group_id, replica_, replicas_, *device_,
          std::chrono::milliseconds(options_.collective_timeout_ms));
    } catch (const std::exception& e) {
      throw step_failure(std::string("trainer: joining the GPU group: ") + e.what());
    }
    collective_ = device_collective_.get();
  }
  if (start.resume_kind == 'p')
    load_checkpoint(compute::checkpoint_file::load(start.resume), "'" + start.resume + "'");
  else if (start.resume_kind == 'b')
    load_checkpoint(compute::checkpoint_file::decode(start.resume),
                    "of step " + std::to_string(checkpoint_step_) + " (from the saved state)");
  phase_ = phase::training;
  start_time_ = clock_type::now();
  waiting_since_ = start_time_; // a device transport may still be joining
  if (replica_ == 0)
    energy_start_ = group_energy_joules(options_.devices);
  return true;
}

bool trainer::produce(emitter& out) {
  if (phase_ == phase::caching || phase_ == phase::done)
    return false;
  if (phase_ == phase::agreeing) {
    if (!collective_->ready())
      return true; // blocked() until rank 0's start message arrives
    if (!begin_training())
      return false;
  }
  const auto slice_start = clock_type::now();
  while (true) {
    if (!in_flight_) {
      if (step_ >= total_steps_) {
        emit_model(out);
        end();
        return false;
      }
      if (!collective_->ready())
        return true; // a device transport still joining its group
      start_step();
      if (hung_)
        return true; // blocked() from now on
    }
    if (!collective_->ready())
      return true; // blocked() until the peers' parts arrive
    finish_step();
    if (stop_ && step_ < total_steps_) { // a drain at the last step: the model is final
      stop_on_drain();
      return false;
    }
    if (step_ % steps_per_epoch_ == 0) {
      const auto epochs_done = step_ / steps_per_epoch_;
      if (options_.emit_every > 0 && step_ < total_steps_ &&
          epochs_done % static_cast<std::uint64_t>(options_.emit_every) == 0) {
        emit_model(out); // an intermediate model; the slice ends so that it goes out now
        return true;
      }
    }
    if (options_.checkpoint_every > 0 && replica_ == 0 &&
        step_ % static_cast<std::uint64_t>(options_.checkpoint_every) == 0 &&
        step_ < total_steps_)
      write_checkpoint(true);
    if (seconds_since(slice_start) > 0.04) {
      report_progress();
      return true;
    }
  }
}

void trainer::start_step() {
  if (replica_ == 0 && options_.fail_at_step > 0 &&
      step_ + 1 == static_cast<std::uint64_t>(options_.fail_at_step) &&
      failures_ < options_.fail_times) {
    ++failures_;
    save_state();
    throw step_failure("trainer: injected failure at step " + std::to_string(step_ + 1) +
                       " (fail_at_step)");
  }
  if (replica_ == replicas_ - 1 && replicas_ > 1 && options_.hang_at_step > 0 &&
      step_ + 1 == static_cast<std::uint64_t>(options_.hang_at_step) && hangs_ == 0) {
    ++hangs_;
    save_state();
    hung_ = true;
    if (ctx_)
      ctx_->log_warning("trainer: injected hang at step " + std::to_string(step_ + 1) +
                        " (hang_at_step): this replica no longer takes part");
    return;
  }
  const std::uint64_t epoch = step_ / steps_per_epoch_;
  const std::uint64_t s = step_ % steps_per_epoch_;
  const auto gb = static_cast<std::uint64_t>(options_.batch);
  const auto begin = static_cast<std::size_t>(s * gb);
  const auto end = static_cast<std::size_t>(std::min<std::uint64_t>((s + 1) * gb, data_.rows()));
  std::size_t n = end > begin ? end - begin : 0;
  const auto r = static_cast<std::size_t>(replica_);
  const auto count = static_cast<std::size_t>(replicas_);
  std::size_t lo = begin + n * r / count;
  std::size_t hi = begin + n * (r + 1) / count;
  if (sharded()) { // rows [s b_r, (s + 1) b_r) of this shard's order; n: the step's rows
    auto slice = [&](int shard) {
      const auto local = shard_batch(shard);
      const auto held = data_.shard_rows(shard);
      const auto from = std::min<std::uint64_t>(s * local, held);
      return std::make_pair(from, std::min<std::uint64_t>(from + local, held));
    };
    n = 0;
    for (int shard = 0; shard < replicas_; ++shard) {
      const auto [from, to] = slice(shard);
      n += static_cast<std::size_t>(to - from);
    }
    const auto [from, to] = slice(replica_);
    lo = static_cast<std::size_t>(from);
    hi = static_cast<std::size_t>(to);
  }
  data_.shuffle_for(epoch, options_.seed);
  if (hi > lo) {
    const int rows = static_cast<int>(hi - lo);
    // weighted by this replica's share: the all-reduce's sum is the batch's mean
    const auto weight = static_cast<float>(static_cast<double>(hi - lo) / n);
    try {
      if (resident_) {
        if (resident_epoch_ != static_cast<std::int64_t>(epoch)) {
          const auto& order = data_.order();
          order_floats_.assign(order.begin(), order.end());
          device_->copy_from_host(resident_order_.data(), order_floats_.data(), order.size());
          resident_epoch_ = static_cast<std::int64_t>(epoch);
        }
        const int f = static_cast<int>(data_.features());
        device_->gather_rows(rows, f, resident_x_.data(), resident_order_.data() + lo,
                             batch_x_.data());
        device_->gather_rows(rows, 1, resident_y_.data(), resident_order_.data() + lo,
                             batch_y_.data());
        device_gradients(batch_x_.data(), batch_y_.data(), rows, weight);
      } else if (!uploads_[0].x.empty()) { // rows uploaded while the last step computes
        data_.gather(lo, hi, xb_, yb_);
        auto& pair = uploads_[step_ % uploads_.size()];
        device_->copy_from_host_after(pair.read_by, pair.x.data(), xb_.data(), xb_.size());
        device_->copy_from_host_after(pair.read_by, pair.y.data(), yb_.data(), yb_.size());
        device_gradients(pair.x.data(), pair.y.data(), rows, weight);
        pair.read_by = device_->mark();
      } else {
        // A lone replica's all-reduce changes nothing: the update joins the gradient
        // pass (the weights swept once per step, not twice), and the model's threads
        // gather the minibatch's rows themselves.
        applied_ = replicas_ == 1;
        if (applied_) {
          model_->compute_gradients_and_apply(data_.feature_matrix().data(),
                                              data_.labels().data(), data_.order().data() + lo,
                                              rows, *optimizer_);
        } else {
          data_.gather(lo, hi, xb_, yb_);
          model_->compute_gradients(xb_.data(), yb_.data(), rows, weight);
        }
      }
    } catch (const std::invalid_argument& e) {
      throw step_failure(std::string("trainer: ") + e.what());
    }
  } else {
    device_->fill(model_->gradients(), 0.0f, model_->parameter_count() + 1);
  }
  const bool stop = ctx_ && ctx_->stop_requested();
  device_->fill(model_->spare_slot(), stop ? 1.0f : 0.0f, 1);
  collective_->start_all_reduce(model_->gradients(), model_->reduction_size());
  waiting_since_ = clock_type::now();
  step_rows_ = n;
  in_flight_ = true;
}

void trainer::device_gradients(const float* x, const float* y, int rows, float weight) {
  if (rows > reserved_rows_) { // the model's workspace moves: recordings name the old one
    model_->reserve(rows);
    reserved_rows_ = rows;
    step_graph_.clear();
  }
  const auto body = [&] { model_->compute_gradients_in_backend(x, y, rows, weight); };
  if (!options_.cuda_graphs) {
    body();
    return;
  }
  std::uint32_t weight_bits = 0;
  std::memcpy(&weight_bits, &weight, sizeof weight_bits);
  const compute::replayed_step::key key{reinterpret_cast<std::uintptr_t>(x),
                                        reinterpret_cast<std::uintptr_t>(y),
                                        static_cast<std::uintptr_t>(rows),
                                        weight_bits,
                                        reinterpret_cast<std::uintptr_t>(model_->parameters()),
                                        reinterpret_cast<std::uintptr_t>(model_->gradients())};
  const auto failures_before = step_graph_.failures();
  step_graph_.run(*device_, key, body);
  if (ctx_ && step_graph_.failures() != failures_before)
    ctx_->log_info("trainer: this step shape runs without a CUDA graph: " +
                   step_graph_.last_failure());
}

void trainer::consume_model(std::size_t, model_message m, emitter&) {
  warn_retrain_ignored(ctx_, m, retrain_warned_);
}

void trainer::tick() {
  if (phase_ != phase::training || hung_ || collective_->ready())
    return;
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      clock_type::now() - waiting_since_);
  if (waited.count() < options_.collective_timeout_ms)
    return;
  collective_->abort();
  const std::string what = in_flight_ ? "the all-reduce of step " + std::to_string(step_ + 1)
                                      : std::string("joining the GPU group");
  throw step_failure("trainer: " + what + " did not complete within " +
                     std::to_string(options_.collective_timeout_ms) +
                     " ms (collective_timeout): a replica is hung or gone; the group's "
                     "collective is aborted and the group restarts from its last checkpoint");
}

void trainer::finish_step() {
  try {
    collective_->complete();
  } catch (const std::runtime_error& e) {
    throw step_failure(std::string("trainer: ") + e.what());
  }
  in_flight_ = false;
  if (!applied_) model_->apply(*optimizer_);
  applied_ = false;
  ++step_;
  samples_ += step_rows_;
  device_->axpy(1, static_cast<float>(step_rows_), model_->loss_slot(), epoch_loss_.data());
  epoch_rows_ += static_cast<double>(step_rows_);
  const bool epoch_end = step_ % steps_per_epoch_ == 0;
  if (device_->host_memory() || step_ % device_read_every == 0 || epoch_end ||
      step_ == total_steps_)
    read_results(epoch_end);
}

void trainer::read_results(bool epoch_end) {
  float slots[2] = {0, 0}; // loss, stop votes
  device_->copy_to_host(slots, model_->loss_slot(), 2);
  if (!std::isfinite(slots[0]))
    throw step_failure("training diverged: loss became NaN at epoch " +
                       std::to_string((step_ - 1) / steps_per_epoch_ + 1) + ", step " +
                       std::to_string(step_) + " (lower lr?)");
  last_loss_ = slots[0];
  stop_ = stop_ || slots[1] > 0;
  if (epoch_end) {
    last_epoch_loss_ = epoch_loss_so_far();
    device_->fill(epoch_loss_.data(), 0.0f, 1);
    epoch_rows_ = 0;
  }
}

double trainer::epoch_loss_so_far() {
  float sum = 0;
  device_->copy_to_host(&sum, epoch_loss_.data(), 1);
  return static_cast<double>(sum) / std::max(1.0, epoch_rows_);
}

void trainer::report_progress() {
  if (replica_ != 0 || !ctx_)
    return;
  progress_info p;
  p.step = step_name_;
  p.epoch = static_cast<int>(step_ / steps_per_epoch_) + (step_ < total_steps_ ? 1 : 0);
  p.epochs = static_cast<int>(options_.epochs);
  p.step_in_run = step_;
  p.steps = total_steps_;
  p.loss = last_loss_;
  const double t = seconds_since(start_time_);
  p.samples_per_second = t > 0 ? static_cast<double>(samples_) / t : 0;
  ctx_->report_progress(p);
}

compute::model_artifact trainer::artifact() const {
  auto a = compute::make_artifact(*model_);
  a.preprocessing = data_.transform() ? *data_.transform() : preprocessing{};
  a.feature_columns = data_.feature_columns();
  a.input_columns = data_.input_columns();
  return a;
}

std::string trainer::checkpoint_path(std::uint64_t step) const {
  return options_.checkpoint_dir + "/" + std::to_string(step) + ".ckpt";
}

void trainer::write_checkpoint(bool prune) {
  compute::checkpoint c;
  c.model = artifact();
  c.optimizer = optimizer_->state();
  c.step = step_;
  c.epoch = step_ / steps_per_epoch_;
  const auto path = checkpoint_path(step_);
  try {
    compute::checkpoint_file::save(path, c);
    checkpoint_bytes_ = compute::checkpoint_file::encode(c);
  } catch (const std::exception& e) {
    throw step_failure(std::string("trainer: cannot write checkpoint: ") + e.what());
  }
  checkpoint_step_ = step_;
  save_state();
  // keep the newest two checkpoints of this run
  const auto every = static_cast<std::uint64_t>(options_.checkpoint_every);
  if (prune && step_ > 2 * every) {
    std::error_code ec;
    std::filesystem::remove(checkpoint_path(step_ - 2 * every), ec);
  }
}

void trainer::load_checkpoint(const decoded<compute::checkpoint>& c, const std::string& path) {
  if (!c)
    throw step_failure("trainer: checkpoint unusable: " + c.error);
  if (!(c.value->model.spec == model_->spec()))
    throw step_failure("trainer: checkpoint " + path + " holds another model (" +
                       describe(c.value->model.spec) + "; this trainer builds " +
                       describe(model_->spec()) + ")");
  try {
    model_->set_parameters(c.value->model.weights.data(), c.value->model.weights.size());
    optimizer_->load_state(c.value->optimizer);
  } catch (const std::invalid_argument& e) {
    throw step_failure("trainer: checkpoint " + path + " is unusable: " + e.what());
  }
  step_ = c.value->step;
  resumed_from_ = step_;
  if (ctx_ && replica_ == 0)
    ctx_->log_info("resuming from checkpoint " + path + " (epoch " +
                   std::to_string(c.value->epoch + 1) + ", step " + std::to_string(step_) + ")");
}

void trainer::stop_on_drain() {
  if (replica_ == 0) {
    std::string where = "no checkpoint (no step was taken)";
    if (step_ > resumed_from_) {
      write_checkpoint(false);
      where = "checkpoint '" + checkpoint_path(step_) + "' written (resume_from continues it)";
    }
    if (ctx_) {
      ctx_->log_warning("drained at step " + std::to_string(step_) + " of " +
                        std::to_string(total_steps_) + ": " + where +
                        "; no model emitted (it is not fully trained)");
      ctx_->report_metrics({{"steps", static_cast<double>(step_)},
                            {"stopped_at_step", static_cast<double>(step_)},
                            {"resumed_from_step", static_cast<double>(resumed_from_)}});
    }
  }
  end();
}

void trainer::end() {
  phase_ = phase::done;
  if (device_->threads() == threads_set_) // nobody else changed it meanwhile
    device_->set_threads(threads_before_);
}

void trainer::emit_model(emitter& out) {
  const double t = seconds_since(start_time_);
  if (replica_ != 0)
    return;
  if (epoch_rows_ > 0) // the last epoch was cut short: report what it has
    last_epoch_loss_ = epoch_loss_so_far();
  std::map<std::string, double> metrics;
  metrics["loss"] = last_epoch_loss_;
  metrics["steps"] = static_cast<double>(step_);
  metrics["epochs"] = static_cast<double>(step_ / steps_per_epoch_);
  metrics["samples_per_second"] = t > 0 ? static_cast<double>(samples_) / t : 0;
  metrics["resumed_from_step"] = static_cast<double>(resumed_from_);
  if (const double now = group_energy_joules(options_.devices); energy_start_ >= 0 && now >= 0) {
    const double joules = now - energy_start_;
    metrics["gpu_joules"] = joules;
    if (joules > 0)
      metrics["samples_per_joule"] = static_cast<double>(samples_) / joules;
  }
  emit_trained_model(artifact(), metrics, options_, step_name_, data_, ctx_, out,
                     "model");
}

} // namespace conveyor
