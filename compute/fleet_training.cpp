#include "compute/fleet_training.hpp"

#include "base/uninitialized_vector.hpp"
#include "compute/cpu/batched_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

namespace conveyor::compute {

namespace {

int ceil_log2(std::size_t n) {
  int b = 0;
  while ((std::size_t{1} << b) < n)
    ++b;
  return b;
}

/// Fisher-Yates with an own index draw (std::shuffle's is implementation-defined), so
/// the order is the same on every platform.
void shuffle(std::vector<std::uint32_t>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i)
    std::swap(v[i - 1], v[static_cast<std::size_t>(rng() % i)]);
}

enum class loss_kind { squared_error, binary, multiclass };

/// A step of a group uses threads from this many values (its rows' features and outputs).
constexpr std::size_t parallel_values = 1 << 18;

/// A chunk of slots whose step rows take at most this many bytes (a core's L2 cache).
constexpr std::size_t chunk_bytes = 256 * 1024;

/// Turns one row's `outputs` logits (bias already added) into weight times the loss
/// gradient in place; returns the row's loss.
double row_loss(loss_kind kind, float* z, int outputs, float label, float weight) {
  switch (kind) {
    case loss_kind::squared_error: {
      const float d = z[0] - label;
      z[0] = 2.0f * d * weight;
      return static_cast<double>(d) * d;
    }
    case loss_kind::binary: {
      const float v = z[0];
      const double loss = std::max(v, 0.0f) - v * label + std::log1p(std::exp(-std::fabs(v)));
      z[0] = (1.0f / (1.0f + std::exp(-v)) - label) * weight;
      return loss;
    }
    case loss_kind::multiclass: {
      const int y = static_cast<int>(label);
      const float mx = *std::max_element(z, z + outputs);
      double sum = 0;
      for (int j = 0; j < outputs; ++j)
        sum += std::exp(static_cast<double>(z[j] - mx));
      const double loss = std::log(sum) + mx - z[y];
      for (int j = 0; j < outputs; ++j)
        z[j] = (static_cast<float>(std::exp(static_cast<double>(z[j] - mx)) / sum) -
                (j == y ? 1.0f : 0.0f)) * weight;
      return loss;
    }
  }
  return 0;
}

/// Turns one row's logits (bias added) into weight times the loss gradient in place,
/// without the loss itself (training steps need no more; the loss costs a logarithm).
void row_gradient(loss_kind kind, float* z, int outputs, float label, float weight) {
  switch (kind) {
    case loss_kind::squared_error:
      z[0] = 2.0f * (z[0] - label) * weight;
      return;
    case loss_kind::binary:
      z[0] = (1.0f / (1.0f + std::exp(-z[0])) - label) * weight;
      return;
    case loss_kind::multiclass:
      row_loss(kind, z, outputs, label, weight);
      return;
  }
}

} // namespace

/// A group of slots with similar row counts: one contiguous parameter tensor, the rows
/// laid out step-major (step, slot, row, feature), padded to `m` rows per slot per step.
struct fleet_trainer::group {
  std::size_t index = 0; ///< in groups_
  std::vector<std::size_t> slots;
  int count = 0, steps = 0, m = 0, vm = 0;
  /// steps x count x m (x: times inputs); w: 1/rows or 0. Not zero-filled when made: the
  /// slots' layouts write every place, padding included, side by side.
  uninitialized_vector<float> x, y, w;
  std::vector<int> rows_at;         ///< steps x count
  std::vector<float> vx, vy, vw;    ///< validation: count x vm
  std::vector<float> params, grads, first, second, best, z;
  std::vector<long long> updates;   ///< optimizer steps taken per slot (Adam's t)
  std::vector<double> loss, rows, best_loss;
  std::vector<int> bad_epochs;
  std::vector<char> stopped, has_validation;
  std::vector<newton_state> newton; ///< per slot, with the newton solver
  std::vector<std::vector<std::uint32_t>> newton_train; ///< newton: each slot's training rows
};

