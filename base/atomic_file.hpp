// Files that readers see whole or not at all: write to a temporary in the same
// directory, fsync it, rename it over the target, fsync the directory. A crash leaves
// the old file or the new one, plus at most a stray `NAME.tmp-XXXXXX` (readers ignore
// names they do not expect).
#pragma once

#include <string>
#include <string_view>

namespace conveyor {

/// Writes `bytes` to `path` atomically (mode 0644); the directory must exist.
/// Throws std::runtime_error naming the call, the path and the system's reason; the
/// temporary is removed on failure and the old file, if any, is untouched.
void write_file_atomically(const std::string& path, std::string_view bytes);

/// fsyncs a directory, so that renames and unlinks in it survive a crash. Throws
/// std::runtime_error like write_file_atomically.
void sync_directory(const std::string& dir);

/// The directory holding `path` ("." for a bare name, "/" for a file in the root).
std::string directory_of(const std::string& path);

} // namespace conveyor
