#include "metrics/registry.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace conveyor::metrics {

namespace {

bool valid_name(const std::string& n, bool colons) {
  if (n.empty())
    return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                        (colons && c == ':');
    if (!letter && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  return true;
}

const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

/// `{a="x",b="y"` (no closing brace: a histogram adds `le`), or nothing without labels.
void open_labels(std::string& out, const std::vector<std::string>& names,
                 const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? '{' : ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
}

void sample(std::string& out, const std::string& name, const std::vector<std::string>& names,
            const std::vector<std::string>& values, double v) {
  out += name;
  open_labels(out, names, values);
  if (!names.empty())
    out += '}';
  out += ' ';
  out += format_value(v);
  out += '\n';
}

} // namespace

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, end);
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

family_base::family_base(std::string name, std::string help, metric_type type,
                         std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type),
      label_names_(std::move(label_names)) {}

void family_base::check_arity(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size())
    throw std::invalid_argument("metric '" + name_ + "' has " +
                                std::to_string(label_names_.size()) + " label(s); got " +
                                std::to_string(values.size()) + " value(s)");
}

void family_base::render(std::string& out) const {
  out += "# HELP " + name_ + ' ' + escape_help(help_) + '\n';
  out += "# TYPE " + name_ + ' ' + type_name(type_) + '\n';
  render_samples(out);
}

template <>
void family<counter>::render_samples(std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, c] : children_)
    sample(out, name_, label_names_, values, c->value());
}

template <>
void family<gauge>::render_samples(std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, g] : children_)
    sample(out, name_, label_names_, values, g->value());
}

template <>
void family<histogram>::render_samples(std::string& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, h] : children_) {
    const auto s = h->read();
    const auto& bounds = h->bounds();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      out += name_ + "_bucket";
      open_labels(out, label_names_, values);
      out += label_names_.empty() ? "{le=\"" : ",le=\"";
      out += i < bounds.size() ? format_value(bounds[i]) : "+Inf";
      out += "\"} ";
      out += std::to_string(s.cumulative[i]);
      out += '\n';
    }
    sample(out, name_ + "_sum", label_names_, values, s.sum);
    sample(out, name_ + "_count", label_names_, values,
           static_cast<double>(s.cumulative.back()));
  }
}

template <class T>
family<T>& registry::add(const std::string& name, const std::string& help, metric_type type,
                         std::vector<std::string> label_names,
                         std::function<std::unique_ptr<T>()> make,
                         const std::vector<double>* bounds) {
  if (!valid_name(name, true))
    throw std::invalid_argument("'" + name + "' is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  for (const auto& l : label_names)
    if (!valid_name(l, false) || l.rfind("__", 0) == 0 ||
        (type == metric_type::histogram && l == "le"))
      throw std::invalid_argument("metric '" + name + "': '" + l + "' is not a label name");
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = families_[name];
  if (slot) {
    if (slot->type() != type || slot->label_names() != label_names ||
        (bounds && bounds_[name] != *bounds))
      throw std::invalid_argument("metric '" + name +
                                  "' is already registered with another type, labels or buckets");
    return static_cast<family<T>&>(*slot);
  }
  auto f = std::make_unique<family<T>>(name, help, type, std::move(label_names), std::move(make));
  auto& out = *f;
  slot = std::move(f);
  if (bounds)
    bounds_[name] = *bounds;
  return out;
}

family<counter>& registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  return add<counter>(name, help, metric_type::counter, std::move(label_names),
                      [] { return std::make_unique<counter>(); }, nullptr);
}

family<gauge>& registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return add<gauge>(name, help, metric_type::gauge, std::move(label_names),
                    [] { return std::make_unique<gauge>(); }, nullptr);
}

family<histogram>& registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i)
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
      throw std::invalid_argument("histogram '" + name +
                                  "': bucket bounds must be finite and strictly increasing");
  auto shared = std::make_shared<const std::vector<double>>(bounds);
  return add<histogram>(name, help, metric_type::histogram, std::move(label_names),
                        [shared] { return std::make_unique<histogram>(shared); }, &bounds);
}

std::size_t registry::add_collect_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  hooks_[next_hook_] = std::move(hook);
  return next_hook_++;
}

void registry::remove_collect_hook(std::size_t id) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  hooks_.erase(id);
}

std::string registry::render() {
  {
    std::lock_guard<std::mutex> lock(hooks_mutex_);
    for (auto& [id, hook] : hooks_)
      hook();
  }
  std::string out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, f] : families_)
    f->render(out);
  return out;
}

registry& default_registry() {
  static registry r;
  return r;
}

} // namespace conveyor::metrics
