// Training a fleet: many single-layer models (linear, logistic, softmax) of one spec, each
// on its own rows ("slots": a fleet's segments and its shared model), trained together.
//
// Slots with similar row counts form a group whose parameters are one contiguous tensor
// (slots x parameters); each optimizer step of a group is one batched product forward
// and one backward (backend::gemm_strided_batched) over all its slots, so a thousand
// segments cost a few kernel calls per step, not a thousand trainers. Within a group every
// slot takes the same steps per epoch, with batches of ceil(rows / steps) <= `batch`
// rows (groups hold row counts within a factor of two, so padding at most doubles the
// work). Rows are shuffled once, with `seed`, into the group's step-major layout; each
// epoch visits the steps in a new order.
//
// Early stopping per slot: a slot with validation rows computes its validation loss after
// every epoch, keeps the parameters of its best epoch, and stops (its rows stay, its
// parameters no longer move) after `patience` epochs without improvement. A slot
// without validation rows trains every epoch and keeps its last parameters.
//
// With `solver = newton` (one-output models: linear, logistic) each slot instead runs
// Newton's method on all its rows (compute/fleet_newton.hpp) to the optimum of its mean
// loss plus weight_decay / 2 |w|^2, at most `epochs` iterations, all in the first
// run_epoch(); the optimizer's rate, batch, shuffling and patience do not apply, and a
// slot's result counts its iterations as epochs.
//
// The elementwise parts (losses, optimizer) run on the host: the backend must have host
// memory (the CPU backend).
#pragma once

#include "compute/backend.hpp"
#include "compute/fleet_newton.hpp"
#include "compute/model_spec.hpp"
#include "compute/optimizer.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace conveyor::compute {

/// How a fleet's slots learn: minibatch steps of `optimizer`, or Newton's method.
enum class fleet_solver { first_order, newton };

struct fleet_training_options {
  optimizer_spec optimizer;
  fleet_solver solver = fleet_solver::first_order;
  /// newton: a slot has converged once its largest gradient entry (of the mean loss plus
  /// penalty) is below this: scikit-learn's default for its lbfgs on the same objective.
  double newton_tolerance = 1e-4;
  int batch = 128;        ///< rows per slot per step, at most
  int epochs = 1;
  int patience = 0;       ///< epochs without a better validation loss before a slot stops; 0: never
  std::uint64_t seed = 0; ///< initialisation (per slot: seed + slot) and shuffle
};

/// The rows of one slot: indices into the fleet's row matrix.
struct fleet_slot_rows {
  std::vector<std::uint32_t> train;
  std::vector<std::uint32_t> validation;
  /// Rows per step, at most (0: the options' batch). A slot with many more rows than the
  /// others (a shared model on every row) takes larger steps, so that its epoch needs no
  /// more steps than theirs.
  std::size_t batch = 0;
  /// Where the slot's parameters start, in the flat layout of model.hpp
  /// (parameter_count(spec) floats): a warm start from an earlier model's weights for
  /// the same segment. Empty: zeros. Optimizer state (Adam's moments, momentum, Newton's
  /// step history) starts fresh either way.
  std::vector<float> initial{};
};

/// What training did to one slot.
struct fleet_slot_result {
  int epochs = 0;              ///< epochs it trained
  int best_epoch = 0;          ///< the epoch whose parameters it keeps (1-based; 0: none yet)
  bool stopped_early = false;
  double train_loss = 0;       ///< mean loss on its training rows with the parameters it keeps (once done)
  double validation_loss = 0;  ///< at best_epoch (NaN without validation rows)
};

class fleet_trainer {
public:
  /// `spec`: validated, a single dense layer (linear, logistic, softmax). `x`: rows x
  /// spec.layers[0] features, `y`: one label per row (class index, or the target of a
  /// one-output regression), both host memory that must outlive the trainer. Throws
  /// std::invalid_argument for another spec, a backend without host memory, a slot
  /// without training rows, an index out of range or `initial` parameters of another
  /// size than the spec's.
  fleet_trainer(const model_spec& spec, const fleet_training_options& options, const float* x,
                const float* y, std::size_t rows, std::vector<fleet_slot_rows> slots,
                backend& be);
  ~fleet_trainer();

  /// Trains every slot that has not stopped for one epoch, then checks early stopping.
  /// Returns false once every slot has stopped or trained `epochs` epochs.
  bool run_epoch();
  bool done() const noexcept;
  int epochs_done() const noexcept { return epoch_; }
  std::size_t slot_count() const noexcept { return results_.size(); }
  std::size_t active_slots() const noexcept;
  std::uint64_t rows_seen() const noexcept { return rows_seen_; }

  /// The parameters a slot keeps (its best epoch's; the last ones without validation
  /// rows), in the flat layout of model.hpp.
  std::vector<float> parameters(std::size_t slot) const;
  const fleet_slot_result& result(std::size_t slot) const { return results_.at(slot); }

private:
  struct group;
  /// Adam's bias corrections for the update count most slots of a group are at.
  struct adam_corrections {
    long long updates = 0;
    float step_size = 0, root = 1;
  };
  void train_group(group& g);
  /// Newton's method for every slot of `g`, each to convergence or `epochs` iterations.
  void newton_group(group& g);
  /// Every group by Newton's method, then the results and losses of every slot.
  void solve_newton();
  /// Slot `slot`'s training rows into place `i` of `g`, shuffled (with the seed and the
  /// slot) over the group's steps.
  void lay_out_shuffled_slot(group& g, std::size_t i, std::size_t slot,
                             std::vector<std::uint32_t> train, const float* x, const float* y);
  /// Slot `i` of `g` at `step`: its logits (in g.z) into weighted loss gradients.
  void gradients(group& g, std::size_t step, int i);
  /// Slot `i` of `g` at `step`: bias gradient, weight decay and the optimizer step.
  void update(group& g, std::size_t step, int i, const adam_corrections& adam);
  void validate_group(group& g);
  void training_loss(group& g);

  model_spec spec_;
  fleet_training_options options_;
  backend* be_;
  const float* x_; ///< the rows (rows x inputs) and labels given at construction
  const float* y_;
  int inputs_ = 0, outputs_ = 0;
  std::size_t params_ = 0;
  std::vector<std::unique_ptr<group>> groups_;
  std::vector<std::pair<std::size_t, std::size_t>> where_; ///< slot -> (group, index in it)
  std::vector<fleet_slot_result> results_;
  int epoch_ = 0;
  std::uint64_t rows_seen_ = 0;
};

} // namespace conveyor::compute