fleet_trainer::fleet_trainer(const model_spec& spec, const fleet_training_options& options,
                             const float* x, const float* y, std::size_t rows,
                             std::vector<fleet_slot_rows> slots, backend& be)
    : spec_(spec), options_(options), be_(&be), x_(x), y_(y) {
  if (spec_.layers.size() != 2 || spec_.kind == "mlp")
    throw std::invalid_argument("a fleet trains single-layer models (linear, logistic, "
                                "softmax); got '" + spec_.kind + "'");
  if (spec_.kind == "linear" && spec_.layers[1] != 1)
    throw std::invalid_argument("a fleet's linear models have one output");
  if (!be.host_memory())
    throw std::invalid_argument(std::string("fleet training needs a host-memory backend; '") +
                                be.name() + "' is not");
  if (options_.batch < 1 || options_.epochs < 1 || options_.patience < 0)
    throw std::invalid_argument("fleet training: batch and epochs must be >= 1, patience >= 0");
  inputs_ = spec_.layers[0];
  outputs_ = spec_.layers[1];
  params_ = parameter_count(spec_);
  const bool newton = options_.solver == fleet_solver::newton;
  if (newton && outputs_ != 1)
    throw std::invalid_argument("the newton optimizer trains one-output models (linear, "
                                "logistic); this softmax model has " +
                                std::to_string(outputs_) + " outputs: use adam or sgd");
  if (newton && inputs_ > newton_max_features)
    throw std::invalid_argument("the newton optimizer takes at most " +
                                std::to_string(newton_max_features) + " features (its Hessian "
                                "grows with their square); this model has " +
                                std::to_string(inputs_) + ": use adam or sgd");
  const auto f = static_cast<std::size_t>(inputs_);
  // Newton takes one step per epoch on all of a slot's rows.
  const auto batch_of = [&](const fleet_slot_rows& r) {
    return newton ? std::max<std::size_t>(r.train.size(), 1)
           : r.batch > 0 ? r.batch : static_cast<std::size_t>(options_.batch);
  };

  // Group the slots by (steps per epoch, rows), both rounded up to a power of two.
  std::map<std::pair<int, int>, std::vector<std::size_t>> by_size;
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const std::size_t n = slots[s].train.size();
    if (n == 0)
      throw std::invalid_argument("fleet slot " + std::to_string(s) + " has no training rows");
    if (!slots[s].initial.empty() && slots[s].initial.size() != params_)
      throw std::invalid_argument("fleet slot " + std::to_string(s) + ": its initial parameters "
                                  "hold " + std::to_string(slots[s].initial.size()) +
                                  " floats, the model has " + std::to_string(params_));
    for (const auto* list : {&slots[s].train, &slots[s].validation})
      for (auto r : *list)
        if (r >= rows)
          throw std::invalid_argument("fleet slot " + std::to_string(s) + ": row " +
                                      std::to_string(r) + " is out of range");
    const std::size_t steps = (n + batch_of(slots[s]) - 1) / batch_of(slots[s]);
    by_size[{ceil_log2(steps), ceil_log2(n)}].push_back(s);
  }
  results_.resize(slots.size());
  where_.resize(slots.size());
  for (auto& [key, members] : by_size) {
    auto g = std::make_unique<group>();
    g->index = groups_.size();
    g->slots = members;
    g->count = static_cast<int>(members.size());
    for (auto s : members) {
      const auto n = slots[s].train.size();
      g->steps = std::max<int>(g->steps, static_cast<int>((n + batch_of(slots[s]) - 1) / batch_of(slots[s])));
      g->vm = std::max<int>(g->vm, static_cast<int>(slots[s].validation.size()));
    }
    for (auto s : members)
      g->m = std::max<int>(g->m, static_cast<int>((slots[s].train.size() + g->steps - 1) / g->steps));
    const auto count = static_cast<std::size_t>(g->count);
    const auto m = static_cast<std::size_t>(g->m);
    const auto steps = static_cast<std::size_t>(g->steps);
    if (newton) { // no layout: each slot gathers its rows when it is solved
      g->newton_train.resize(count);
    } else {
      g->x.resize(steps * count * m * f);
      g->y.resize(steps * count * m);
      g->w.resize(steps * count * m);
    }
    g->rows_at.assign(steps * count, 0);
    const auto vm = static_cast<std::size_t>(g->vm);
    g->vx.assign(count * vm * f, 0.0f);
    g->vy.assign(count * vm, 0.0f);
    g->vw.assign(count * vm, 0.0f);
    // Slot by slot, side by side on the backend's threads: each writes its own places.
    const auto group_index = groups_.size();
    const auto& group_members = members; // (a structured binding cannot be captured in C++17)
    cpu::parallel_for(g->count, be.threads(), [&](int slot_index) {
      const auto i = static_cast<std::size_t>(slot_index);
      const std::size_t s = group_members[i];
      where_[s] = {group_index, i};
      const auto& train = slots[s].train;
      if (newton) {
        g->newton_train[i] = train;
        g->rows_at[i] = static_cast<int>(train.size());
      } else {
        lay_out_shuffled_slot(*g, i, s, train, x, y);
      }
      const auto& val = slots[s].validation;
      for (std::size_t r = 0; r < val.size(); ++r) {
        const std::size_t at = i * vm + r;
        std::copy_n(x + std::size_t{val[r]} * f, f, g->vx.data() + at * f);
        g->vy[at] = y[val[r]];
        g->vw[at] = 1.0f / static_cast<float>(val.size());
      }
    });
    // Parameters start at the slot's `initial` ones (a warm start), else at zero: the
    // models are convex, so no symmetry needs breaking.
    g->params.assign(count * params_, 0.0f);
    for (std::size_t i = 0; i < count; ++i) {
      const auto& initial = slots[members[i]].initial;
      std::copy(initial.begin(), initial.end(), g->params.begin() + static_cast<std::ptrdiff_t>(i * params_));
    }
    g->grads.assign(count * params_, 0.0f);
    const bool adam = options_.optimizer.kind == optimizer_kind::adam;
    if (adam || options_.optimizer.momentum > 0)
      g->first.assign(count * params_, 0.0f);
    if (adam)
      g->second.assign(count * params_, 0.0f);
    g->best.assign(count * params_, 0.0f);
    g->z.assign(count * std::max(m, vm) * static_cast<std::size_t>(outputs_), 0.0f);
    g->updates.assign(count, 0);
    g->loss.assign(count, 0.0);
    g->rows.assign(count, 0.0);
    g->best_loss.assign(count, std::numeric_limits<double>::infinity());
    g->bad_epochs.assign(count, 0);
    g->stopped.assign(count, 0);
    g->has_validation.assign(count, 0);
    for (std::size_t i = 0; i < count; ++i)
      g->has_validation[i] = !slots[members[i]].validation.empty();
    if (newton)
      g->newton.resize(count);
    groups_.push_back(std::move(g));
  }
}

