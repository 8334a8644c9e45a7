// Instance names become file names as they are ([A-Za-z0-9_] and `#`, from graph
// identifiers); any other byte is written as %XX so that no name escapes the folder.
#include "runtime/state_journal.hpp"

#include "base/atomic_file.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace conveyor {

namespace {

constexpr const char* magic = "conveyor-journal 1 ";

std::string file_name_of(const std::string& instance) {
  std::string out;
  for (unsigned char c : instance) {
    if (std::isalnum(c) || c == '_' || c == '#' || c == '-')
      out += static_cast<char>(c);
    else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

std::string instance_of(const std::string& file) {
  std::string out;
  for (std::size_t i = 0; i < file.size(); ++i) {
    if (file[i] == '%' && i + 2 < file.size()) {
      out += static_cast<char>(std::stoi(file.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += file[i];
    }
  }
  return out;
}

/// Length-prefixed fields: `<bytes>:<field>` each.
void put_field(std::string& out, const std::string& field) {
  out += std::to_string(field.size()) + ":" + field;
}

bool get_field(const std::string& in, std::size_t& at, std::string& field) {
  auto colon = in.find(':', at);
  if (colon == std::string::npos || colon == at || colon - at > 19)
    return false;
  std::size_t size = 0;
  for (auto i = at; i < colon; ++i) {
    if (in[i] < '0' || in[i] > '9')
      return false;
    size = size * 10 + static_cast<std::size_t>(in[i] - '0');
  }
  if (size > in.size() - colon - 1)
    return false;
  field = in.substr(colon + 1, size);
  at = colon + 1 + size;
  return true;
}

/// The payload of a record file, or why it cannot be used.
bool read_record(const std::string& path, std::string& payload, std::string& problem) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    problem = path + ": cannot be read";
    return false;
  }
  std::ostringstream all;
  all << in.rdbuf();
  const auto text = all.str();
  const std::string prefix = magic;
  auto newline = text.find('\n');
  if (text.compare(0, prefix.size(), prefix) != 0 || newline == std::string::npos) {
    problem = path + ": not a conveyor journal record";
    return false;
  }
  std::size_t size = 0;
  try {
    size = std::stoull(text.substr(prefix.size(), newline - prefix.size()));
  } catch (const std::exception&) {
    problem = path + ": malformed record header";
    return false;
  }
  if (text.size() - newline - 1 != size) {
    problem = path + ": record holds " + std::to_string(text.size() - newline - 1) +
              " bytes, its header says " + std::to_string(size);
    return false;
  }
  payload = text.substr(newline + 1);
  return true;
}

} // namespace

std::string encode_run_record(const run_record& r) {
  std::string out;
  put_field(out, r.file_name);
  put_field(out, r.graph_source);
  put_field(out, std::to_string(r.overrides.size()));
  for (const auto& [k, v] : r.overrides) {
    put_field(out, k);
    put_field(out, v);
  }
  return out;
}

std::optional<run_record> decode_run_record(const std::string& bytes) {
  run_record r;
  std::size_t at = 0;
  std::string count;
  if (!get_field(bytes, at, r.file_name) || !get_field(bytes, at, r.graph_source) ||
      !get_field(bytes, at, count) || count.empty() || count.size() > 9 ||
      count.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  for (auto n = std::stoul(count); n > 0; --n) {
    std::string k, v;
    if (!get_field(bytes, at, k) || !get_field(bytes, at, v))
      return std::nullopt;
    r.overrides[k] = v;
  }
  if (at != bytes.size())
    return std::nullopt;
  return r;
}

state_journal::state_journal(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/state", ec);
  if (ec)
    throw std::runtime_error("cannot create the state directory '" + dir_ + "/state': " +
                             ec.message());
}

void state_journal::put_run(const run_record& r) {
  run_ = encode_run_record(r);
}

void state_journal::put_ledger(std::string bytes) {
  ledger_ = std::move(bytes);
}

void state_journal::put_state(const std::string& instance, std::string bytes) {
  states_[dir_ + "/state/" + file_name_of(instance) + ".rec"] = std::move(bytes);
}

namespace {

void write_record(const std::string& path, const std::string& payload) {
  write_file_atomically(path, magic + std::to_string(payload.size()) + "\n" + payload);
}

} // namespace

void state_journal::flush() {
  if (run_) {
    write_record(dir_ + "/run.rec", *run_);
    run_.reset();
  }
  while (!states_.empty()) {
    write_record(states_.begin()->first, states_.begin()->second);
    states_.erase(states_.begin());
  }
  if (ledger_) {
    write_record(dir_ + "/ledger.rec", *ledger_);
    ledger_.reset();
  }
}

journal_contents state_journal::load(const std::string& dir) {
  journal_contents c;
  std::string payload, problem;
  if (std::filesystem::exists(dir + "/run.rec")) {
    if (!read_record(dir + "/run.rec", payload, problem))
      c.problems.push_back(problem);
    else if (auto r = decode_run_record(payload))
      c.run = std::move(*r);
    else
      c.problems.push_back(dir + "/run.rec: malformed run record");
  }
  if (std::filesystem::exists(dir + "/ledger.rec")) {
    if (read_record(dir + "/ledger.rec", payload, problem))
      c.ledger = payload;
    else
      c.problems.push_back(problem);
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/state", ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".rec") != 0)
      continue; // temporaries of an interrupted write
    if (read_record(entry.path().string(), payload, problem))
      c.states[instance_of(name.substr(0, name.size() - 4))] = payload;
    else
      c.problems.push_back(problem);
  }
  return c;
}

} // namespace conveyor
