// The cluster file of `conveyor run --cluster FILE` (TOML; docs/operator-guide.md):
//
//   [cluster]
//   heartbeat_interval_ms = 100     # must match the nodes'
//   connection_timeout_ms = 500
//   state_dir = "coordinator-state"  # optional
//   [tls]                            # optional; all three or none
//   ca = "certs/ca.pem"
//   certificate = "certs/coordinator.pem"
//   key = "certs/coordinator.key"
//   [[node]]
//   name = "a"
//   address = "127.0.0.1:7701"
//
// The file is ASCII. Relative paths resolve against the directory of the cluster file.
// Every error names
// the file, line and column ("cluster.toml:7:9: error: ..."); unknown keys are errors.
#pragma once

#include "base/decoded.hpp"
#include "cluster/address.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::cluster {

/// Mutual TLS: the cluster's CA and this process's certificate and key (PEM files).
struct tls_files {
  std::string ca;
  std::string certificate;
  std::string key;
};

struct node_entry {
  std::string name;
  address where;
};

struct cluster_config {
  /// The middleman's heartbeat interval and the silence after which a peer is declared
  /// lost; the same on every node and the coordinator.
  int heartbeat_interval_ms = 100;
  int connection_timeout_ms = 500;
  /// Where the coordinator writes durable state; empty: kept in memory only.
  std::string state_dir;
  std::optional<tls_files> tls;
  std::vector<node_entry> nodes;
};

/// Reads and checks `path`; TLS files must exist and be readable.
decoded<cluster_config> load_cluster_file(const std::string& path);

/// Parses `text` as the cluster file `path` (which names it in errors and anchors
/// relative paths); TLS files are checked as in load_cluster_file.
decoded<cluster_config> parse_cluster_file(std::string_view text, const std::string& path);

/// All three of ca, certificate and key, or none: a partial set is an error (CAF
/// would fall back to anonymous encryption without authentication), as is a file that
/// cannot be read. Empty when the set is usable or empty; else what is wrong.
std::string check_tls_files(const tls_files& files);

/// Checks heartbeat settings shared by nodes and the coordinator: both positive, the
/// timeout more than twice the interval (one late heartbeat must not drop a peer).
std::string check_heartbeat(int interval_ms, int timeout_ms);

} // namespace conveyor::cluster
