// Diagnostic formatting: for each diagnostic find its source line by scanning for newlines
// (line starts are indexed once), print the header, a gutter with the line (a window of it
// if long) and a caret run under the offending text, tabs kept so columns line up.
#include "dsl/front_end.hpp"

#include "dsl/limits.hpp"

#include <algorithm>

namespace conveyor::dsl {

namespace {

std::vector<std::size_t> line_starts(std::string_view source) {
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < source.size(); ++i)
    if (source[i] == '\n') starts.push_back(i + 1);
  return starts;
}

std::string_view line_text(std::string_view source, const std::vector<std::size_t>& starts,
                           int line) {
  if (line < 1 || static_cast<std::size_t>(line) > starts.size()) return {};
  std::size_t begin = starts[line - 1];
  std::size_t end = source.find('\n', begin);
  if (end == std::string_view::npos) end = source.size();
  if (end > begin && source[end - 1] == '\r') --end;
  return source.substr(begin, end - begin);
}

} // namespace

std::string format_diagnostics(const std::vector<diagnostic>& diagnostics,
                               std::string_view source) {
  std::string out;
  std::vector<std::size_t> starts;
  bool indexed = false;
  for (const auto& d : diagnostics) {
    const char* level = d.level == severity::error ? "error" : "warning";
    const auto& loc = d.location;
    if (loc.line > 0) {
      out += loc.file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) + ": "
             + level + ": " + d.message + "\n";
      if (!indexed) {
        starts = line_starts(source);
        indexed = true;
      }
      std::string_view text = line_text(source, starts, loc.line);
      std::size_t col = static_cast<std::size_t>(std::max(1, loc.column)) - 1;
      if (col > text.size()) col = text.size();
      std::size_t length = static_cast<std::size_t>(std::max(1, d.length));
      // A window of a long line, so that output stays bounded.
      std::size_t from = 0;
      std::string prefix, suffix;
      if (text.size() > limits::max_shown_line) {
        from = col > limits::max_shown_line / 2 ? col - limits::max_shown_line / 2 : 0;
        if (from > 0) prefix = "...";
        if (from + limits::max_shown_line < text.size()) suffix = "...";
        text = text.substr(from, limits::max_shown_line);
      }
      std::size_t caret_at = col - from;
      length = std::min(length, std::max<std::size_t>(1, text.size() > caret_at
                                                           ? text.size() - caret_at
                                                           : 1));
      std::string number = std::to_string(loc.line);
      std::size_t width = std::max<std::size_t>(5, number.size());
      std::string gutter(width + 1, ' ');
      out += std::string(width - number.size(), ' ') + number + " | " + prefix
             + std::string(text) + suffix + "\n";
      std::string pad = prefix.empty() ? "" : "   ";
      for (std::size_t i = 0; i < caret_at && i < text.size(); ++i)
        pad += text[i] == '\t' ? '\t' : ' ';
      out += gutter + "| " + pad + "^" + std::string(length - 1, '~') + "\n";
    } else {
      out += loc.file + ": " + level + ": " + d.message + "\n";
    }
    if (!d.hint.empty()) out += "hint: " + d.hint + "\n";
  }
  return out;
}

} // namespace conveyor::dsl
