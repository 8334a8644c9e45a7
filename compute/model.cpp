#include "compute/model.hpp"

#include "compute/cpu/worker_team.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

namespace conveyor::compute {

namespace {

constexpr int predict_block_rows = 1024;

/// Parameters below which the optimizer's update runs on one thread.
constexpr std::size_t min_parallel_update = 1 << 16;

// Platform-independent draws from std::mt19937_64 (the standard library's distributions
// differ between implementations; these do not).
double uniform01(std::mt19937_64& gen) { return static_cast<double>(gen() >> 11) * 0x1.0p-53; }
double standard_normal(std::mt19937_64& gen) {
  const double u1 = 1.0 - uniform01(gen); // (0, 1]
  const double u2 = uniform01(gen);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

std::vector<float> initial_parameters(const model_spec& spec,
                                      const std::vector<dense_layer>& layers, std::size_t n) {
  std::vector<float> p(n, 0.0f);
  std::mt19937_64 gen(spec.seed);
  for (const auto& l : layers) {
    float* w = p.data() + l.weight_offset;
    const std::size_t count = static_cast<std::size_t>(l.in) * l.out;
    if (l.act == activation::relu) { // He (Kaiming) normal, fan_in
      const double sd = std::sqrt(2.0 / l.in);
      for (std::size_t i = 0; i < count; ++i) w[i] = static_cast<float>(sd * standard_normal(gen));
    } else { // Glorot (Xavier) uniform
      const double a = std::sqrt(6.0 / (l.in + l.out));
      for (std::size_t i = 0; i < count; ++i)
        w[i] = static_cast<float>((2.0 * uniform01(gen) - 1.0) * a);
    }
  }
  return p;
}

} // namespace

model::model(const model_spec& spec, backend& be) : spec_(validate(spec)), backend_(&be) {
  const auto& w = spec_.layers;
  std::size_t offset = 0;
  for (std::size_t i = 1; i < w.size(); ++i) {
    dense_layer l;
    l.in = w[i - 1];
    l.out = w[i];
    l.weight_offset = offset;
    offset += static_cast<std::size_t>(l.in) * l.out;
    l.bias_offset = offset;
    offset += l.out;
    l.act = i + 1 < w.size() ? spec_.hidden : activation::identity;
    layers_.push_back(l);
  }
  if (spec_.objective == task::regression)
    head_ = output_head::squared_error;
  else
    head_ = output_width() == 1 ? output_head::sigmoid_bce : output_head::softmax_ce;

  params_ = backend_->allocate(offset);
  const auto init = initial_parameters(spec_, layers_, offset);
  backend_->copy_from_host(params_.data(), init.data(), offset);
}

model::model(model&&) noexcept = default;
model& model::operator=(model&&) noexcept = default;
model::~model() = default;

int model::classes() const noexcept {
  if (head_ == output_head::squared_error) return 0;
  return head_ == output_head::sigmoid_bce ? 2 : output_width();
}

float* model::training_buffer() {
  if (grads_.empty()) grads_ = backend_->allocate(reduction_size()); // + loss and spare slots
  return grads_.data();
}

float model::loss_to_host() const {
  float loss = 0;
  if (!grads_.empty()) backend_->copy_to_host(&loss, loss_slot(), 1);
  return loss;
}

std::size_t model::floats_held() const noexcept {
  std::size_t n = params_.size() + grads_.size() + staged_x_.size() + staged_y_.size() +
                  part_losses_.size();
  for (const auto& b : acts_) n += b.size();
  for (const auto& b : deltas_) n += b.size();
  return n;
}

std::vector<float> model::parameters_to_host() const {
  std::vector<float> host(params_.size());
  backend_->copy_to_host(host.data(), params_.data(), host.size());
  return host;
}

void model::set_parameters(const float* host, std::size_t n) {
  if (n != params_.size())
    throw std::invalid_argument("set_parameters: got " + std::to_string(n) +
                                " floats, the model has " + std::to_string(params_.size()));
  backend_->copy_from_host(params_.data(), host, n);
}

void model::reserve(int rows) {
  training_buffer();
  if (rows <= capacity_rows_) return;
  acts_.clear();
  deltas_.clear();
  for (const auto& l : layers_) {
    acts_.push_back(backend_->allocate(static_cast<std::size_t>(rows) * l.out));
    deltas_.push_back(backend_->allocate(static_cast<std::size_t>(rows) * l.out));
  }
  // The output layer's activation buffer doubles as its delta (the fused heads allow it).
  deltas_.back() = buffer();
  // device backends stage every minibatch here; the CPU gathers shuffled rows here
  staged_x_ = backend_->allocate(static_cast<std::size_t>(rows) * input_width());
  staged_y_ = backend_->allocate(static_cast<std::size_t>(rows) * output_width());
  capacity_rows_ = rows;
}

void model::check_labels(const float* y, int rows) const {
  if (head_ == output_head::squared_error) return; // regression targets: any finite value
  const int k = head_ == output_head::sigmoid_bce ? 2 : output_width();
  for (int r = 0; r < rows; ++r) {
    const float v = y[r];
    if (!(v >= 0.0f && v < static_cast<float>(k)) || v != std::floor(v))
      throw std::invalid_argument("label " + std::to_string(v) + " at row " + std::to_string(r) +
                                  " is not a class index in [0, " + std::to_string(k) + ")");
  }
}

std::size_t model::label_count(int rows) const {
  return static_cast<std::size_t>(rows) * (head_ == output_head::squared_error ? output_width() : 1);
}

std::pair<const float*, const float*> model::stage(const float* x, const float* y, int rows) {
  if (rows < 1) throw std::invalid_argument("minibatch must have at least one row");
  check_labels(y, rows);
  reserve(rows);
  if (backend_->host_memory()) return {x, y};
  backend_->copy_from_host(staged_x_.data(), x, static_cast<std::size_t>(rows) * input_width());
  backend_->copy_from_host(staged_y_.data(), y, label_count(rows));
  return {staged_x_.data(), staged_y_.data()};
}

void model::forward_and_loss(const float* in, const float* labels, const part& w, float weight) {
  backend& be = *backend_;
  auto* cpu = dynamic_cast<cpu_backend*>(backend_); // its dense kernel
  const float* p = params_.data();
  const int rows = w.end - w.begin;
  const auto lo = static_cast<std::size_t>(w.begin);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto& l = layers_[i];
    const float* a_prev = i == 0 ? in + lo * l.in : acts_[i - 1].data() + lo * l.in;
    float* z = acts_[i].data() + lo * l.out;
    if (cpu) {
      cpu->dense_forward(l.act, rows, l.in, l.out, a_prev, p + l.weight_offset, p + l.bias_offset, z,
                         true);
      continue;
    }
    be.gemm(false, false, rows, l.out, l.in, 1.0f, a_prev, l.in, p + l.weight_offset, l.out, 0.0f,
            z, l.out);
    be.bias_activation(l.act, rows, l.out, p + l.bias_offset, z);
  }
  // logits / predictions, overwritten by the loss gradient
  float* z = acts_.back().data() + lo * static_cast<std::size_t>(output_width());
  const float* y = labels + lo * (label_count(1));
  float* loss = w.loss;
  switch (head_) {
  case output_head::squared_error: {
    const double per = static_cast<double>(w.rows) * output_width();
    be.squared_error(label_count(rows), z, y, static_cast<float>(weight / per), z, loss);
    break;
  }
  case output_head::sigmoid_bce:
    be.sigmoid_binary_cross_entropy(rows, z, y, static_cast<float>(weight / w.rows), z, loss);
    break;
  case output_head::softmax_ce:
    be.softmax_cross_entropy(rows, output_width(), z, y, static_cast<float>(weight / w.rows), z,
                             loss);
    break;
  }
  if (spec_.weight_decay > 0 && w.first)
    for (const auto& l : layers_) {
      const std::size_t n = static_cast<std::size_t>(l.in) * l.out;
      be.add_dot(n, 0.5f * spec_.weight_decay * weight, p + l.weight_offset, p + l.weight_offset,
                 loss);
    }
}

float model::loss(const float* x, const float* y, int rows) {
  const auto [in, labels] = stage(x, y, rows);
  forward_and_loss(in, labels, part{0, rows, rows, loss_slot(), true}, 1.0f);
  return loss_to_host();
}

void model::compute_gradients(const float* x, const float* y, int rows, float weight) {
  const auto [in, labels] = stage(x, y, rows);
  train_step(in, labels, rows, weight, nullptr, nullptr);
}

void model::compute_gradients_in_backend(const float* x, const float* y, int rows, float weight) {
  if (rows < 1) throw std::invalid_argument("minibatch must have at least one row");
  reserve(rows);
  train_step(x, y, rows, weight, nullptr, nullptr);
}

void model::set_training_threads(int n) {
  n = std::max(1, n);
  if (!dynamic_cast<cpu_backend*>(backend_) || n == training_threads_) return;
  team_ = n > 1 ? std::make_unique<cpu::worker_team>(n) : nullptr;
  part_losses_ = n > 1 ? backend_->allocate(static_cast<std::size_t>(n)) : buffer();
  training_threads_ = n;
}

int model::training_parts(int rows) const {
  if (training_threads_ <= 1 || rows < 2) return 1;
  // multiply-adds of one row's step: forward and weight gradient of every layer, input
  // gradient of all but the first
  long long per_row = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    per_row += static_cast<long long>(layers_[i].in) * layers_[i].out * (i == 0 ? 2 : 3);
  const long long rows_per_part = std::max(1LL, (min_part_work + per_row - 1) / per_row);
  return static_cast<int>(std::clamp<long long>(rows / rows_per_part, 1, training_threads_));
}

namespace {

/// Where part t of n begins in [0, size): at size * t / n, rounded up to a multiple of
/// `align` (16: whole cache lines of a row), so parts of a matrix's columns do not share
/// cache lines.
int part_begin(int size, int t, int n, int align = 1) {
  if (t >= n) return size;
  const auto at = static_cast<int>(static_cast<long long>(size) * t / n);
  return std::min(size, (at + align - 1) / align * align);
}

} // namespace

void model::train_step(const float* in, const float* labels, int rows, float weight,
                       optimizer* opt, const row_source* source) {
  auto* cpu = dynamic_cast<cpu_backend*>(backend_);
  if (!cpu) { // a device backend: one thread drives it, product by product
    forward_and_loss(in, labels, part{0, rows, rows, loss_slot(), true}, weight);
    backward(in, rows, weight);
    if (opt) apply(*opt);
    return;
  }
  const int parts = training_parts(rows);
  if (opt) opt->advance();
  float* losses = parts > 1 ? part_losses_.data() : loss_slot();
  const auto job = [&](int t) {
    host_part(*cpu, in, labels, rows, weight, opt, source, t, parts, losses + t);
  };
  if (parts == 1) {
    job(0);
    return;
  }
  team_->run(parts, job);
  double loss = 0;
  for (int t = 0; t < parts; ++t) loss += losses[t];
  *loss_slot() = static_cast<float>(loss);
}

void model::host_part(cpu_backend& be, const float* in, const float* labels, int rows,
                      float weight, optimizer* opt, const row_source* source, int t, int parts,
                      float* loss) {
  // 1. The forward pass, loss and deltas of this part's rows, layer by layer down: they
  //    need no other part's rows, and read every weight before any is updated.
  const part w{part_begin(rows, t, parts), part_begin(rows, t + 1, parts), rows, loss, false};
  if (source) { // this part's rows of the minibatch, into `in` (staged_x_)
    const auto width = static_cast<std::size_t>(input_width());
    for (int r = w.begin; r < w.end; ++r)
      std::memcpy(staged_x_.data() + static_cast<std::size_t>(r) * width,
                  source->table + static_cast<std::size_t>(source->order[r]) * width,
                  width * sizeof(float));
  }
  forward_and_loss(in, labels, w, weight);
  const int own = w.end - w.begin;
  const auto lo = static_cast<std::size_t>(w.begin);
  float* p = params_.data();
  float* g = grads_.data();
  for (std::size_t i = layers_.size() - 1; i > 0; --i) {
    const auto& l = layers_[i];
    const float* delta = (i + 1 == layers_.size() ? acts_[i].data() : deltas_[i].data()) + lo * l.out;
    float* d_prev = deltas_[i - 1].data() + lo * l.in;
    be.gemm(false, true, own, l.in, l.out, 1.0f, delta, l.out, p + l.weight_offset, l.out, 0.0f,
            d_prev, l.in);
    be.activation_backward(layers_[i - 1].act, static_cast<std::size_t>(own) * l.in,
                           acts_[i - 1].data() + lo * l.in, d_prev);
  }
  if (parts > 1) team_->barrier(); // every row's deltas are in, every weight has been read
  // 2. The gradient of this part's band of each layer's weight rows over all rows (a
  //    contiguous slice of the flat buffers), and the optimizer's update of that slice
  //    while it is in this core's cache. One part takes each layer's bias.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto& l = layers_[i];
    const float* delta = i + 1 == layers_.size() ? acts_[i].data() : deltas_[i].data();
    const float* a_prev = i == 0 ? in : acts_[i - 1].data();
    // bands start on whole cache lines of the flat buffers (64 bytes)
    const int align = 16 / std::gcd(l.out, 16);
    const int r0 = part_begin(l.in, t, parts, align), r1 = part_begin(l.in, t + 1, parts, align);
    if (r1 > r0) {
      const std::size_t at = l.weight_offset + static_cast<std::size_t>(r0) * l.out;
      const std::size_t n = static_cast<std::size_t>(r1 - r0) * l.out;
      be.transposed_product(r1 - r0, l.out, rows, a_prev + r0, l.in, delta, g + at);
      if (spec_.weight_decay > 0) { // the L2 term of the loss and its gradient
        be.add_dot(n, 0.5f * spec_.weight_decay * weight, p + at, p + at, loss);
        be.axpy(n, spec_.weight_decay * weight, p + at, g + at);
      }
      if (opt) opt->update(p, g, at, n);
    }
    if (static_cast<int>(i % static_cast<std::size_t>(parts)) == t) {
      be.column_sums(rows, l.out, delta, 0.0f, g + l.bias_offset);
      if (opt) opt->update(p, g, l.bias_offset, static_cast<std::size_t>(l.out));
    }
  }
}

