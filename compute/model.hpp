// A trainable model: a stack of dense layers whose parameters live in ONE flat buffer
// (and whose gradients live in ONE flat buffer of the same layout), so data-parallel
// replicas all-reduce a single vector and checkpoints copy a single vector. The
// gradients and the training workspace are allocated on first training use (reserve,
// compute_gradients, loss, or the non-const gradient accessors): a model loaded for
// inference holds its parameters only (floats_held()).
//
// Flat layout, layer after layer: W (in x out, row-major, so Z = X W) then b (out).
#pragma once

#include "compute/backend.hpp"
#include "compute/cpu/cpu_backend.hpp"
#include "compute/model_spec.hpp"
#include "compute/optimizer.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace conveyor::compute {

namespace cpu {
class worker_team;
}

/// Where one dense layer sits in the flat buffers, and what follows it.
struct dense_layer {
  int in = 0;
  int out = 0;
  std::size_t weight_offset = 0; ///< W: in x out floats
  std::size_t bias_offset = 0;   ///< b: out floats
  activation act = activation::identity; ///< identity on the output layer (loss-fused)
};

/// How the output layer meets its loss.
enum class output_head { squared_error, sigmoid_bce, softmax_ce };

/// Scratch memory for `model::predict`. One per thread: a workspace is not shared
/// between concurrent calls; the model itself may be.
class predict_workspace {
public:
  predict_workspace() = default;

private:
  friend class model;
  const backend* owner_ = nullptr; ///< the backend its buffers came from
  buffer ping_, pong_, input_, output_;
  int capacity_rows_ = 0;
};

class model {
public:
  /// Validates `spec` (std::invalid_argument on error) and initialises the weights from
  /// `spec.seed`: He normal for layers followed by relu, Glorot uniform otherwise, biases
  /// zero. Same seed, same weights, on every platform (own normal/uniform from
  /// std::mt19937_64 bits). `be` must outlive the model.
  explicit model(const model_spec& spec, backend& be = default_cpu_backend());
  model(model&&) noexcept;
  model& operator=(model&&) noexcept;
  ~model();

  const model_spec& spec() const noexcept { return spec_; }
  const std::vector<dense_layer>& layers() const noexcept { return layers_; }
  output_head head() const noexcept { return head_; }
  int input_width() const noexcept { return spec_.layers.front(); }
  /// Columns `predict` writes per row: 1 for binary (P(y = 1)) and regression with one
  /// target, the number of classes for multiclass, the target count for regression.
  int output_width() const noexcept { return spec_.layers.back(); }
  /// 0 for regression, 2 for binary, the output width for multiclass.
  int classes() const noexcept;
  backend& device() const noexcept { return *backend_; }

  /// The flat parameter and gradient buffers (backend memory; host memory on the CPU).
  /// The non-const gradients(), loss_slot() and spare_slot() allocate the gradient
  /// buffer (zeroed) if no training use has yet; the const ones return nullptr then.
  std::size_t parameter_count() const noexcept { return params_.size(); }
  float* parameters() noexcept { return params_.data(); }
  const float* parameters() const noexcept { return params_.data(); }
  float* gradients() { return training_buffer(); }
  const float* gradients() const noexcept { return grads_.data(); }

  /// The gradients are followed in backend memory by two floats: the loss that
  /// compute_gradients wrote (`loss_slot`), and one the model never touches
  /// (`spare_slot`: a trainer puts its stop vote there). So replicas combine all three
  /// with ONE all-reduce of `reduction_size()` floats from gradients().
  std::size_t reduction_size() const noexcept { return params_.size() + 2; }
  float* loss_slot() { return training_buffer() + params_.size(); }
  const float* loss_slot() const noexcept {
    return grads_.empty() ? nullptr : grads_.data() + params_.size();
  }
  float* spare_slot() { return training_buffer() + params_.size() + 1; }
  /// The loss slot, copied to the host (a device backend waits for its work here); 0
  /// before any loss was computed.
  float loss_to_host() const;

