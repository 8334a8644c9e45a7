// Newton's method for one fleet slot's convex one-output model: logistic regression
// (binary cross-entropy) or linear regression (squared error), each with an L2 penalty on
// its weights (not on its bias). It minimises
//   J(w, b) = mean over the slot's rows of loss(x . w + b, y) + l2 / 2 * |w|^2,
// the objective of a first-order fleet with `weight_decay = l2`, to its optimum: every
// iteration reads the slot's rows once (logits, gradient and Hessian together), solves
// the (features + 1)^2 system by Cholesky and steps. A step that raises J (by more than
// 1e-7 max(1, J), float rounding) is halved until it does not, so J never rises, even
// where a full Newton step overshoots; the slot has
// converged once the largest gradient entry is below the tolerance. Linear models
// converge in one step. A fleet trains every slot this way side by side
// (compute/fleet_training.hpp, optimizer "newton"): a few passes over rows that stay in
// cache, where minibatch methods need dozens of epochs.
#pragma once

#include <cstddef>
#include <vector>

namespace conveyor::compute {

enum class newton_loss { logistic, squared_error };

/// What one slot carries from one iteration to the next.
struct newton_state {
  std::vector<float> previous;  ///< the parameters before the last step (to halve it)
  double objective = 0;         ///< J at `previous` (valid once `stepped`)
  bool stepped = false;
  int halvings = 0;             ///< of the current step
  bool converged = false;
  double gradient_max = 0;      ///< largest |dJ| at the last accepted point
  int iterations = 0;           ///< kept by the caller: newton_iteration calls so far
};

/// Features beyond this make the Hessian large; such fleets use a first-order optimizer.
constexpr int newton_max_features = 256;

/// A step halved this many times without lowering J ends the slot's training (it is at
/// its optimum within float precision).
constexpr int newton_max_halvings = 30;

/// A slot's rows, feature-major: feature a of row r is x[a * stride + r] (stride >= rows),
/// so that every sum over rows is a contiguous loop; y: the labels (0 or 1 for logistic).
struct newton_rows {
  const float* x = nullptr;
  const float* y = nullptr;
  int rows = 0, features = 0;
  std::size_t stride = 0;
};

/// One iteration for one slot. `params`: `features` weights then the bias, updated in
/// place. Sets `state.converged` once max |dJ| < `tolerance`, or after
/// newton_max_halvings halvings. Requires rows >= 1 and features <= newton_max_features.
/// Returns J at the parameters it found on entry.
double newton_iteration(newton_loss kind, const newton_rows& data, float l2, double tolerance,
                        float* params, newton_state& state);

/// The mean loss (without the penalty) at `params`.
double newton_mean_loss(newton_loss kind, const newton_rows& data, const float* params);

} // namespace conveyor::compute
