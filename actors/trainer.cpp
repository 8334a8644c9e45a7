#include "actors/trainer.hpp"

#include "base/atomic_file.hpp"

#include "compute/cpu/cpu_backend.hpp"
#include "compute/model_file.hpp"
#include "compute/model_spec.hpp"
#include "actors/kind_schema_builder.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace conveyor {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::uint64_t resume_tag = std::numeric_limits<std::uint64_t>::max();
constexpr const char* checkpoint_magic = "conveyor-checkpoint-1\n";

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_u64(const std::string& s, std::size_t& pos, std::uint64_t& v) {
  if (pos + 8 > s.size())
    return false;
  v = 0;
  for (int i = 0; i < 8; ++i)
    v |= std::uint64_t{static_cast<unsigned char>(s[pos + static_cast<std::size_t>(i)])} << (8 * i);
  pos += 8;
  return true;
}

/// The raw columns a preprocessing expects, derived from the model's feature columns:
/// one-hot outputs `col=value` fold back into `col` (dropped columns are not needed).
std::vector<std::string> raw_columns(const std::vector<std::string>& features,
                                     const preprocessing* p) {
  std::vector<std::string> out = features;
  if (!p)
    return out;
  for (auto it = p->ops.rbegin(); it != p->ops.rend(); ++it) {
    if (it->op != column_op::kind::one_hot)
      continue;
    auto prefix = it->column + "=";
    std::vector<std::string> next;
    bool placed = false;
    for (auto& c : out) {
      if (c.compare(0, prefix.size(), prefix) == 0) {
        if (!placed)
          next.push_back(it->column);
        placed = true;
      } else {
        next.push_back(c);
      }
    }
    out = std::move(next);
  }
  return out;
}

} // namespace

int parse_devices(const std::string& devices) {
  if (devices.rfind("gpu", 0) == 0 || devices.rfind("cuda", 0) == 0)
    throw step_failure("trainer: devices = \"" + devices +
                       "\": GPU training is not built in this build (use \"cpu:N\")");
  if (devices.rfind("cpu:", 0) != 0)
    throw step_failure("trainer: devices must look like \"cpu:N\", got \"" + devices + "\"");
  auto n = devices.substr(4);
  if (n.empty() || n.size() > 3 || !std::all_of(n.begin(), n.end(), [](char c) {
        return c >= '0' && c <= '9';
      }))
    throw step_failure("trainer: devices must look like \"cpu:N\", got \"" + devices + "\"");
  int v = std::stoi(n);
  if (v < 1 || v > 256)
    throw step_failure("trainer: devices \"" + devices + "\": N must be in 1..256");
  return v;
}

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
  o.replicas = parse_devices(params.get_string("devices"));
  o.checkpoint_every = params.get_integer("checkpoint_every");
  if (o.checkpoint_every < 0)
    throw step_failure("trainer: 'checkpoint_every' must be >= 0");
  o.checkpoint_dir = params.get_string("checkpoint_dir");
  o.name = params.get_string("name");
  o.fail_at_step = params.get_integer("fail_at_step");
  o.fail_times = params.get_integer("fail_times");
  return o;
}

trainer::trainer(trainer_options options, std::string step_name, int replica, int replicas)
    : options_(std::move(options)), step_name_(std::move(step_name)), replica_(replica),
      replicas_(std::max(1, replicas)) {
  classifier_ = options_.model != "linear";
  if (options_.model == "logistic")
    classes_known_ = 2;
  else if (options_.model == "softmax" && options_.layers.size() == 2)
    classes_known_ = options_.layers[1];
  else if (options_.model == "mlp" && !options_.layers.empty())
    classes_known_ = options_.layers.back() == 1 ? 2 : options_.layers.back();
}

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
    }
  }
}

void trainer::save_state() {
  if (!ctx_)
    return;
  ctx_->save_state("failures " + std::to_string(failures_) + "\ncheckpoint " +
                   std::to_string(checkpoint_step_) + "\n");
}