  /// Floats of backend memory the model holds: its parameters, and once it has been
  /// used for training its gradients (+ 2 slots) and training workspace too. Inference
  /// workspaces (predict_workspace) belong to their callers and are not counted.
  std::size_t floats_held() const noexcept;

  /// Host copies of the flat parameters, for model files and checkpoints.
  std::vector<float> parameters_to_host() const;
  /// Replaces every parameter; throws std::invalid_argument when n != parameter_count().
  void set_parameters(const float* host, std::size_t n);

  /// Preallocates the training workspace for minibatches of up to `rows` rows, so that
  /// `compute_gradients` allocates nothing. It grows on demand otherwise.
  void reserve(int rows);

  /// Threads that one compute_gradients may use (default 1). With n > 1 on the CPU
  /// backend, a minibatch is split by rows into training_parts(rows) parts whose forward
  /// and backward each run on a thread of the model's own (persistent) team, products
  /// and all, and the parts' gradients are summed: the same gradient up to the order of
  /// float sums. Each part's products are meant to run single-threaded, so the backend's
  /// own threads (OpenBLAS's) should be 1 meanwhile. Other backends ignore it (a device
  /// backend is driven by one thread).
  void set_training_threads(int n);
  int training_threads() const noexcept { return training_threads_; }
  /// Parts a minibatch of `rows` rows is split into: up to training_threads(), each of
  /// at least min_part_work multiply-adds (smaller ones cost more to hand over than
  /// they save).
  int training_parts(int rows) const;
  static constexpr long long min_part_work = 1LL << 18;

  /// opt.step(parameters(), gradients()), the update split over the training threads
  /// (the optimizer's update is elementwise: slices of it run side by side).
  void apply(optimizer& opt);

  /// Forward and backward on one minibatch. `x`: rows x input_width (host, row-major);
  /// `y`: rows labels (classification: class index as float; binary 0 or 1) or
  /// rows x output_width targets (regression). Fills gradients() with `weight` times
  /// the gradient of the MEAN loss over the rows (plus the L2 term), and loss_slot() with
  /// `weight` times that mean loss; returns nothing, so a device backend need not wait.
  /// Replicas pass weight = rows_i / sum(rows_i): the SUM of their gradients (one
  /// all-reduce) is then the gradient of the concatenated batch, and the sum of their
  /// loss slots its mean loss.
  /// Throws std::invalid_argument for rows < 1 or a label out of range (naming the row).
  /// Not thread-safe on one model (it owns the training workspace).
  void compute_gradients(const float* x, const float* y, int rows, float weight = 1.0f);
  /// compute_gradients on a minibatch already in backend memory (`x`, `y` as above, in
  /// backend memory; labels validated by the caller): nothing is staged or read on the
  /// host. For datasets kept resident on a device (the trainer's GPU replicas).
  void compute_gradients_in_backend(const float* x, const float* y, int rows,
                                    float weight = 1.0f);

  /// One training step of a lone replica (no all-reduce between the gradient and the
  /// update): compute_gradients(x, y, rows), then apply(opt), in one pass. On the CPU
  /// backend each thread updates the band of weights whose gradient it has just
  /// computed, while they are in its cache, so a step sweeps the weights once rather
  /// than twice. The same parameters, gradients() and loss as the two calls, up to the
  /// order of float sums. Same rules as compute_gradients.
  void compute_gradients_and_apply(const float* x, const float* y, int rows, optimizer& opt);
  /// The same on the rows order[0], ..., order[rows - 1] of a table of inputs (`table_x`,
  /// input_width() floats a row) and of labels (`table_y`, as `y` above a row), in host
  /// memory: a trainer's shuffled minibatch. On the CPU backend each training thread
  /// copies its own rows of the minibatch just before its forward pass reads them, so no
  /// serial copy of the whole minibatch precedes the step.
  void compute_gradients_and_apply(const float* table_x, const float* table_y,
                                   const std::uint32_t* order, int rows, optimizer& opt);