fleet_trainer::~fleet_trainer() = default;

bool fleet_trainer::done() const noexcept {
  return epoch_ >= options_.epochs || active_slots() == 0;
}

std::size_t fleet_trainer::active_slots() const noexcept {
  std::size_t n = 0;
  for (const auto& g : groups_)
    for (char s : g->stopped)
      n += s ? 0 : 1;
  return n;
}

bool fleet_trainer::run_epoch() {
  if (done())
    return false;
  if (options_.solver == fleet_solver::newton) {
    solve_newton();
    return false;
  }
  ++epoch_;
  for (auto& g : groups_) {
    std::fill(g->rows.begin(), g->rows.end(), 0.0);
    if (std::find(g->stopped.begin(), g->stopped.end(), 0) == g->stopped.end())
      continue;
    train_group(*g);
    validate_group(*g);
  }
  if (done())
    for (auto& g : groups_)
      training_loss(*g);
  return !done();
}

void fleet_trainer::training_loss(group& g) {
  const int f = inputs_, c = outputs_, count = g.count, m = g.m;
  const auto p = params_;
  const auto wsize = static_cast<std::size_t>(f) * c;
  const loss_kind kind = spec_.objective == task::regression ? loss_kind::squared_error
                         : c == 1                             ? loss_kind::binary
                                                              : loss_kind::multiclass;
  std::fill(g.loss.begin(), g.loss.end(), 0.0);
  for (int t = 0; t < g.steps; ++t) {
    const auto step = static_cast<std::size_t>(t);
    be_->gemm_strided_batched(false, false, m, c, f, 1.0f, g.x.data() + step * count * m * f, f,
                              std::size_t(m) * f, g.best.data(), c, p, 0.0f, g.z.data(), c,
                              std::size_t(m) * c, count);
    for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
      const float* bias = g.best.data() + i * p + wsize;
      const int rows = g.rows_at[step * count + i];
      for (int r = 0; r < rows; ++r) {
        float* zr = g.z.data() + (i * m + static_cast<std::size_t>(r)) * c;
        for (int j = 0; j < c; ++j)
          zr[j] += bias[j];
        g.loss[i] += row_loss(kind, zr, c, g.y[(step * count + i) * m + r], 1.0f);
      }
    }
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) {
    std::size_t rows = 0;
    for (int t = 0; t < g.steps; ++t)
      rows += static_cast<std::size_t>(g.rows_at[static_cast<std::size_t>(t) * count + i]);
    results_[g.slots[i]].train_loss = rows > 0 ? g.loss[i] / static_cast<double>(rows) : 0.0;
  }
}

