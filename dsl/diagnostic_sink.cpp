// Diagnostic collection: append until limits::max_errors, then drop and remember that some
// were dropped; take() sorts by (line, column), keeping report order among equals.
#include "dsl/diagnostic_sink.hpp"

#include "dsl/limits.hpp"

#include <algorithm>

namespace conveyor::dsl {

void diagnostic_sink::error(diagnostic_code code, span where, std::string message,
                            std::string hint) {
  diagnostic d;
  d.code = code;
  d.location = source_location{file_, where.line, where.column};
  d.message = std::move(message);
  d.hint = std::move(hint);
  d.length = std::max(1, where.length);
  add(std::move(d));
}

void diagnostic_sink::error_at(diagnostic_code code, std::string file, std::string message,
                               std::string hint) {
  diagnostic d;
  d.code = code;
  d.location = source_location{std::move(file), 0, 0};
  d.message = std::move(message);
  d.hint = std::move(hint);
  add(std::move(d));
}

bool diagnostic_sink::full() const { return errors_ >= limits::max_errors; }

void diagnostic_sink::add(diagnostic d) {
  if (full()) {
    overflowed_ = true;
    return;
  }
  if (d.level == severity::error) ++errors_;
  items_.push_back(std::move(d));
}

std::vector<diagnostic> diagnostic_sink::take() {
  std::stable_sort(items_.begin(), items_.end(), [](const diagnostic& a, const diagnostic& b) {
    if (a.location.line != b.location.line) return a.location.line < b.location.line;
    return a.location.column < b.location.column;
  });
  if (overflowed_) {
    diagnostic note;
    note.level = severity::warning;
    note.code = diagnostic_code::syntax;
    note.location = source_location{file_, 0, 0};
    note.message = "too many errors; stopped after " + std::to_string(limits::max_errors);
    items_.push_back(std::move(note));
    overflowed_ = false;
  }
  return std::move(items_);
}

} // namespace conveyor::dsl
