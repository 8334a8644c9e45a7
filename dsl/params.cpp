// Params: one pass over the param statements in file order, evaluating each against the
// table built so far; an override replaces the declared value once its type is checked
// (same type, or an integer for a float). Unused overrides are reported at the end.
#include "dsl/params.hpp"

#include "dsl/did_you_mean.hpp"
#include "dsl/parser.hpp"

namespace conveyor::dsl {

namespace {

std::string override_place(const std::string& name, const std::string& text) {
  std::string shown = text.size() > 40 ? text.substr(0, 40) + "..." : text;
  return "--set " + name + "=" + shown;
}

/// The override's value, or nullopt after reporting bad_override.
std::optional<value> override_value(const std::string& name, const std::string& text,
                                    const value& declared, span declared_at,
                                    const std::string& file, diagnostic_sink& sink) {
  std::string place = override_place(name, text);
  std::string where_declared = "param '" + name + "' is declared at " + file + ":"
                               + std::to_string(declared_at.line) + ":"
                               + std::to_string(declared_at.column) + " as "
                               + type_name(declared);
  // Convenience: a string param takes unquoted text as it is (--set name=foo).
  if (declared.is_string() && (text.empty() || text.front() != '"')) return value{text};
  std::string error;
  auto e = parse_value(text, error);
  if (!e) {
    sink.error_at(diagnostic_code::bad_override, place,
                  "cannot parse the value of param '" + name + "': " + error, where_declared);
    return std::nullopt;
  }
  substitution_budget scratch;
  auto v = evaluate(*e, param_table{}, scratch, nullptr);
  if (!v) {
    sink.error_at(diagnostic_code::bad_override, place,
                  "an override cannot use $references", where_declared);
    return std::nullopt;
  }
  if (declared.is_float() && v->is_integer()) return value{static_cast<double>(v->as_integer())};
  if (type_name(*v) != type_name(declared)) {
    sink.error_at(diagnostic_code::bad_override, place,
                  "param '" + name + "' is " + type_name(declared) + ", got " + type_name(*v),
                  where_declared);
    return std::nullopt;
  }
  return v;
}

} // namespace

param_table resolve_params(const ast::file& file,
                           const std::map<std::string, std::string>& overrides,
                           substitution_budget& budget, diagnostic_sink& sink) {
  param_table table;
  std::map<std::string, span> first_seen;
  for (const auto& s : file.statements)
    if (auto p = std::get_if<ast::param_stmt>(&s)) table.declared.push_back(p->name);
  for (const auto& s : file.statements) {
    auto p = std::get_if<ast::param_stmt>(&s);
    if (!p) continue;
    auto [it, fresh] = first_seen.emplace(p->name, p->name_where);
    if (!fresh) {
      sink.error(diagnostic_code::duplicate_parameter, p->name_where,
                 "duplicate param '" + p->name + "'",
                 "first declared at line " + std::to_string(it->second.line));
      continue;
    }
    auto v = evaluate(p->val, table, budget, &sink);
    if (!v) {
      table.failed.insert(p->name);
      continue;
    }
    auto o = overrides.find(p->name);
    if (o != overrides.end()) {
      auto ov = override_value(p->name, o->second, *v, p->name_where, sink.file(), sink);
      if (!ov) {
        table.failed.insert(p->name);
        continue;
      }
      v = std::move(ov);
    }
    table.values.emplace(p->name, std::move(*v));
  }
  for (const auto& [name, text] : overrides) {
    if (first_seen.count(name) != 0) continue;
    std::string hint = did_you_mean(name, table.declared);
    if (hint.empty())
      hint = table.declared.empty() ? "the graph declares no params"
                                    : "the graph's params are declared with `param NAME = ...`";
    sink.error_at(diagnostic_code::unknown_override, override_place(name, text),
                  "no param '" + name + "' to set", hint);
  }
  return table;
}

} // namespace conveyor::dsl