void trainer::consume(std::size_t, batch b, emitter&) {
  if (finished_)
    return; // a replay after the data was complete changes nothing
  if (!b.schema || b.rows == 0)
    return;
  const auto& cols = b.schema->columns;
  std::vector<std::size_t> feature_slots;
  std::vector<std::string> names;
  std::size_t label_slot = SIZE_MAX;
  std::size_t k = 0;
  for (const auto& c : cols) {
    if (c.kind == column_kind::categorical)
      throw step_failure("trainer: column '" + c.name +
                         "' is categorical; one_hot it (cleaner) or drop it before training");
    if (c.kind == column_kind::label) {
      if (label_slot == SIZE_MAX)
        label_slot = k;
    } else {
      feature_slots.push_back(k);
      names.push_back(c.name);
    }
    ++k;
  }
  if (label_slot == SIZE_MAX)
    throw step_failure("trainer: the input has no label column");
  if (feature_slots.empty())
    throw step_failure("trainer: the input has no numeric feature columns");
  if (feature_columns_.empty())
    feature_columns_ = names;
  else if (feature_columns_ != names)
    throw step_failure("trainer: batch " + std::to_string(b.sequence) + " from '" + b.source +
                       "' has other feature columns than the first batch");
  if (!transform_ && b.transform)
    transform_ = b.transform;
  if (data_source_.empty())
    data_source_ = b.source;

  cached c;
  c.first_row = b.first_row;
  c.rows = b.rows;
  const std::size_t f = feature_slots.size();
  c.x.resize(std::size_t{b.rows} * f);
  for (std::size_t j = 0; j < f; ++j) {
    const float* col = b.float_column(feature_slots[j]);
    for (std::size_t i = 0; i < b.rows; ++i) {
      float v = col[i];
      if (!std::isfinite(v))
        throw step_failure("trainer: row " + std::to_string(b.first_row + i) + ", column '" +
                           names[j] + "': feature is " + (std::isnan(v) ? "NaN (missing)" : "infinite") +
                           " (impute or drop missing values in a cleaner)");
      c.x[i * f + j] = v;
    }
  }
  const float* lab = b.float_column(label_slot);
  c.y.assign(lab, lab + b.rows);
  for (std::size_t i = 0; i < b.rows; ++i) {
    float v = c.y[i];
    if (!std::isfinite(v))
      throw step_failure("trainer: row " + std::to_string(b.first_row + i) +
                         ": the label is missing or not finite");
    if (classifier_) {
      bool bad = v < 0 || v != std::floor(v) || (classes_known_ > 0 && v >= classes_known_);
      if (bad)
        throw step_failure("trainer: row " + std::to_string(b.first_row + i) + ": label " +
                           std::to_string(v) + " is not a class index in [0, " +
                           (classes_known_ > 0 ? std::to_string(classes_known_) : "classes") +
                           ")");
    }
  }
  cache_[{b.source, b.sequence}] = std::move(c);
}

void trainer::finish(emitter&) {
  if (finished_)
    return;
  finished_ = true;
  // BLAS threads are process-wide. Replicas already use the cores side by side:
  // threaded BLAS in each would oversubscribe them (measured: cpu:2 ran at half the
  // speed of cpu:1). A single replica takes every core while it trains, and gives the
  // setting back when done (an inference server in the same process wants 1).
  blas_threads_before_ = compute::blas_threads();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  blas_threads_set_ = replicas_ > 1 ? 1 : cores;
  compute::set_blas_threads(blas_threads_set_);
  prepare();
}

