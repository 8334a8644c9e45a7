// Which file a path names, as the system would resolve it when a step opens it: the
// form the graph checks compare paths in (dsl/file_conflicts.hpp).
#pragma once

#include <cstdint>
#include <string>

namespace conveyor::dsl {

struct file_identity {
  /// Absolute, without `.`, `..` or symbolic links (links are followed even when
  /// their target does not exist yet).
  std::string path;
  /// The file exists (after following links).
  bool exists = false;
  /// It exists and is not a regular file (a device, a FIFO, a directory).
  bool special = false;
  /// Device and inode of an existing file: equal for hard links.
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
};

/// Resolves `path` against the current directory; never throws (an unreadable link or
/// directory leaves the rest of the path as written).
file_identity identify_file(const std::string& path);

} // namespace conveyor::dsl
