#include "actors/gz_file.hpp"

#include "step/step.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

namespace conveyor {

namespace {

std::string gz_error_text(gzFile f) {
  int code = 0;
  const char* msg = gzerror(f, &code);
  if (code == Z_ERRNO)
    return std::strerror(errno);
  return msg ? msg : "unknown zlib error";
}

} // namespace

gz_file::gz_file(const std::string& path) : path_(path) {
  errno = 0;
  file_ = gzopen(path.c_str(), "rb");
  if (file_ == nullptr) {
    int err = errno;
    throw step_failure("cannot open '" + path + "': " +
                       (err != 0 ? std::strerror(err) : "out of memory"));
  }
  gzbuffer(file_, 1 << 18);
}

gz_file::~gz_file() {
  if (file_ != nullptr)
    gzclose(file_);
}

gz_file::gz_file(gz_file&& other) noexcept
  : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)) {}

gz_file& gz_file::operator=(gz_file&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr)
      gzclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

std::size_t gz_file::read(char* data, std::size_t n) {
  std::size_t total = 0;
  while (total < n) {
    auto want = static_cast<unsigned>(std::min<std::size_t>(n - total, INT_MAX / 2));
    int got = gzread(file_, data + total, want);
    if (got < 0)
      throw step_failure("cannot read '" + path_ + "': " + gz_error_text(file_));
    if (got == 0)
      break;
    total += static_cast<std::size_t>(got);
  }
  return total;
}

bool gz_file::read_exact(char* data, std::size_t n) { return read(data, n) == n; }

void gz_file::seek(std::uint64_t offset) {
  auto pos = gzseek(file_, static_cast<z_off_t>(offset), SEEK_SET);
  if (pos < 0 || static_cast<std::uint64_t>(pos) != offset)
    throw step_failure("cannot seek to byte " + std::to_string(offset) + " in '" + path_ +
                       "': " + gz_error_text(file_));
}

} // namespace conveyor
