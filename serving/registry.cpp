#include "serving/registry.hpp"

#include "base/atomic_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace conveyor::serving {

namespace {

constexpr std::size_t max_name_length = 128;
constexpr std::string_view model_suffix = ".model";
/// The high-water mark of a name: the next version to allocate, in decimal.
constexpr const char* next_file = ".next";
constexpr const char* lock_file = ".lock";

[[noreturn]] void fail(const std::string& call, const std::string& path) {
  throw std::runtime_error("model registry: " + call + " " + path + ": " + std::strerror(errno));
}

void require_valid_name(const std::string& name) {
  if (!valid_model_name(name))
    throw std::invalid_argument("invalid model name '" + name +
                                "': use 1 to 128 letters, digits, '_', '-' or '.', not "
                                "starting with '.'");
}

/// The version a directory entry holds: `<digits>.model` without leading zeros (so that
/// path_of names every version's one file), or nothing for anything else.
std::optional<std::uint64_t> parse_version(std::string_view file) {
  if (file.size() <= model_suffix.size() ||
      file.substr(file.size() - model_suffix.size()) != model_suffix)
    return std::nullopt;
  auto digits = file.substr(0, file.size() - model_suffix.size());
  if (digits.size() > 18 || digits[0] == '0') // 18 digits cannot overflow
    return std::nullopt;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

/// Entry names of `dir`; empty when it does not exist or is not a directory.
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR)
      return out;
    fail("opendir", dir);
  }
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    out.emplace_back(e->d_name);
    errno = 0;
  }
  const int saved = errno;
  ::closedir(d);
  if (saved != 0) {
    errno = saved;
    fail("readdir", dir);
  }
  return out;
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("model registry: create_directories " + dir + ": " + ec.message());
}

/// Readers see the old file or the whole new one; a crash leaves at most a stray
/// temporary, which readers ignore. Errors say they come from the registry.
void write_atomically(const std::string& path, std::string_view bytes) {
  try {
    write_file_atomically(path, bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("model registry: ") + e.what());
  }
}

void fsync_dir(const std::string& dir) {
  try {
    sync_directory(dir);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("model registry: ") + e.what());
  }
}

/// Reads at most `limit` bytes from `offset`; nullopt when the file vanished.
std::optional<std::string> read_bytes(const std::string& path, std::uint64_t offset,
                                      std::size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return std::nullopt;
    fail("open", path);
  }
  std::string out(limit, '\0');
  std::size_t done = 0;
  while (done < limit) {
    const ssize_t n = ::pread(fd, out.data() + done, limit - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail("read", path);
    }
    if (n == 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

/// The allocation lock of one name, held from construction to destruction. flock locks
/// belong to the open file, so threads of one process exclude each other too.
class name_lock {
public:
  explicit name_lock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      fail("open", path);
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR)
        continue;
      const int saved = errno;
      ::close(fd_);
      errno = saved;
      fail("flock", path);
    }
  }
  ~name_lock() { ::close(fd_); } // closing releases the lock
  name_lock(const name_lock&) = delete;
  name_lock& operator=(const name_lock&) = delete;

private:
  int fd_ = -1;
};

/// The stored high-water mark; 0 when there is none (or it is unreadable: the versions
/// on disk then decide, which is only weaker after the newest was removed by hand).
std::uint64_t read_next(const std::string& path) {
  auto text = read_bytes(path, 0, 32);
  if (!text)
    return 0;
  std::uint64_t v = 0;
  for (char c : *text) {
    if (c == '\n')
      break;
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10)
      return 0;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

} // namespace

bool valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_length || name[0] == '.')
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
  });
}

registry::registry(std::string root) : root_(std::move(root)) {}

std::string registry::dir_of(const std::string& name) const {
  require_valid_name(name);
  return root_ + "/" + name;
}

std::string registry::path_of(const std::string& name, std::uint64_t version) const {
  return dir_of(name) + "/" + std::to_string(version) + std::string(model_suffix);
}

