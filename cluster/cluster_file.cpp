// toml++ reports parse errors with their position; values of the wrong type, unknown
// keys and bad addresses are reported at the node's own position the same way.
#include "cluster/cluster_file.hpp"

#include <toml++/toml.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace conveyor::cluster {

namespace {

namespace fs = std::filesystem;

struct located_error {
  std::string message;
};

std::string at(const std::string& path, const toml::source_region& where) {
  return path + ":" + std::to_string(where.begin.line) + ":" +
         std::to_string(where.begin.column) + ": error: ";
}

class reader {
public:
  reader(std::string path, fs::path base) : path_(std::move(path)), base_(std::move(base)) {}

  [[noreturn]] void fail(const toml::node& where, const std::string& message) const {
    throw located_error{at(path_, where.source()) + message};
  }

  void only_keys(const toml::table& table, const std::string& name,
                 std::initializer_list<std::string_view> allowed) const {
    for (const auto& [key, value] : table) {
      bool known = false;
      for (auto a : allowed)
        known = known || key.str() == a;
      if (!known)
        throw located_error{at(path_, key.source()) + "unknown key '" + std::string(key.str()) +
                            "' in " + name};
    }
  }

  const toml::table* table(const toml::table& root, std::string_view key) const {
    const auto* n = root.get(key);
    if (n == nullptr)
      return nullptr;
    if (!n->is_table())
      fail(*n, "'" + std::string(key) + "' must be a table ([" + std::string(key) + "])");
    return n->as_table();
  }

  std::optional<std::string> text(const toml::table& t, std::string_view key,
                                  const std::string& where) const {
    const auto* n = t.get(key);
    if (n == nullptr)
      return std::nullopt;
    if (!n->is_string())
      fail(*n, where + "." + std::string(key) + " must be a string");
    auto s = n->as_string()->get();
    if (s.empty())
      fail(*n, where + "." + std::string(key) + " must not be empty");
    return s;
  }

  std::optional<int> millis(const toml::table& t, std::string_view key) const {
    const auto* n = t.get(key);
    if (n == nullptr)
      return std::nullopt;
    if (!n->is_integer() || n->as_integer()->get() <= 0 || n->as_integer()->get() > 3600000)
      fail(*n, "cluster." + std::string(key) + " must be a whole number of milliseconds from 1 "
                                                "to 3600000");
    return static_cast<int>(n->as_integer()->get());
  }

  std::string resolve(const std::string& p) const {
    fs::path path{p};
    return path.is_absolute() ? p : (base_ / path).lexically_normal().string();
  }