void fleet_trainer::lay_out_shuffled_slot(group& g, std::size_t i, std::size_t slot,
                                          std::vector<std::uint32_t> train, const float* x,
                                          const float* y) {
  const auto f = static_cast<std::size_t>(inputs_), m = static_cast<std::size_t>(g.m);
  const auto count = static_cast<std::size_t>(g.count), steps = static_cast<std::size_t>(g.steps);
  std::seed_seq seq{static_cast<std::uint32_t>(options_.seed),
                    static_cast<std::uint32_t>(options_.seed >> 32),
                    static_cast<std::uint32_t>(slot)};
  std::mt19937_64 rng(seq);
  shuffle(train, rng);
  const std::size_t b = (train.size() + steps - 1) / steps;
  for (std::size_t t = 0; t < steps; ++t) {
    const std::size_t lo = std::min(train.size(), t * b);
    const std::size_t hi = std::min(train.size(), lo + b);
    g.rows_at[t * count + i] = static_cast<int>(hi - lo);
    for (std::size_t r = lo; r < hi; ++r) {
      const std::size_t at = (t * count + i) * m + (r - lo);
      std::copy_n(x + std::size_t{train[r]} * f, f, g.x.data() + at * f);
      g.y[at] = y[train[r]];
      g.w[at] = 1.0f / static_cast<float>(hi - lo);
    }
    const std::size_t pad = (t * count + i) * m + (hi - lo), pad_end = (t * count + i + 1) * m;
    std::fill(g.x.data() + pad * f, g.x.data() + pad_end * f, 0.0f);
    std::fill(g.y.data() + pad, g.y.data() + pad_end, 0.0f);
    std::fill(g.w.data() + pad, g.w.data() + pad_end, 0.0f);
  }
}

void fleet_trainer::newton_group(group& g) {
  const int f = inputs_;
  const auto kind = spec_.objective == task::regression ? newton_loss::squared_error
                                                        : newton_loss::logistic;
  const bool threaded = std::size_t(g.count) * g.m * (f + 1) >= parallel_values;
  // Slot by slot: gather its rows feature-major (newton_rows) into this thread's scratch,
  // and iterate to the optimum while they are in the core's cache; the fleet's rows are
  // read from memory once, and no copy of them all is made.
  cpu::parallel_for(g.count, threaded ? be_->threads() : 1, [&](int i) {
    const auto at = static_cast<std::size_t>(i);
    const auto& train = g.newton_train[at];
    const std::size_t rows = train.size();
    thread_local std::vector<float> xs, ys;
    xs.resize(rows * static_cast<std::size_t>(f));
    ys.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = x_ + std::size_t{train[r]} * static_cast<std::size_t>(f);
      for (int a = 0; a < f; ++a)
        xs[static_cast<std::size_t>(a) * rows + r] = row[a];
      ys[r] = y_[train[r]];
    }
    const newton_rows data{xs.data(), ys.data(), static_cast<int>(rows), f, rows};
    // The state and parameters are worked on in copies and written back once: slots
    // side by side in memory are solved on different threads.
    newton_state state = g.newton[at];
    float* kept = g.params.data() + at * params_;
    thread_local std::vector<float> params;
    params.assign(kept, kept + params_);
    while (!state.converged && state.iterations < options_.epochs) {
      newton_iteration(kind, data, spec_.weight_decay, options_.newton_tolerance, params.data(),
                       state);
      ++state.iterations;
    }
    std::copy(params.begin(), params.end(), kept);
    results_[g.slots[at]].train_loss = newton_mean_loss(kind, data, params.data());
    g.rows[at] += static_cast<double>(rows) * state.iterations;
    g.newton[at] = std::move(state);
  });
  for (int i = 0; i < g.count; ++i)
    rows_seen_ += static_cast<std::uint64_t>(g.rows[static_cast<std::size_t>(i)]);
}

void fleet_trainer::solve_newton() {
  for (auto& g : groups_) {
    newton_group(*g);
    for (const auto& state : g->newton)
      epoch_ = std::max(epoch_, state.iterations);
  }
  for (auto& g : groups_) {
    validate_group(*g); // the validation loss, and the parameters kept: the last ones
    for (std::size_t i = 0; i < static_cast<std::size_t>(g->count); ++i) {
      auto& r = results_[g->slots[i]];
      r.epochs = r.best_epoch = g->newton[i].iterations;
      g->stopped[i] = 1;
    }
  }
}

