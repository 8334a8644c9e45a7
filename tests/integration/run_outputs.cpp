#include "run_outputs.hpp"

#include "process.hpp"

#include <fstream>
#include <stdexcept>

namespace conveyor::testing {

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

nlohmann::json load_report(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

nlohmann::json step_of(const nlohmann::json& report, const std::string& name) {
  for (const auto& s : report["steps"])
    if (s["step"] == name)
      return s;
  throw std::runtime_error("no step " + name);
}

std::multiset<long> ids_in(const std::string& csv) {
  std::multiset<long> ids;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line))
    ids.insert(std::stol(line.substr(0, line.find(','))));
  return ids;
}

} // namespace conveyor::testing
