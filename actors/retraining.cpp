#include "actors/retraining.hpp"

#include "actors/fleet_training.hpp"
#include "actors/trainer.hpp"
#include "compute/checkpoint.hpp"
#include "compute/model_file.hpp"

#include <cstdio>
#include <filesystem>

namespace conveyor {

namespace {

/// The context of one retrain's trainer step: the outer step's log, rejects, metrics and
/// drain flag; no durable state (each retrain starts afresh).
class retrain_context : public step_context {
public:
  explicit retrain_context(step_context& outer) : outer_(outer) {}
  const std::string& step_name() const override { return outer_.step_name(); }
  int replica() const override { return 0; }
  int replicas() const override { return 1; }
  void reject(std::uint64_t rows, const std::string& reason) override {
    outer_.reject(rows, reason);
  }
  std::optional<std::string> load_state() const override { return std::nullopt; }
  void save_state(std::string) override {}
  void log_info(const std::string& m) override { outer_.log_info(m); }
  void log_warning(const std::string& m) override { outer_.log_warning(m); }
  void report_progress(const progress_info& p) override { outer_.report_progress(p); }
  void report_metrics(const std::map<std::string, double>& m) override {
    outer_.report_metrics(m);
  }
  bool stop_requested() const override { return outer_.stop_requested(); }

private:
  step_context& outer_;
};

/// Keeps the models a retrain's trainer emits; batches it has none.
class model_catch : public emitter {
public:
  std::vector<model_message> models;
  void emit(std::size_t, batch) override {}
  void emit_model(std::size_t, model_message m) override { models.push_back(std::move(m)); }
};

double seconds_between(retraining::clock_type::time_point a,
                       retraining::clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

} // namespace

retraining::retraining(trainer_options options, std::string step_name)
    : options_(std::move(options)), step_name_(std::move(step_name)), pending_(true),
      pending_why_("the first full window") {}

void retraining::consume(std::size_t, batch b, emitter& out) {
  const auto now = now_();
  if (!started_) {
    started_ = true;
    cleared_at_ = last_retrain_ = now;
  }
  if (b.rows == 0 || !b.schema)
    return;
  if (seen_transform_ && b.transform != transform_ &&
      !(b.transform && transform_ && *b.transform == *transform_)) {
    clear(now, "the upstream preprocessing was refitted");
    pending_ = true;
    pending_why_ = "a new upstream preprocessing";
  }
  seen_transform_ = true;
  transform_ = b.transform;
  rows_ += b.rows;
  rows_since_ += b.rows;
  window_.push_back(held{std::move(b), now});
  trim(now);
  if (options_.retrain_every_rows > 0 &&
      rows_since_ >= static_cast<std::uint64_t>(options_.retrain_every_rows) && !pending_) {
    pending_ = true;
    pending_why_ = std::to_string(rows_since_) + " new rows";
  }
  if (options_.retrain_every_ns > 0 && !pending_ &&
      now - last_retrain_ >= std::chrono::nanoseconds(options_.retrain_every_ns)) {
    pending_ = true;
    pending_why_ = "retrain_every elapsed";
  }
  if (pending_ && full(now))
    retrain(out, now);
}

void retraining::consume_model(std::size_t, model_message m, emitter&) {
  // A drift step's trigger: the model it found drifted (the served one).
  const auto now = now_();
  if (!started_) {
    started_ = true;
    last_retrain_ = now;
  }
  if (m.artifact && options_.warm_start)
    previous_ = m.artifact;
  clear(now, "drift was reported");
  pending_ = true;
  pending_why_ = "drift reported on model '" + m.name + "'" +
                 (m.version > 0 ? " version " + std::to_string(m.version) : std::string());
}

void retraining::trim(clock_type::time_point now) {
  const auto bound = static_cast<std::uint64_t>(options_.window_rows);
  while (!window_.empty()) {
    const auto& front = window_.front();
    const bool too_many = bound > 0 && rows_ - front.rows.rows >= bound;
    const bool too_old =
      options_.window_ns > 0 && now - front.arrived > std::chrono::nanoseconds(options_.window_ns);
    if (!too_many && !too_old)
      break;
    rows_ -= front.rows.rows;
    window_.pop_front();
  }
}

void retraining::clear(clock_type::time_point now, const char* why) {
  if (ctx_ && rows_ > 0)
    ctx_->log_info("window emptied (" + std::to_string(rows_) + " rows): " + why);
  window_.clear();
  rows_ = 0;
  cleared_at_ = now;
}

bool retraining::full(clock_type::time_point now) const {
  if (rows_ == 0)
    return false;
  if (options_.window_rows > 0 && rows_ >= static_cast<std::uint64_t>(options_.window_rows))
    return true;
  return options_.window_ns > 0 && now - cleared_at_ >= std::chrono::nanoseconds(options_.window_ns);
}

void retraining::retrain(emitter& out, clock_type::time_point now) {
  pending_ = false;
  rows_since_ = 0;
  last_retrain_ = now;
  if (ctx_)
    ctx_->log_info("retraining on " + std::to_string(rows_) + " rows (" + pending_why_ + ")");
  std::string warm;
  std::shared_ptr<const compute::model_artifact> warm_fleet;
  if (options_.warm_start && previous_) {
    if (options_.by.empty())
      warm = write_warm_start();
    else
      warm_fleet = decode_previous();
  }
  const auto start = clock_type::now();
  auto model = train_once(out, warm, warm_fleet);
  if (!model && !warm.empty()) {
    if (ctx_)
      ctx_->log_warning("the warm start did not fit this window; retraining from scratch");
    model = train_once(out, "", nullptr);
  }
  if (!warm.empty()) {
    std::error_code ec;
    std::filesystem::remove(warm, ec);
  }
  if (!model) {
    ++failures_;
  } else {
    ++retrains_;
    previous_ = model;
  }
  if (ctx_)
    ctx_->report_metrics({{"retrains", static_cast<double>(retrains_)},
                          {"retrain_failures", static_cast<double>(failures_)},
                          {"window_rows", static_cast<double>(rows_)},
                          {"retrain_seconds", seconds_between(start, clock_type::now())}});
}

std::shared_ptr<const std::string>
retraining::train_once(emitter& out, const std::string& warm_path,
                       std::shared_ptr<const compute::model_artifact> warm_fleet) {
  auto options = options_;
  options.resume_from = warm_path;
  std::unique_ptr<step> inner;
  if (options.by.empty()) {
    inner = std::make_unique<trainer>(options, step_name_, 0, 1);
  } else {
    auto fleet = std::make_unique<fleet_training>(options, step_name_);
    if (warm_fleet)
      fleet->warm_start_from(std::move(warm_fleet));
    inner = std::move(fleet);
  }
  model_catch caught;
  try {
    if (!ctx_)
      throw step_failure("retraining needs a context");
    retrain_context ctx(*ctx_);
    inner->open(ctx);
    for (const auto& h : window_)
      inner->consume(0, h.rows, caught);
    inner->finish(caught);
    while (inner->produce(caught)) {
    }
  } catch (const std::exception& e) {
    if (ctx_)
      ctx_->log_warning(std::string("retrain failed: ") + e.what() +
                        "; the models already emitted stay served");
    return nullptr;
  }
  if (caught.models.empty())
    return nullptr; // drained before it finished: a half-trained model is not emitted
  auto bytes = caught.models.back().artifact;
  for (auto& m : caught.models)
    out.emit_model(0, std::move(m));
  return bytes;
}

std::shared_ptr<const compute::model_artifact> retraining::decode_previous() {
  auto decoded = compute::model_file::decode(*previous_);
  if (!decoded) {
    if (ctx_)
      ctx_->log_warning("cannot warm-start from the previous model: " + decoded.error);
    return nullptr;
  }
  return std::make_shared<const compute::model_artifact>(std::move(*decoded.value));
}

std::string retraining::write_warm_start() {
  auto previous = decode_previous();
  if (!previous)
    return "";
  compute::checkpoint c;
  c.model = *previous;
  const auto params = c.model.weights.size();
  c.optimizer.kind =
    options_.optimizer == "adam" ? compute::optimizer_kind::adam : compute::optimizer_kind::sgd;
  if (options_.optimizer == "adam" || options_.momentum > 0)
    c.optimizer.first.assign(params, 0.0f);
  if (options_.optimizer == "adam")
    c.optimizer.second.assign(params, 0.0f);
  const auto path = options_.checkpoint_dir + "/" + step_name_ + ".warm-start.ckpt";
  try {
    compute::checkpoint_file::save(path, c);
  } catch (const std::exception& e) {
    if (ctx_)
      ctx_->log_warning(std::string("cannot write the warm start: ") + e.what() +
                        "; retraining from scratch");
    return "";
  }
  return path;
}

} // namespace conveyor