void fleet_trainer::train_group(group& g) {
  const int f = inputs_, c = outputs_, count = g.count, m = g.m;
  const auto p = params_;
  const auto& o = options_.optimizer;

  std::vector<int> order(static_cast<std::size_t>(g.steps));
  std::iota(order.begin(), order.end(), 0);
  std::seed_seq seq{static_cast<std::uint32_t>(options_.seed), static_cast<std::uint32_t>(epoch_),
                    static_cast<std::uint32_t>(g.index)};
  std::mt19937_64 rng(seq);
  for (std::size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[static_cast<std::size_t>(rng() % i)]);

  // A step goes chunk by chunk: slots whose step rows fit a core's L2 cache, so that the
  // backward product reads from cache what the forward one read from memory. Chunks are
  // spread over the threads (each chunk's products are one batched call).
  const int chunk = static_cast<int>(std::max<std::size_t>(
    1, chunk_bytes / (std::size_t(m) * static_cast<std::size_t>(f) * sizeof(float))));
  const int chunks = (count + chunk - 1) / chunk;
  const bool threaded = std::size_t(count) * m * (f + c) >= parallel_values;
  for (int t : order) {
    const auto step = static_cast<std::size_t>(t);
    adam_corrections adam;
    if (o.kind == optimizer_kind::adam) {
      adam.updates = g.updates.empty() ? 1 : g.updates[0] + 1;
      adam.step_size = o.learning_rate / (1.0f - std::pow(o.beta1, static_cast<float>(adam.updates)));
      adam.root = std::sqrt(1.0f - std::pow(o.beta2, static_cast<float>(adam.updates)));
    }
    cpu::parallel_for(chunks, threaded ? be_->threads() : 1, [&](int ci) {
      const int lo = ci * chunk;
      const int items = std::min(chunk, count - lo);
      const auto first = static_cast<std::size_t>(lo);
      const float* xs = g.x.data() + (step * count + first) * m * f;
      // Z = X W for every slot of the chunk in one call; the losses' gradients; then
      // dW = X^T G in one call; then each slot's update.
      be_->gemm_strided_batched(false, false, m, c, f, 1.0f, xs, f, std::size_t(m) * f,
                                g.params.data() + first * p, c, p, 0.0f,
                                g.z.data() + first * m * c, c, std::size_t(m) * c, items);
      for (int i = lo; i < lo + items; ++i)
        gradients(g, step, i);
      be_->gemm_strided_batched(true, false, f, c, m, 1.0f, xs, f, std::size_t(m) * f,
                                g.z.data() + first * m * c, c, std::size_t(m) * c, 0.0f,
                                g.grads.data() + first * p, c, p, items);
      for (int i = lo; i < lo + items; ++i)
        update(g, step, i, adam);
    });
  }
  for (int i = 0; i < count; ++i)
    rows_seen_ += static_cast<std::uint64_t>(g.rows[static_cast<std::size_t>(i)]);
}

void fleet_trainer::gradients(group& g, std::size_t step, int i) {
  const int c = outputs_, m = g.m;
  const auto at = static_cast<std::size_t>(i);
  const int rows = g.rows_at[step * g.count + at];
  if (g.stopped[at] || rows == 0)
    return;
  const loss_kind kind = spec_.objective == task::regression ? loss_kind::squared_error
                         : c == 1                             ? loss_kind::binary
                                                              : loss_kind::multiclass;
  const float* bias = g.params.data() + at * params_ + static_cast<std::size_t>(inputs_) * c;
  const std::size_t base = (step * g.count + at) * m;
  float* z = g.z.data() + at * m * c;
  for (int r = 0; r < rows; ++r) {
    float* zr = z + static_cast<std::size_t>(r) * c;
    for (int j = 0; j < c; ++j)
      zr[j] += bias[j];
    row_gradient(kind, zr, c, g.y[base + r], g.w[base + r]);
  }
  for (int r = rows; r < m; ++r) // padding rows add nothing
    std::fill_n(z + static_cast<std::size_t>(r) * c, c, 0.0f);
  g.rows[at] += rows;
}

