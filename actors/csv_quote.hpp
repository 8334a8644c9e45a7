// CSV conventions shared by the reader and the writer: the delimiter parameter and
// quoting per RFC 4180 where a field needs it.
#pragma once

#include "step/step.hpp"

#include <string>
#include <string_view>

namespace conveyor {

/// Validates a `delimiter` parameter: one character (`\t` written as two characters
/// is accepted for a tab), not a quote or line break. Throws step_failure otherwise.
inline char csv_delimiter(std::string d, const std::string& kind) {
  if (d == "\\t")
    d = "\t";
  if (d.size() != 1 || d[0] == '"' || d[0] == '\n' || d[0] == '\r')
    throw step_failure(kind + ": parameter 'delimiter' must be one character other than a "
                              "quote or line break, got '" + d + "'");
  return d[0];
}

/// True if `s` must be quoted to read back as itself: it holds the delimiter, a
/// quote or a line break, or has leading or trailing blanks.
inline bool csv_needs_quotes(std::string_view s, char delimiter) {
  if (!s.empty() && (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' ||
                     s.back() == '\t'))
    return true;
  for (char c : s)
    if (c == delimiter || c == '"' || c == '\n' || c == '\r')
      return true;
  return false;
}

/// Appends `s` to `out`, quoted (with doubled quotes) where needed.
inline void append_csv_field(std::string& out, std::string_view s, char delimiter) {
  if (!csv_needs_quotes(s, delimiter)) {
    out.append(s.data(), s.size());
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"')
      out += '"';
    out += c;
  }
  out += '"';
}

} // namespace conveyor