  /// Mean loss (with the L2 term) without touching gradients() (it does write
  /// loss_slot()): for evaluation and finite-difference checks. Same rules as
  /// compute_gradients.
  float loss(const float* x, const float* y, int rows);

  /// out (rows x output_width, host): probabilities for classifiers (binary: P(y = 1);
  /// multiclass: softmax rows), values for regressors. Const and thread-safe: concurrent
  /// calls each bring their own workspace. Works in blocks of at most 1024 rows, so a
  /// workspace stays small however many rows are asked for.
  void predict(const float* x, int rows, float* out, predict_workspace& ws) const;
  /// Convenience: a fresh workspace per call.
  void predict(const float* x, int rows, float* out) const;
  /// predict computed by `be` rather than the model's own backend: a thread's own
  /// stream on the GPU that holds the parameters (an inference worker's), or any CPU
  /// backend for a model in host memory. `be` must be able to read the model's memory
  /// (the same kind and device); `ws` follows `be` (it is remade for another backend).
  void predict(const float* x, int rows, float* out, predict_workspace& ws, backend& be) const;

private:
  /// The gradient buffer (parameter_count() + 2 floats), allocated on first use.
  float* training_buffer();
  void check_labels(const float* y, int rows) const;
  /// Labels (regression: targets) of `rows` rows.
  std::size_t label_count(int rows) const;
  /// Validates a host minibatch and returns it in backend memory (staged for device
  /// backends): {inputs, labels}.
  std::pair<const float*, const float*> stage(const float* x, const float* y, int rows);
  /// The rows [begin, end) of a minibatch of `rows` rows, whose loss (times its weight)
  /// goes to `loss`; `first` adds the L2 term to it.
  struct part {
    int begin, end, rows;
    float* loss;
    bool first;
  };
  /// Forward pass and loss (times `weight`: a part's share of the minibatch's mean) of a
  /// part, from backend memory; the output layer's activations become the loss gradient.
  void forward_and_loss(const float* in, const float* labels, const part& w, float weight);
  /// Gradients (times `weight`) after forward_and_loss on all `rows` rows, on this thread.
  void backward(const float* in, int rows, float weight);
  /// Where the CPU's training threads copy a minibatch's rows from (table rows order[r]).
  struct row_source {
    const float* table;
    const std::uint32_t* order;
  };
  /// Forward and backward of a staged minibatch, on training_parts(rows) threads, then
  /// `opt`'s update where it is given. With a `source` (CPU backend), `in` is staged_x_
  /// and each part first copies its rows there.
  void train_step(const float* in, const float* labels, int rows, float weight,
                  optimizer* opt, const row_source* source);
  /// Part t of `parts` of a step on the CPU backend (train_step): the forward pass,
  /// loss (to `loss`) and deltas of its rows, then, after a barrier, the weight
  /// gradient of its band of every layer's weight rows, and `opt`'s update of that band.
  void host_part(cpu_backend& be, const float* in, const float* labels, int rows, float weight,
                 optimizer* opt, const row_source* source, int t, int parts, float* loss);

  model_spec spec_;
  backend* backend_;
  std::vector<dense_layer> layers_;
  output_head head_ = output_head::squared_error;
  buffer params_;
  buffer grads_; // empty until the first training use (training_buffer())
  // training workspace: activations per layer (output layer's doubles as its delta),
  // deltas per hidden layer, staged inputs and labels for non-host backends.
  std::vector<buffer> acts_, deltas_;
  buffer staged_x_, staged_y_;
  int capacity_rows_ = 0;
  // training threads (CPU backend): the team, and each part's loss
  int training_threads_ = 1;
  std::unique_ptr<cpu::worker_team> team_;
  buffer part_losses_;
};

} // namespace conveyor::compute