void model::compute_gradients_and_apply(const float* x, const float* y, int rows,
                                        optimizer& opt) {
  const auto [in, labels] = stage(x, y, rows);
  train_step(in, labels, rows, 1.0f, &opt, nullptr);
}

void model::compute_gradients_and_apply(const float* table_x, const float* table_y,
                                        const std::uint32_t* order, int rows, optimizer& opt) {
  if (rows < 1) throw std::invalid_argument("minibatch must have at least one row");
  const std::size_t per_row = label_count(1);
  auto* cpu = dynamic_cast<cpu_backend*>(backend_);
  if (!cpu) { // gathered on the host, then staged
    const auto width = static_cast<std::size_t>(input_width());
    std::vector<float> x(static_cast<std::size_t>(rows) * width), y(label_count(rows));
    for (int r = 0; r < rows; ++r) {
      std::memcpy(x.data() + static_cast<std::size_t>(r) * width, table_x + std::size_t{order[r]} * width,
                  width * sizeof(float));
      std::memcpy(y.data() + static_cast<std::size_t>(r) * per_row,
                  table_y + std::size_t{order[r]} * per_row, per_row * sizeof(float));
    }
    compute_gradients_and_apply(x.data(), y.data(), rows, opt);
    return;
  }
  reserve(rows);
  float* y = staged_y_.data();
  for (int r = 0; r < rows; ++r)
    std::memcpy(y + static_cast<std::size_t>(r) * per_row, table_y + std::size_t{order[r]} * per_row,
                per_row * sizeof(float));
  check_labels(y, rows);
  const row_source source{table_x, order};
  train_step(staged_x_.data(), y, rows, 1.0f, &opt, &source);
}

