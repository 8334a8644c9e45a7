// Evaluation: a walk of the expression (lists recurse, depth bounded by the parser), each
// reference looked up in the param table; every produced character and list element is
// charged to a budget so substitution cannot blow up.
#include "dsl/evaluate.hpp"

#include "dsl/did_you_mean.hpp"
#include "dsl/limits.hpp"

#include <algorithm>

namespace conveyor::dsl {

namespace {

std::size_t weight(const value& v) {
  if (v.is_string()) return v.as_string().size() + 1;
  if (v.is_list()) {
    std::size_t w = 1;
    for (const auto& x : v.as_list()) w += weight(x);
    return w;
  }
  return 1;
}

class evaluator {
public:
  evaluator(const param_table& params, substitution_budget& budget, diagnostic_sink* sink)
    : params_(params), budget_(budget), sink_(sink) {}

  std::optional<value> eval(const ast::expr& e) {
    switch (e.k) {
      case ast::expr::kind::reference: {
        const value* v = lookup(e.reference, e.where);
        if (!v || !charge(weight(*v), e.where)) return std::nullopt;
        return *v;
      }
      case ast::expr::kind::list: {
        list_value items;
        items.reserve(e.items.size());
        for (const auto& item : e.items) {
          auto v = eval(item);
          if (!v) return std::nullopt;
          items.push_back(std::move(*v));
        }
        if (!charge(1, e.where)) return std::nullopt;
        return value{std::move(items)};
      }
      case ast::expr::kind::literal: {
        if (!e.literal.is_string() || e.refs.empty()) {
          if (!charge(weight(e.literal), e.where)) return std::nullopt;
          return e.literal;
        }
        const std::string& text = e.literal.as_string();
        std::string out;
        std::size_t done = 0;
        bool ok = true;
        for (const auto& r : e.refs) {
          std::size_t at = std::min(r.offset, text.size());
          out.append(text, done, at - done);
          done = at;
          const value* v = lookup(r.name, r.where);
          if (!v) {
            ok = false;
            continue;
          }
          std::string sub = substitution_text(*v);
          if (!charge(sub.size(), e.where)) return std::nullopt;
          out += sub;
        }
        out.append(text, done, std::string::npos);
        if (!ok || !charge(out.size(), e.where)) return std::nullopt;
        return value{std::move(out)};
      }
    }
    return std::nullopt;
  }

private:
  const value* lookup(const std::string& name, span where) {
    auto it = params_.values.find(name);
    if (it != params_.values.end()) return &it->second;
    if (params_.failed.count(name) == 0 && sink_) {
      bool later = std::find(params_.declared.begin(), params_.declared.end(), name)
                   != params_.declared.end();
      std::string hint = later ? "declare param '" + name + "' before its first use"
                               : did_you_mean(name, params_.declared);
      if (hint.empty()) hint = "declare it with `param " + name + " = ...`";
      sink_->error(diagnostic_code::unknown_param_reference, where,
                   "unknown param '$" + name + "'", hint);
    }
    return nullptr;
  }

  bool charge(std::size_t amount, span where) {
    budget_.used += amount;
    if (budget_.used <= limits::max_substituted_size) return true;
    if (sink_ && !budget_.reported) {
      budget_.reported = true;
      sink_->error(diagnostic_code::too_large, where,
                   "param substitution produces more than "
                     + std::to_string(limits::max_substituted_size) + " characters and elements");
    }
    return false;
  }

  const param_table& params_;
  substitution_budget& budget_;
  diagnostic_sink* sink_;
};

} // namespace

std::optional<value> evaluate(const ast::expr& e, const param_table& params,
                              substitution_budget& budget, diagnostic_sink* sink) {
  return evaluator{params, budget, sink}.eval(e);
}

std::string substitution_text(const value& v) {
  return v.is_string() ? v.as_string() : to_source(v);
}

} // namespace conveyor::dsl