std::vector<model_version> registry::versions(const std::string& name) const {
  const auto dir = dir_of(name);
  std::vector<model_version> out;
  for (const auto& file : list_dir(dir)) {
    auto v = parse_version(file);
    if (!v)
      continue;
    model_version m;
    m.name = name;
    m.version = *v;
    m.path = dir + "/" + file;
    struct stat st {};
    if (::stat(m.path.c_str(), &st) != 0) {
      if (errno == ENOENT) // removed since the listing
        continue;
      fail("stat", m.path);
    }
    if (!S_ISREG(st.st_mode))
      continue;
    m.size_bytes = static_cast<std::uint64_t>(st.st_size);
    m.modified_unix = static_cast<std::int64_t>(st.st_mtim.tv_sec);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const model_version& a, const model_version& b) { return a.version < b.version; });
  return out;
}

std::optional<model_version> registry::latest(const std::string& name) const {
  auto all = versions(name);
  if (all.empty())
    return std::nullopt;
  return std::move(all.back());
}

std::vector<std::string> registry::names() const {
  std::vector<std::string> out;
  for (const auto& entry : list_dir(root_)) {
    if (!valid_model_name(entry))
      continue;
    bool listed = true;
    try {
      listed = !versions(entry).empty();
    } catch (const std::runtime_error&) {
      // Unreadable: listed all the same, so that asking for its versions reports the
      // error for this name alone instead of hiding every other name.
    }
    if (listed)
      out.push_back(entry);
  }
  std::sort(out.begin(), out.end());
  return out;
}

publish_result registry::publish(const std::string& name, std::string_view artifact,
                                 std::size_t keep) {
  const auto dir = dir_of(name);
  if (auto decoded = compute::model_file::decode(artifact); !decoded)
    throw std::invalid_argument(decoded.error);
  make_dirs(dir);
  name_lock lock(dir + "/" + lock_file);

  publish_result r;
  const auto existing = versions(name);
  // Identical bytes are most likely the newest version (a replay), so look there first.
  // A valid model file ends with its CRC-32: comparing sizes and those 4 bytes rules out
  // nearly every other file without reading it.
  const auto crc = artifact.substr(artifact.size() - 4);
  for (auto it = existing.rbegin(); it != existing.rend(); ++it) {
    if (it->size_bytes != artifact.size())
      continue;
    auto tail = read_bytes(it->path, it->size_bytes - 4, 4);
    if (!tail || *tail != crc)
      continue;
    auto whole = read_bytes(it->path, 0, artifact.size());
    if (whole && *whole == artifact) {
      r.version = it->version;
      r.path = it->path;
      return r;
    }
  }

  const std::uint64_t newest = existing.empty() ? 0 : existing.back().version;
  r.version = std::max({read_next(dir + "/" + next_file), newest + 1, std::uint64_t{1}});
  r.path = path_of(name, r.version);
  r.created = true;
  write_atomically(r.path, artifact);
  // After the model: a crash in between loses nothing, as the file itself counts too.
  write_atomically(dir + "/" + next_file, std::to_string(r.version + 1) + "\n");

  if (keep > 0 && existing.size() + 1 > keep) {
    const std::size_t drop = existing.size() + 1 - keep;
    for (std::size_t i = 0; i < drop; ++i) {
      if (::unlink(existing[i].path.c_str()) != 0 && errno != ENOENT)
        fail("unlink", existing[i].path);
      r.pruned.push_back(existing[i].version);
    }
    fsync_dir(dir);
  }
  return r;
}

bool registry::remove(const std::string& name, std::uint64_t version) {
  const auto path = path_of(name, version);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT)
      return false;
    fail("unlink", path);
  }
  fsync_dir(dir_of(name));
  return true;
}

decoded<compute::model_artifact> registry::load(const std::string& name, std::uint64_t version,
                                                std::size_t max_bytes) const {
  return compute::model_file::load(path_of(name, version), max_bytes);
}

} // namespace conveyor::serving
