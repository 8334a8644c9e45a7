// A registry of metric families, rendered in Prometheus' text exposition format 0.0.4
// (docs/metrics.md lists what conveyor exports).
//
// Contract:
// - A family is a name, a help text, a type and label names; its children (one per set
//   of label values) are created on first use and live as long as the registry, so a
//   reference to one may be kept and observed from any thread without locks.
// - Registering a name again with the same type, label names (and buckets) returns the
//   existing family: a restarted step keeps counting where it left off. Anything else
//   (an invalid name, the same name with another shape) throws std::invalid_argument.
// - Collect hooks run at every render, before anything is written: they copy values kept
//   elsewhere (a run's snapshot, a server's queue) into the registry's metrics. After
//   remove_collect_hook returns, the hook is not running and will not run again.
// - Every method may be called from any thread.
#pragma once

#include "metrics/metric.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace conveyor::metrics {

enum class metric_type { counter, gauge, histogram };

/// What every family has; the registry renders through it.
class family_base {
public:
  family_base(std::string name, std::string help, metric_type type,
              std::vector<std::string> label_names);
  virtual ~family_base() = default;
  family_base(const family_base&) = delete;
  family_base& operator=(const family_base&) = delete;

  const std::string& name() const { return name_; }
  metric_type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  /// Appends the family (HELP, TYPE and one line per sample) to `out`.
  void render(std::string& out) const;

protected:
  /// Checks that `values` has one value per label name (std::invalid_argument if not).
  void check_arity(const std::vector<std::string>& values) const;
  virtual void render_samples(std::string& out) const = 0;

  std::string name_, help_;
  metric_type type_;
  std::vector<std::string> label_names_;
};

template <class T>
class family : public family_base {
public:
  family(std::string name, std::string help, metric_type type,
         std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : family_base(std::move(name), std::move(help), type, std::move(label_names)),
        make_(std::move(make)) {}

  /// The child with these label values (one per label name, in order), created at 0.
  T& with(const std::vector<std::string>& label_values) {
    check_arity(label_values);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = children_[label_values];
    if (!slot)
      slot = make_();
    return *slot;
  }

protected:
  void render_samples(std::string& out) const override;

private:
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

template <>
void family<counter>::render_samples(std::string& out) const;
template <>
void family<gauge>::render_samples(std::string& out) const;
template <>
void family<histogram>::render_samples(std::string& out) const;

class registry {
public:
  family<counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names = {});
  family<gauge>& gauge_family(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  /// `bounds`: strictly increasing finite upper bounds (+Inf is added).
  family<histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds);

  std::size_t add_collect_hook(std::function<void()> hook);
  void remove_collect_hook(std::size_t id);

  /// Runs the collect hooks, then renders every family, in name order.
  std::string render();

private:
  template <class T>
  family<T>& add(const std::string& name, const std::string& help, metric_type type,
                 std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make,
                 const std::vector<double>* bounds);

  std::mutex mutex_; ///< families_
  std::map<std::string, std::unique_ptr<family_base>> families_;
  std::map<std::string, std::vector<double>> bounds_; ///< of histogram families
  std::mutex hooks_mutex_; ///< held while hooks run
  std::map<std::size_t, std::function<void()>> hooks_;
  std::size_t next_hook_ = 1;
};

/// The process's registry: what `conveyor run --metrics-listen` serves, and where steps
/// (the inference server) record.
registry& default_registry();

/// Text format helpers (exposed for tests): a sample value (`+Inf`, `-Inf`, `NaN`, or the
/// shortest decimal that reads back the same), a label value with `\`, `"` and newline
/// escaped, a HELP text with `\` and newline escaped.
std::string format_value(double v);
std::string escape_label_value(const std::string& v);
std::string escape_help(const std::string& v);

} // namespace conveyor::metrics