void model::apply(optimizer& opt) {
  const int parts = training_threads_ > 1 ? training_threads_ : 1;
  opt.advance();
  float* params = params_.data();
  const float* grads = gradients();
  const std::size_t n = params_.size();
  if (parts == 1 || n < min_parallel_update) {
    opt.update(params, grads, 0, n);
    return;
  }
  team_->run(parts, [&](int t) {
    const auto lo = static_cast<std::size_t>(part_begin(static_cast<int>(n), t, parts, 16));
    const auto hi = static_cast<std::size_t>(part_begin(static_cast<int>(n), t + 1, parts, 16));
    opt.update(params, grads, lo, hi - lo);
  });
}

void model::backward(const float* in, int rows, float weight) {
  backend& be = *backend_;
  const float* p = params_.data();
  float* g = grads_.data();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const auto& l = layers_[i];
    const float* delta = i + 1 == layers_.size() ? acts_[i].data() : deltas_[i].data();
    const float* a_prev = i == 0 ? in : acts_[i - 1].data();
    // dW = A_prev^T dZ ; db = column sums of dZ ; dA_prev = dZ W^T (not for the input)
    be.gemm(true, false, l.in, l.out, rows, 1.0f, a_prev, l.in, delta, l.out, 0.0f,
            g + l.weight_offset, l.out);
    be.column_sums(rows, l.out, delta, 0.0f, g + l.bias_offset);
    if (i > 0) {
      float* d_prev = deltas_[i - 1].data();
      be.gemm(false, true, rows, l.in, l.out, 1.0f, delta, l.out, p + l.weight_offset, l.out,
              0.0f, d_prev, l.in);
      be.activation_backward(layers_[i - 1].act, static_cast<std::size_t>(rows) * l.in,
                             acts_[i - 1].data(), d_prev);
    }
    if (spec_.weight_decay > 0)
      be.axpy(static_cast<std::size_t>(l.in) * l.out, spec_.weight_decay * weight,
              p + l.weight_offset, g + l.weight_offset);
  }
}

