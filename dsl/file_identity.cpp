// Path resolution by hand rather than std::filesystem::weakly_canonical, which stops
// at a link whose target does not exist: a writer creates that target, so a reader of
// the link and a writer of the target name the same file.
#include "dsl/file_identity.hpp"

#include <filesystem>
#include <system_error>
#include <vector>

#include <sys/stat.h>

namespace conveyor::dsl {

namespace {

/// Symbolic links followed at most (as the kernel's ELOOP limit).
constexpr int max_links = 40;

/// Pushes the components of `p` onto `todo` so that the first is popped first.
void push_components(const std::filesystem::path& p, std::vector<std::string>& todo) {
  std::vector<std::string> parts;
  for (const auto& c : p.relative_path()) parts.push_back(c.string());
  todo.insert(todo.end(), parts.rbegin(), parts.rend());
}

} // namespace

file_identity identify_file(const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(text);
  if (p.is_relative()) {
    fs::path cwd = fs::current_path(ec);
    if (!ec) p = cwd / p;
  }
  fs::path resolved = p.root_path();
  std::vector<std::string> todo;
  push_components(p, todo);
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      resolved = resolved.has_relative_path() ? resolved.parent_path() : resolved;
      continue;
    }
    fs::path next = resolved / c;
    struct stat st {};
    if (links < max_links && ::lstat(next.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      fs::path target = fs::read_symlink(next, ec);
      if (!ec) {
        ++links;
        if (target.is_absolute()) resolved = target.root_path();
        push_components(target, todo);
        continue;
      }
    }
    resolved = std::move(next);
  }
  file_identity id;
  id.path = resolved.string();
  struct stat st {};
  if (::stat(id.path.c_str(), &st) == 0) {
    id.exists = true;
    id.special = !S_ISREG(st.st_mode);
    id.device = static_cast<std::uint64_t>(st.st_dev);
    id.inode = static_cast<std::uint64_t>(st.st_ino);
  }
  return id;
}

} // namespace conveyor::dsl
