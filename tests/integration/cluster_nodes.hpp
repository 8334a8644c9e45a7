// Cluster tests' shared set-up: three `conveyor node` processes on 127.0.0.1 with a
// cluster file naming them, and the CSV pipelines the tests run on them.
#pragma once

#include "process.hpp"

#include <memory>
#include <string>
#include <vector>

namespace conveyor::testing {

/// A running `conveyor node` and the address it printed.
struct node_process {
  std::string name;
  std::unique_ptr<child_process> process;
  std::string address;
  /// Its working directory (where relative paths of the steps it hosts resolve).
  std::string dir;
};

/// Three nodes named a, b and c, labelled with their names; b and c also "work", c also
/// "trainer".
/// Heartbeats every 100 ms; a peer silent for 2 s is lost (generous: this machine is
/// shared and busy, and a false detection would fail a run).
struct three_nodes {
  /// `own_dirs`: each node works in its own folder, `--state-dir dir/node-NAME` (as on
  /// different machines: no node sees the files another wrote under a relative path);
  /// else all in `dir`.
  explicit three_nodes(const std::string& dir, bool own_dirs = false);

  /// SIGTERM to every node still running; each must drain and exit 0 within seconds.
  void stop();
  std::string logs() const;
  /// The node whose log says it hosts `instance` (`hosting ..., NAME, ...`); null if none.
  node_process* host_of(const std::string& instance);

  std::string dir;
  std::vector<node_process> nodes;
  std::string cluster_file;
};

/// A CSV with an `id` column 0..rows-1 and two numeric columns: dir/numbers.csv.
std::string write_numbered_csv(const std::string& dir, int rows);

/// `read -> slow -> write` over three nodes: a CSV of `rows` numbered rows read on node a,
/// a chaos step delaying each batch 5 ms on nodes labelled `slow_on`, the CSV writer
/// (dir/out.csv) on node c. Returns the graph file; the CSV is dir/numbers.csv.
std::string slow_pipeline(const std::string& dir, int rows, const std::string& name,
                          const std::string& slow_on);

} // namespace conveyor::testing