void trainer::prepare() {
  features_ = feature_columns_.size();
  rows_ = 0;
  for (const auto& [key, c] : cache_)
    rows_ += c.rows;
  if (rows_ == 0)
    throw step_failure("trainer: no rows to train on");
  if (rows_ > std::numeric_limits<std::uint32_t>::max())
    throw step_failure("trainer: too many rows to cache");
  x_.reserve(rows_ * features_);
  y_.reserve(rows_);
  for (auto& [key, c] : cache_) {
    x_.insert(x_.end(), c.x.begin(), c.x.end());
    y_.insert(y_.end(), c.y.begin(), c.y.end());
  }
  cache_.clear();

  compute::model_spec spec;
  spec.kind = options_.model;
  const int f = static_cast<int>(features_);
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
  } else { // softmax: classes from the labels
    float mx = 0;
    for (float v : y_)
      mx = std::max(mx, v);
    spec.layers = {f, std::max(2, static_cast<int>(mx) + 1)};
  }
  auto act = compute::parse_activation(options_.activation);
  spec.hidden = act ? *act : compute::activation::relu;
  spec.seed = static_cast<std::uint64_t>(options_.seed);
  spec.weight_decay = static_cast<float>(options_.weight_decay);
  try {
    spec = compute::validate(spec);
    model_ = std::make_unique<compute::model>(spec);
    compute::optimizer_spec os;
    os.kind = options_.optimizer == "adam" ? compute::optimizer_kind::adam
                                           : compute::optimizer_kind::sgd;
    os.learning_rate = static_cast<float>(options_.lr);
    os.momentum = static_cast<float>(options_.momentum);
    optimizer_ = std::make_unique<compute::optimizer>(os, model_->parameter_count());
  } catch (const std::invalid_argument& e) {
    throw step_failure(std::string("trainer: ") + e.what());
  }
  if (model_->classes() > 0)
    for (std::size_t i = 0; i < rows_; ++i)
      if (y_[i] >= static_cast<float>(model_->classes()))
        throw step_failure("trainer: a label " + std::to_string(y_[i]) +
                           " is not a class index in [0, " +
                           std::to_string(model_->classes()) + ")");

  const auto b = static_cast<std::uint64_t>(options_.batch);
  steps_per_epoch_ = (rows_ + b - 1) / b;
  total_steps_ = steps_per_epoch_ * static_cast<std::uint64_t>(options_.epochs);
  model_->reserve(static_cast<int>(std::min<std::uint64_t>(b, rows_) / replicas_ + 1));
  local_.assign(model_->parameter_count() + 1, 0.0f);

  if (replica_ == 0) {
    resume_step_ = checkpoint_step_;
    resume_known_ = true;
    if (replicas_ > 1 && ctx_) {
      auto v = std::make_shared<std::vector<float>>();
      v->push_back(static_cast<float>(resume_step_ & 0xffff));
      v->push_back(static_cast<float>((resume_step_ >> 16) & 0xffff));
      v->push_back(static_cast<float>((resume_step_ >> 32) & 0xffff));
      ctx_->send_to_peers(resume_tag, std::move(v));
    }
  }
}

bool trainer::blocked() const {
  if (!finished_ || done_)
    return false;
  if (!started_)
    return !resume_known_;
  if (replicas_ > 1 && local_sent_) {
    auto it = peers_.find(step_);
    return it == peers_.end() || it->second.count < replicas_ - 1;
  }
  return false;
}

void trainer::consume_peer(peer_message m) {
  if (!m.data)
    return;
  if (m.tag == resume_tag) {
    const auto& d = *m.data;
    if (d.size() >= 3)
      resume_step_ = static_cast<std::uint64_t>(d[0]) | (static_cast<std::uint64_t>(d[1]) << 16) |
                     (static_cast<std::uint64_t>(d[2]) << 32);
    resume_known_ = true;
    return;
  }
  if (m.from_replica < 0 || m.from_replica >= replicas_)
    return;
  auto& p = peers_[m.tag];
  if (p.parts.empty())
    p.parts.resize(static_cast<std::size_t>(replicas_));
  auto& slot = p.parts[static_cast<std::size_t>(m.from_replica)];
  if (!slot)
    ++p.count;
  slot = std::move(m.data);
}

void trainer::shuffle_epoch(std::uint64_t epoch) {
  order_.resize(rows_);
  std::iota(order_.begin(), order_.end(), 0u);
  std::seed_seq seq{static_cast<std::uint32_t>(options_.seed),
                    static_cast<std::uint32_t>(static_cast<std::uint64_t>(options_.seed) >> 32),
                    static_cast<std::uint32_t>(epoch)};
  std::mt19937_64 rng(seq);
  // Fisher-Yates with our own index draw (std::shuffle's is implementation-defined).
  for (std::size_t i = rows_; i > 1; --i) {
    auto j = static_cast<std::size_t>(rng() % i);
    std::swap(order_[i - 1], order_[j]);
  }
  shuffled_epoch_ = static_cast<std::int64_t>(epoch);
}

