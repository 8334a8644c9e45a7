#include "base/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace conveyor {

namespace {

[[noreturn]] void fail(const std::string& call, const std::string& path, int error) {
  throw std::runtime_error(call + " " + path + ": " + std::strerror(error));
}

} // namespace

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail("open directory", dir, errno);
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    fail("fsync directory", dir, e);
  }
  ::close(fd);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const auto dir = directory_of(path);
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    fail("create temporary", tmp, errno);
  auto abandon = [&](const std::string& call) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(call, tmp, e);
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      abandon("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0)
    abandon("fchmod");
  if (::fsync(fd) != 0)
    abandon("fsync");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail("close", tmp, e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail("rename " + tmp + " to", path, e);
  }
  sync_directory(dir);
}

} // namespace conveyor