  const std::string& path() const { return path_; }

private:
  std::string path_;
  fs::path base_;
};

cluster_config read(const toml::table& root, const reader& r) {
  r.only_keys(root, "the cluster file", {"cluster", "tls", "node"});
  cluster_config c;
  if (const auto* t = r.table(root, "cluster")) {
    r.only_keys(*t, "[cluster]", {"heartbeat_interval_ms", "connection_timeout_ms", "state_dir"});
    if (auto v = r.millis(*t, "heartbeat_interval_ms"))
      c.heartbeat_interval_ms = *v;
    if (auto v = r.millis(*t, "connection_timeout_ms"))
      c.connection_timeout_ms = *v;
    if (auto v = r.text(*t, "state_dir", "cluster"))
      c.state_dir = r.resolve(*v);
    if (auto why = check_heartbeat(c.heartbeat_interval_ms, c.connection_timeout_ms);
        !why.empty())
      r.fail(*t, why);
  }
  if (const auto* t = r.table(root, "tls")) {
    r.only_keys(*t, "[tls]", {"ca", "certificate", "key"});
    tls_files files;
    for (auto [key, into] : {std::pair<const char*, std::string*>{"ca", &files.ca},
                             {"certificate", &files.certificate},
                             {"key", &files.key}})
      if (auto v = r.text(*t, key, "tls"))
        *into = r.resolve(*v);
    if (files.ca.empty() && files.certificate.empty() && files.key.empty())
      r.fail(*t, "[tls] is empty: give ca, certificate and key, or remove the table");
    if (auto why = check_tls_files(files); !why.empty())
      r.fail(*t, "[tls]: " + why);
    c.tls = files;
  }
  const auto* nodes = root.get("node");
  if (nodes == nullptr)
    throw located_error{r.path() + ": error: no [[node]] entries: a cluster needs at least one "
                                   "node"};
  if (!nodes->is_array_of_tables())
    r.fail(*nodes, "'node' must be an array of tables ([[node]])");
  std::set<std::string> names;
  std::set<std::string> addresses;
  for (const auto& n : *nodes->as_array()) {
    const auto& t = *n.as_table();
    r.only_keys(t, "[[node]]", {"name", "address"});
    auto name = r.text(t, "name", "node");
    if (!name)
      r.fail(t, "a [[node]] needs a name");
    const auto* a = t.get("address");
    if (a == nullptr)
      r.fail(t, "node '" + *name + "' needs an address (\"HOST:PORT\")");
    if (!a->is_string())
      r.fail(*a, "node.address must be a string \"HOST:PORT\"");
    auto where = parse_address(a->as_string()->get());
    if (!where)
      r.fail(*a, where.error);
    if (!names.insert(*name).second)
      r.fail(*t.get("name"), "a second node named '" + *name + "'");
    if (!addresses.insert(to_string(*where.value)).second)
      r.fail(*a, "a second node at " + to_string(*where.value));
    c.nodes.push_back(node_entry{*name, *where.value});
  }
  return c;
}

/// Cluster files are ASCII: toml++ 3.3 reaches points it marks unreachable (undefined
/// behaviour) when it classifies some non-ASCII characters (U+FBFF, U+FD7F, found by
/// fuzzing), and names, addresses and paths need none. Empty, or the error at the
/// first other byte.
std::string refuse_non_ascii(std::string_view text, const std::string& path) {
  std::size_t line = 1, column = 1;
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x80) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      return path + ":" + std::to_string(line) + ":" + std::to_string(column) +
             ": error: byte " + hex + ": a cluster file must be ASCII";
    }
    if (b == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {};
}

} // namespace

std::string check_heartbeat(int interval_ms, int timeout_ms) {
  if (interval_ms <= 0 || timeout_ms <= 0)
    return "heartbeat interval and connection timeout must be positive";
  if (timeout_ms <= 2 * interval_ms)
    return "the connection timeout (" + std::to_string(timeout_ms) +
           " ms) must be more than twice the heartbeat interval (" +
           std::to_string(interval_ms) + " ms)";
  return {};
}

std::string check_tls_files(const tls_files& files) {
  int given = !files.ca.empty() + !files.certificate.empty() + !files.key.empty();
  if (given == 0)
    return {};
  if (given != 3) {
    std::string missing;
    for (auto [name, value] : {std::pair<const char*, const std::string*>{"ca", &files.ca},
                               {"certificate", &files.certificate},
                               {"key", &files.key}})
      if (value->empty())
        missing += (missing.empty() ? "" : ", ") + std::string(name);
    return "TLS needs ca, certificate and key together; missing: " + missing +
           " (a partial set would fall back to unauthenticated encryption)";
  }
  for (const auto* f : {&files.ca, &files.certificate, &files.key}) {
    std::ifstream in(*f);
    if (!in || in.peek() == std::ifstream::traits_type::eof())
      return "cannot read TLS file '" + *f + "' (missing, unreadable or empty)";
  }
  return {};
}

decoded<cluster_config> parse_cluster_file(std::string_view text, const std::string& path) {
  if (auto refused = refuse_non_ascii(text, path); !refused.empty())
    return decoded<cluster_config>::failure(refused);
  try {
    auto root = toml::parse(text, path);
    reader r{path, fs::path(path).parent_path()};
    return decoded<cluster_config>::success(read(root, r));
  } catch (const toml::parse_error& e) {
    return decoded<cluster_config>::failure(at(path, e.source()) + std::string(e.description()));
  } catch (const located_error& e) {
    return decoded<cluster_config>::failure(e.message);
  }
}

decoded<cluster_config> load_cluster_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return decoded<cluster_config>::failure("cannot open cluster file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_cluster_file(text.str(), path);
}

} // namespace conveyor::cluster