void model::predict(const float* x, int rows, float* out, predict_workspace& ws) const {
  predict(x, rows, out, ws, *backend_);
}

void model::predict(const float* x, int rows, float* out, predict_workspace& ws,
                    backend& be) const {
  if (rows < 0) throw std::invalid_argument("predict: negative row count");
  if (be.host_memory() != backend_->host_memory())
    throw std::invalid_argument(std::string("predict: backend \"") + be.name() +
                                "\" cannot read the parameters held by \"" +
                                backend_->name() + "\"");
  int widest = input_width();
  for (const auto& l : layers_) widest = std::max(widest, l.out);
  const int block = std::min(rows, predict_block_rows);
  if (ws.owner_ != &be) {
    ws = predict_workspace();
    ws.owner_ = &be;
  }
  if (ws.capacity_rows_ < block) {
    ws.ping_ = be.allocate(static_cast<std::size_t>(block) * widest);
    ws.pong_ = be.allocate(static_cast<std::size_t>(block) * widest);
    if (!be.host_memory()) {
      ws.input_ = be.allocate(static_cast<std::size_t>(block) * input_width());
      ws.output_ = be.allocate(static_cast<std::size_t>(block) * output_width());
    }
    ws.capacity_rows_ = block;
  }
  const float* p = params_.data();
  auto* cpu = dynamic_cast<cpu_backend*>(&be); // its small-batch kernel
  for (int start = 0; start < rows; start += block) {
    const int n = std::min(block, rows - start);
    const float* in = x + static_cast<std::size_t>(start) * input_width();
    float* dst = out + static_cast<std::size_t>(start) * output_width();
    if (!be.host_memory()) {
      be.copy_from_host(ws.input_.data(), in, static_cast<std::size_t>(n) * input_width());
      in = ws.input_.data();
    }
    float* final_out = be.host_memory() ? dst : ws.output_.data();
    const float* a = in;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const auto& l = layers_[i];
      float* z = i + 1 == layers_.size() ? final_out : (i % 2 == 0 ? ws.ping_.data() : ws.pong_.data());
      if (cpu) {
        cpu->dense_forward(l.act, n, l.in, l.out, a, p + l.weight_offset, p + l.bias_offset, z);
      } else {
        be.gemm(false, false, n, l.out, l.in, 1.0f, a, l.in, p + l.weight_offset, l.out, 0.0f, z,
                l.out);
        be.bias_activation(l.act, n, l.out, p + l.bias_offset, z);
      }
      a = z;
    }
    if (head_ == output_head::sigmoid_bce)
      be.sigmoid(static_cast<std::size_t>(n), final_out);
    else if (head_ == output_head::softmax_ce)
      be.softmax_rows(n, output_width(), final_out);
    if (!be.host_memory())
      be.copy_to_host(dst, final_out, static_cast<std::size_t>(n) * output_width());
  }
}

void model::predict(const float* x, int rows, float* out) const {
  predict_workspace ws;
  predict(x, rows, out, ws);
}

} // namespace conveyor::compute
