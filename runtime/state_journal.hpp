// The coordinator's state directory (`conveyor run --state-dir D`): what a run needs to
// survive the loss of a node or of the coordinator itself, as records the coordinator
// writes and a new coordinator reads back (`conveyor run --resume D`).
//
// Layout (one file per record, each replaced atomically: write to a temporary, fsync,
// rename; so a crash leaves the old record or the new one, never a torn one):
//   D/run.rec            the run: graph file name, graph text, overrides
//   D/ledger.rec         the delivery ledger: every acknowledged batch position
//   D/state/NAME.rec     the latest durable state of step instance NAME (a cleaner's
//                        statistics, a trainer's checkpoint, an inference step's models)
// Bounded: one record per instance, the latest; nothing accumulates over a run. Every
// file starts with the line `conveyor-journal 1 <payload bytes>`; a record whose length
// does not match is reported, not used.
//
// Writes are batched: `put` marks a record dirty, `flush` writes the dirty ones (the
// coordinator flushes at most every 100 ms and at the end of the run), so a state saved
// or a batch acknowledged in the last interval before a coordinator crash may be lost
// (the batch is then delivered again: at least once across a coordinator crash).
// Plain C++; no actors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace conveyor {

/// What `conveyor run` needs to start the same graph again.
struct run_record {
  std::string file_name;
  std::string graph_source;
  std::map<std::string, std::string> overrides;
};

std::string encode_run_record(const run_record& r);
std::optional<run_record> decode_run_record(const std::string& bytes);

/// What a state directory holds.
struct journal_contents {
  std::optional<run_record> run;
  std::string ledger;
  std::map<std::string, std::string> states; // by instance
  /// Records that could not be read (name and reason); they are left out above.
  std::vector<std::string> problems;
};

class state_journal {
public:
  /// Creates `dir` and `dir/state` if needed; throws std::runtime_error naming the path
  /// and the reason when it cannot.
  explicit state_journal(std::string dir);

  void put_run(const run_record& r);
  void put_ledger(std::string bytes);
  void put_state(const std::string& instance, std::string bytes);
  bool dirty() const { return run_ || !states_.empty() || ledger_; }
  /// Writes every record put since the last flush; throws std::runtime_error (the
  /// records stay pending).
  void flush();

  const std::string& dir() const { return dir_; }

  /// Reads a state directory; `nullopt` when `dir` holds no run record.
  static journal_contents load(const std::string& dir);

private:
  std::string dir_;
  /// Written in this order: the run, the states, the ledger last, so that a ledger on
  /// disk never acknowledges work of a step whose state arrived before it but is not on
  /// disk yet.
  std::optional<std::string> run_;
  std::map<std::string, std::string> states_; // by file path
  std::optional<std::string> ledger_;
};

} // namespace conveyor