void fleet_trainer::update(group& g, std::size_t step, int i, const adam_corrections& adam) {
  const auto at = static_cast<std::size_t>(i);
  const int rows = g.rows_at[step * g.count + at];
  if (g.stopped[at] || rows == 0)
    return;
  const int c = outputs_, m = g.m;
  const auto p = params_;
  const auto wsize = static_cast<std::size_t>(inputs_) * c;
  const auto& o = options_.optimizer;
  const float wd = spec_.weight_decay;
  float* w = g.params.data() + at * p;
  float* grad = g.grads.data() + at * p;
  const float* z = g.z.data() + at * m * c;
  for (int j = 0; j < c; ++j) {
    float sum = 0;
    for (int r = 0; r < rows; ++r)
      sum += z[static_cast<std::size_t>(r) * c + j];
    grad[wsize + j] = sum;
  }
  if (wd > 0)
    for (std::size_t k = 0; k < wsize; ++k)
      grad[k] += wd * w[k];
  const long long n = ++g.updates[at];
  if (o.kind == optimizer_kind::adam) {
    float* m1 = g.first.data() + at * p;
    float* m2 = g.second.data() + at * p;
    // the bias corrections: the same for every slot at the group's update count
    const bool common = n == adam.updates;
    const float step_size =
      common ? adam.step_size : o.learning_rate / (1.0f - std::pow(o.beta1, static_cast<float>(n)));
    const float root = common ? adam.root : std::sqrt(1.0f - std::pow(o.beta2, static_cast<float>(n)));
    for (std::size_t k = 0; k < p; ++k) {
      m1[k] = o.beta1 * m1[k] + (1.0f - o.beta1) * grad[k];
      m2[k] = o.beta2 * m2[k] + (1.0f - o.beta2) * grad[k] * grad[k];
      w[k] -= step_size * m1[k] / (std::sqrt(m2[k]) / root + o.eps);
    }
  } else if (!g.first.empty()) {
    float* v = g.first.data() + at * p;
    for (std::size_t k = 0; k < p; ++k) {
      v[k] = o.momentum * v[k] + grad[k];
      w[k] -= o.learning_rate * v[k];
    }
  } else {
    for (std::size_t k = 0; k < p; ++k)
      w[k] -= o.learning_rate * grad[k];
  }
}

void fleet_trainer::validate_group(group& g) {
  const int f = inputs_, c = outputs_, count = g.count, vm = g.vm;
  const auto p = params_;
  const auto wsize = static_cast<std::size_t>(f) * c;
  const loss_kind kind = spec_.objective == task::regression ? loss_kind::squared_error
                         : c == 1                             ? loss_kind::binary
                                                              : loss_kind::multiclass;
  if (vm > 0)
    be_->gemm_strided_batched(false, false, vm, c, f, 1.0f, g.vx.data(), f, std::size_t(vm) * f,
                              g.params.data(), c, p, 0.0f, g.z.data(), c, std::size_t(vm) * c,
                              count);
  for (int i = 0; i < count; ++i) {
    const auto at = static_cast<std::size_t>(i);
    if (g.stopped[at])
      continue;
    auto& r = results_[g.slots[at]];
    r.epochs = epoch_;
    const float* w = g.params.data() + at * p;
    if (!g.has_validation[at]) {
      r.best_epoch = epoch_;
      r.validation_loss = std::numeric_limits<double>::quiet_NaN();
      std::copy_n(w, p, g.best.data() + at * p);
    } else {
      double loss = 0;
      float* z = g.z.data() + at * vm * c;
      for (int row = 0; row < vm; ++row) {
        const float weight = g.vw[at * vm + row];
        if (weight == 0)
          break;
        float* zr = z + static_cast<std::size_t>(row) * c;
        for (int j = 0; j < c; ++j)
          zr[j] += w[wsize + j];
        loss += weight * row_loss(kind, zr, c, g.vy[at * vm + row], 1.0f);
      }
      if (loss < g.best_loss[at]) {
        g.best_loss[at] = loss;
        g.bad_epochs[at] = 0;
        r.best_epoch = epoch_;
        r.validation_loss = loss;
        std::copy_n(w, p, g.best.data() + at * p);
      } else if (options_.patience > 0 && ++g.bad_epochs[at] >= options_.patience) {
        g.stopped[at] = 1;
        r.stopped_early = true;
      }
    }
    if (epoch_ >= options_.epochs)
      g.stopped[at] = 1;
  }
}

std::vector<float> fleet_trainer::parameters(std::size_t slot) const {
  const auto [gi, i] = where_.at(slot);
  const auto& g = *groups_[gi];
  const float* from = results_[slot].best_epoch > 0 ? g.best.data() + i * params_
                                                    : g.params.data() + i * params_;
  return std::vector<float>(from, from + params_);
}

} // namespace conveyor::compute