bool trainer::produce(emitter& out) {
  if (!finished_ || done_)
    return false;
  if (!started_) {
    if (!resume_known_)
      return true;
    if (resume_step_ > 0)
      load_checkpoint(resume_step_);
    step_ = resume_step_;
    resumed_from_ = resume_step_;
    started_ = true;
    start_time_ = clock_type::now();
  }
  const auto slice_start = clock_type::now();
  const std::size_t np = model_->parameter_count();
  while (true) {
    if (step_ >= total_steps_) {
      emit_model(out);
      done_ = true;
      if (compute::blas_threads() == blas_threads_set_) // nobody else changed it meanwhile
        compute::set_blas_threads(blas_threads_before_);
      return false;
    }
    const std::uint64_t epoch = step_ / steps_per_epoch_;
    const std::uint64_t s = step_ % steps_per_epoch_;
    const std::uint64_t gb = static_cast<std::uint64_t>(options_.batch);
    const std::size_t begin = static_cast<std::size_t>(s * gb);
    const std::size_t end = static_cast<std::size_t>(std::min<std::uint64_t>((s + 1) * gb, rows_));
    const std::size_t n = end - begin;
    if (!local_sent_) {
      if (replica_ == 0 && options_.fail_at_step > 0 &&
          step_ + 1 == static_cast<std::uint64_t>(options_.fail_at_step) &&
          failures_ < options_.fail_times) {
        ++failures_;
        save_state();
        throw step_failure("trainer: injected failure at step " + std::to_string(step_ + 1) +
                           " (fail_at_step)");
      }
      if (shuffled_epoch_ != static_cast<std::int64_t>(epoch))
        shuffle_epoch(epoch);
      const std::size_t lo = begin + n * static_cast<std::size_t>(replica_) / replicas_;
      const std::size_t hi = begin + n * static_cast<std::size_t>(replica_ + 1) / replicas_;
      const std::size_t share = hi - lo;
      if (share > 0) {
        xb_.resize(share * features_);
        yb_.resize(share);
        for (std::size_t i = 0; i < share; ++i) {
          auto r = order_[lo + i];
          std::memcpy(xb_.data() + i * features_, x_.data() + std::size_t{r} * features_,
                      features_ * sizeof(float));
          yb_[i] = y_[r];
        }
        float loss = 0;
        try {
          loss = model_->compute_gradients(xb_.data(), yb_.data(), static_cast<int>(share));
        } catch (const std::invalid_argument& e) {
          throw step_failure(std::string("trainer: ") + e.what());
        }
        const float* g = model_->gradients();
        const float w = static_cast<float>(share);
        for (std::size_t i = 0; i < np; ++i)
          local_[i] = g[i] * w;
        local_[np] = loss * w;
      } else {
        std::fill(local_.begin(), local_.end(), 0.0f);
      }
      if (replicas_ > 1 && ctx_)
        ctx_->send_to_peers(step_, std::make_shared<std::vector<float>>(local_));
      local_sent_ = true;
    }
    if (replicas_ > 1) {
      auto it = peers_.find(step_);
      if (it == peers_.end() || it->second.count < replicas_ - 1)
        return true; // blocked() until the peers' gradients arrive
      // sum in replica order, so every replica computes bit-identical updates
      sum_.assign(np + 1, 0.0f);
      for (int r = 0; r < replicas_; ++r) {
        const std::vector<float>& part =
          r == replica_ ? local_ : *it->second.parts[static_cast<std::size_t>(r)];
        if (part.size() != np + 1)
          throw step_failure("trainer: a peer sent a gradient of the wrong size");
        for (std::size_t i = 0; i <= np; ++i)
          sum_[i] += part[i];
      }
      peers_.erase(it);
    } else {
      sum_ = local_;
    }
    const float inv = 1.0f / static_cast<float>(n);
    const double loss = static_cast<double>(sum_[np]) / static_cast<double>(n);
    if (!std::isfinite(loss))
      throw step_failure("training diverged: loss became NaN at epoch " +
                         std::to_string(epoch + 1) + ", step " + std::to_string(step_ + 1) +
                         " (lower lr?)");
    float* g = model_->gradients();
    for (std::size_t i = 0; i < np; ++i)
      g[i] = sum_[i] * inv;
    optimizer_->step(model_->parameters(), model_->gradients());
    ++step_;
    local_sent_ = false;
    samples_ += n;
    last_loss_ = loss;
    epoch_loss_sum_ += loss * static_cast<double>(n);
    epoch_rows_ += static_cast<double>(n);
    if (step_ % steps_per_epoch_ == 0) {
      last_epoch_loss_ = epoch_loss_sum_ / std::max(1.0, epoch_rows_);
      epoch_loss_sum_ = 0;
      epoch_rows_ = 0;
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
      write_checkpoint();
    if (seconds_since(slice_start) > 0.04) {
      if (replica_ == 0 && ctx_) {
        progress_info p;
        p.step = step_name_;
        p.epoch = static_cast<int>(step_ / steps_per_epoch_) + (step_ < total_steps_ ? 1 : 0);
        p.epochs = static_cast<int>(options_.epochs);
        p.step_in_run = step_;
        p.steps = total_steps_;
        p.loss = last_loss_;
        double t = seconds_since(start_time_);
        p.samples_per_second = t > 0 ? static_cast<double>(samples_) / t : 0;
        ctx_->report_progress(p);
      }
      return true;
    }
  }
}

void trainer::write_checkpoint() {
  auto a = compute::make_artifact(*model_);
  a.preprocessing = transform_ ? *transform_ : preprocessing{};
  a.feature_columns = feature_columns_;
  a.input_columns = raw_columns(feature_columns_, transform_.get());
  std::string m = compute::model_file::encode(a);
  std::string o = compute::encode_optimizer_state(optimizer_->state());
  std::string bytes = checkpoint_magic;
  put_u64(bytes, m.size());
  bytes += m;
  put_u64(bytes, o.size());
  bytes += o;
  put_u64(bytes, step_ / steps_per_epoch_);
  put_u64(bytes, step_);
  auto path = options_.checkpoint_dir + "/" + std::to_string(step_) + ".ckpt";
  try {
    std::filesystem::create_directories(options_.checkpoint_dir);
    write_file_atomically(path, bytes);
  } catch (const std::exception& e) { // filesystem_error is a runtime_error too
    throw step_failure(std::string("trainer: cannot write checkpoint: ") + e.what());
  }
  checkpoint_step_ = step_;
  save_state();
  // keep the newest two checkpoints of this run
  const auto every = static_cast<std::uint64_t>(options_.checkpoint_every);
  if (step_ > 2 * every) {
    std::error_code ec;
    std::filesystem::remove(options_.checkpoint_dir + "/" + std::to_string(step_ - 2 * every) +
                              ".ckpt",
                            ec);
  }
}

void trainer::load_checkpoint(std::uint64_t step) {
  auto path = options_.checkpoint_dir + "/" + std::to_string(step) + ".ckpt";
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw step_failure("trainer: cannot read checkpoint '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string bytes = ss.str();
  const std::string magic = checkpoint_magic;
  std::size_t pos = magic.size();
  std::uint64_t len = 0, epoch = 0, at = 0;
  auto bad = [&](const std::string& why) {
    return step_failure("trainer: checkpoint '" + path + "' is unusable: " + why);
  };
  if (bytes.compare(0, magic.size(), magic) != 0 || !get_u64(bytes, pos, len) ||
      len > bytes.size() - pos)
    throw bad("not a checkpoint file");
  auto model_bytes = std::string_view(bytes).substr(pos, len);
  pos += len;
  if (!get_u64(bytes, pos, len) || len > bytes.size() - pos)
    throw bad("truncated");
  auto opt_bytes = std::string_view(bytes).substr(pos, len);
  pos += len;
  if (!get_u64(bytes, pos, epoch) || !get_u64(bytes, pos, at) || at != step)
    throw bad("truncated or for another step");
  auto a = compute::model_file::decode(model_bytes);
  if (!a)
    throw bad(a.error);
  if (!(a.value->spec == model_->spec()))
    throw bad("it holds another model");
  auto o = compute::decode_optimizer_state(opt_bytes);
  if (!o)
    throw bad(o.error);
  try {
    model_->set_parameters(a.value->weights.data(), a.value->weights.size());
    optimizer_->load_state(*o.value);
  } catch (const std::invalid_argument& e) {
    throw bad(e.what());
  }
  if (ctx_)
    ctx_->log_info("resuming from checkpoint '" + path + "' (epoch " + std::to_string(epoch + 1) +
                   ", step " + std::to_string(step) + ")");
}

void trainer::emit_model(emitter& out) {
  const double t = seconds_since(start_time_);
  if (replica_ != 0)
    return;
  if (epoch_rows_ > 0) // the last epoch was cut short: report what it has
    last_epoch_loss_ = epoch_loss_sum_ / epoch_rows_;
  std::map<std::string, double> metrics;
  metrics["loss"] = last_epoch_loss_;
  metrics["steps"] = static_cast<double>(step_);
  metrics["epochs"] = static_cast<double>(step_ / steps_per_epoch_);
  metrics["samples_per_second"] = t > 0 ? static_cast<double>(samples_) / t : 0;
  metrics["resumed_from_step"] = static_cast<double>(resumed_from_);
  auto a = compute::make_artifact(*model_);
  a.preprocessing = transform_ ? *transform_ : preprocessing{};
  a.feature_columns = feature_columns_;
  a.input_columns = raw_columns(feature_columns_, transform_.get());
  a.metrics = metrics;
  a.provenance.graph = options_.graph;
  a.provenance.step = step_name_;
  a.provenance.data_source = data_source_;
  a.provenance.created_unix = static_cast<std::int64_t>(std::time(nullptr));
  std::string bytes;
  try {
    bytes = compute::model_file::encode(a);
  } catch (const std::invalid_argument& e) {
    throw step_failure(std::string("trainer: cannot encode the model: ") + e.what());
  }
  if (ctx_)
    ctx_->report_metrics(metrics);
  model_message m;
  m.name = options_.name.empty() ? step_name_ : options_.name;
  m.artifact = std::make_shared<const std::string>(std::move(bytes));
  out.emit_model(0, std::move(m));
}

kind_entry trainer_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "trainer";
  e.schema.doc = "Trains a model (linear, logistic, softmax, mlp) on the batches it receives "
                 "(cached in memory; replayed from the source after a restart) and emits it "
                 "with the upstream preprocessing.";
  auto model = required_param("model", param_type::string,
                              "linear (regression), logistic (binary), softmax, mlp");
  model.choices = {"linear", "logistic", "softmax", "mlp"};
  e.schema.params = {
    model,
    optional_param("layers", param_type::list_of_integer, empty_list(),
                   "layer widths, input first (mlp: required; first = feature count)"),
    choice_param("activation", {"relu", "tanh", "sigmoid"}, "relu", "mlp hidden activation"),
    choice_param("optimizer", {"sgd", "adam"}, "sgd", "sgd (with momentum) or adam"),
    optional_param("lr", param_type::number, 0.01, "learning rate"),
    optional_param("momentum", param_type::number, 0.0, "sgd momentum"),
    optional_param("weight_decay", param_type::number, 0.0, "L2 weight decay"),
    optional_param("batch", param_type::integer, 128, "global minibatch rows (all replicas)"),
    optional_param("epochs", param_type::integer, 1, "passes over the data"),
    optional_param("emit_every", param_type::integer, 0,
                   "also emit the model every N epochs (0: only at the end)"),
    optional_param("seed", param_type::integer, 42, "weight initialisation and shuffle seed"),
    optional_param("devices", param_type::string, std::string("cpu:1"),
                   "\"cpu:N\": N data-parallel replicas"),
    optional_param("checkpoint_every", param_type::integer, 0,
                   "write a checkpoint every N optimizer steps (0: never)"),
    optional_param("checkpoint_dir", param_type::string, std::string("checkpoints"),
                   "directory for checkpoints"),
    optional_param("name", param_type::string, std::string(""),
                   "model name (default: the step name)"),
    optional_param("fail_at_step", param_type::integer, 0,
                   "testing: fail at this global optimizer step (0: never)"),
    optional_param("fail_times", param_type::integer, 1,
                   "testing: how many times fail_at_step fails across restarts"),
  };
  e.schema.inputs = {batch_port("in")};
  e.schema.outputs = {dsl::port_schema{"model", "model"}};
  e.schema.replica_group = true;
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    auto name = c.name;
    auto hash = name.find('#');
    if (hash != std::string::npos)
      name = name.substr(0, hash);
    auto options = trainer_options::from(c.params);
    options.graph = c.graph;
    return std::make_unique<trainer>(std::move(options), name, c.replica, c.replicas);
  };
  e.instances = instance_rule{
    "devices", [](const step_params& p) { return parse_devices(p.get_string("devices")); }};
  return e;
}

} // namespace conveyor
