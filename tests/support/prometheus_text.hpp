// A strict reader of Prometheus' text exposition format (0.0.4) for tests: every line is
// a comment (# HELP / # TYPE) or a sample `name{label="value",...} number`; anything else
// fails the parse with the line's number.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace conveyor::test {

struct prometheus_sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct prometheus_text {
  std::vector<prometheus_sample> samples;
  std::map<std::string, std::string> types; ///< by family name
  std::map<std::string, std::string> help;

  /// The value of the one sample with this name whose labels include `labels`.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    std::optional<double> found;
    for (const auto& s : samples) {
      if (s.name != name)
        continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      if (match) {
        if (found)
          throw std::runtime_error("more than one sample " + name + " matches");
        found = s.value;
      }
    }
    return found;
  }
};

inline prometheus_text parse_prometheus_text(const std::string& text) {
  prometheus_text out;
  std::size_t line_no = 0;
  std::size_t at = 0;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("line " + std::to_string(line_no) + ": " + why);
  };
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    if (end == std::string::npos) {
      ++line_no;
      fail("the last line has no newline");
    }
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const auto rest = line.substr(7);
      const auto space = rest.find(' ');
      if (space == std::string::npos)
        fail("a comment without a name and text");
      (line[2] == 'H' ? out.help : out.types)[rest.substr(0, space)] = rest.substr(space + 1);
      continue;
    }
    prometheus_sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (s.name.empty())
      fail("a sample without a name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
          fail("a label without =\"");
        const std::string key = line.substr(i, eq - i);
        std::string value;
        i = eq + 2;
        for (;; ++i) {
          if (i >= line.size())
            fail("an unterminated label value");
          if (line[i] == '"')
            break;
          if (line[i] == '\\') {
            if (++i >= line.size())
              fail("a dangling backslash");
            if (line[i] == 'n') value += '\n';
            else if (line[i] == '\\' || line[i] == '"') value += line[i];
            else fail("an unknown escape");
          } else {
            value += line[i];
          }
        }
        ++i;
        s.labels[key] = value;
        if (i < line.size() && line[i] == ',')
          ++i;
      }
      if (i >= line.size())
        fail("unterminated labels");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ')
      fail("no space before the value");
    const std::string number = line.substr(i + 1);
    if (number == "+Inf") s.value = HUGE_VAL;
    else if (number == "-Inf") s.value = -HUGE_VAL;
    else {
      char* e = nullptr;
      s.value = std::strtod(number.c_str(), &e);
      if (number.empty() || *e != '\0')
        fail("'" + number + "' is not a number");
    }
    out.samples.push_back(std::move(s));
  }
  return out;
}

} // namespace conveyor::test
