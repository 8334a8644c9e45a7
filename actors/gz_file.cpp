// gz_file: raw bytes come from the file descriptor (waited on with poll for inputs that
// can block), gzip data goes through zlib's inflate with the member boundaries and the
// end of input checked here, which zlib's gzread leaves to the caller.
#include "actors/gz_file.hpp"

#include "step/step.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace conveyor {

namespace {

constexpr std::size_t input_bytes = 1 << 18;
/// How long one wait for a slow input lasts before the stop flag is checked again.
constexpr int wait_slice_ms = 50;

bool is_gzip_magic(const unsigned char* p) { return p[0] == 0x1f && p[1] == 0x8b; }

} // namespace

struct gz_file::state {
  enum class format { unknown, plain, gzip };

  std::string path;
  const step_context* stop = nullptr;
  int fd = -1;
  bool rereadable = false; // a regular file: lseek works
  bool pollable = false;   // a FIFO, socket or device: wait with poll
  format fmt = format::unknown;
  std::vector<unsigned char> in = std::vector<unsigned char>(input_bytes);
  std::size_t in_pos = 0;
  std::size_t in_end = 0;
  bool in_eof = false;
  bool stopped = false;
  z_stream z{};
  bool z_ready = false;
  bool between_members = false; // a member ended; is another one next?
  bool finished = false;        // the last gzip member ended
  std::uint64_t position = 0;   // uncompressed offset of the next byte

  state(std::string p, const step_context* s) : path(std::move(p)), stop(s) {}
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() {
    if (z_ready)
      inflateEnd(&z);
    if (fd >= 0)
      ::close(fd);
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw step_failure("cannot read '" + path + "': " + why);
  }

  bool stop_now() {
    if (!stopped && stop != nullptr && stop->stop_requested())
      stopped = true;
    return stopped;
  }

  /// Raw bytes from the descriptor; 0 at the end of the file or once stopped.
  std::size_t raw_read(unsigned char* buf, std::size_t n) {
    for (;;) {
      if (stop_now())
        return 0;
      if (pollable) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, wait_slice_ms);
        if (r < 0 && errno != EINTR)
          fail(std::strerror(errno));
        if (r <= 0)
          continue;
      }
      ssize_t got = ::read(fd, buf, n);
      if (got >= 0)
        return static_cast<std::size_t>(got);
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
        fail(std::strerror(errno));
    }
  }

  /// Appends raw input after what is buffered; sets in_eof at the end of the file.
  void fill_input() {
    if (in_pos > 0) {
      std::memmove(in.data(), in.data() + in_pos, in_end - in_pos);
      in_end -= in_pos;
      in_pos = 0;
    }
    auto got = raw_read(in.data() + in_end, in.size() - in_end);
    in_end += got;
    if (got == 0 && !stopped)
      in_eof = true;
  }

  /// Buffers at least `n` raw bytes unless the input ends (or stops) first.
  void buffer_at_least(std::size_t n) {
    while (in_end - in_pos < n && !in_eof && !stopped)
      fill_input();
  }

  void detect() {
    buffer_at_least(2);
    if (stopped)
      return;
    if (in_end - in_pos >= 2 && is_gzip_magic(in.data() + in_pos)) {
      if (!z_ready) {
        if (inflateInit2(&z, 15 + 16) != Z_OK)
          fail("out of memory for gzip decompression");
        z_ready = true;
      } else {
        inflateReset(&z);
      }
      fmt = format::gzip;
    } else {
      fmt = format::plain;
    }
  }

  std::size_t read_plain(char* data, std::size_t n) {
    std::size_t total = std::min(n, in_end - in_pos);
    std::memcpy(data, in.data() + in_pos, total);
    in_pos += total;
    while (total < n && !(pollable && total > 0)) {
      auto got = raw_read(reinterpret_cast<unsigned char*>(data + total), n - total);
      if (got == 0)
        break;
      total += got;
    }
    return total;
  }

  /// After a member's end: another member follows only if the gzip magic does.
  void next_member() {
    buffer_at_least(2);
    if (stopped)
      return;
    between_members = false;
    if (in_end - in_pos >= 2 && is_gzip_magic(in.data() + in_pos))
      inflateReset(&z);
    else
      finished = true;
  }

  std::size_t read_gzip(char* data, std::size_t n) {
    std::size_t total = 0;
    while (total < n && !finished) {
      if (between_members) {
        next_member();
        if (stopped)
          break;
        continue;
      }
      if (in_pos == in_end && !in_eof) {
        if (pollable && total > 0)
          break; // a slow input: hand over what has arrived
        fill_input();
        if (stopped)
          break;
        continue;
      }
      z.next_in = in.data() + in_pos;
      z.avail_in = static_cast<uInt>(in_end - in_pos);
      z.next_out = reinterpret_cast<Bytef*>(data + total);
      z.avail_out = static_cast<uInt>(std::min<std::size_t>(n - total, 1u << 30));
      const uInt out_before = z.avail_out;
      int ret = inflate(&z, Z_NO_FLUSH);
      in_pos = in_end - z.avail_in;
      total += out_before - z.avail_out;
      if (ret == Z_STREAM_END) {
        between_members = true;
      } else if (ret == Z_BUF_ERROR) {
        // No progress: more input is needed, and there is none.
        if (in_pos == in_end && in_eof)
          fail("the gzip data is truncated: it ends after " + std::to_string(position + total) +
               " uncompressed bytes, before the end of its stream");
      } else if (ret != Z_OK) {
        fail(std::string("corrupt gzip data (") + (z.msg != nullptr ? z.msg : zError(ret)) +
             ") after " + std::to_string(position + total) + " uncompressed bytes");
      }
    }
    return total;
  }

  std::size_t read(char* data, std::size_t n) {
    if (stop_now())
      return 0;
    if (fmt == format::unknown) {
      detect();
      if (stopped)
        return 0;
    }
    auto got = fmt == format::plain ? read_plain(data, n) : read_gzip(data, n);
    position += got;
    return got;
  }

  std::size_t read_full(char* data, std::size_t n) {
    std::size_t total = 0;
    while (total < n) {
      auto got = read(data + total, n - total);
      if (got == 0)
        break;
      total += got;
    }
    return total;
  }

  void rewind() {
    if (::lseek(fd, 0, SEEK_SET) != 0)
      fail(std::string("cannot rewind: ") + std::strerror(errno));
    in_pos = in_end = 0;
    in_eof = false;
    between_members = finished = false;
    fmt = format::unknown;
    position = 0;
  }

  void seek(std::uint64_t offset) {
    if (offset == position)
      return;
    const std::string where = "cannot seek to byte " + std::to_string(offset) + " in '" + path + "'";
    if (!rereadable)
      throw step_failure(where + ": it is not a regular file (a FIFO or a device cannot be reread)");
    if (fmt == format::unknown)
      detect();
    if (fmt == format::plain) {
      if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0)
        throw step_failure(where + ": " + std::strerror(errno));
      in_pos = in_end = 0;
      in_eof = false;
      position = offset;
      return;
    }
    if (offset < position)
      rewind();
    std::vector<char> scratch(1 << 16);
    while (position < offset) {
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(scratch.size(), offset - position));
      auto got = read_full(scratch.data(), want);
      if (stopped)
        return;
      if (got == 0)
        throw step_failure(where + ": the stream ends at byte " + std::to_string(position));
    }
  }
};

gz_file::gz_file() = default;

gz_file::gz_file(const std::string& path, const step_context* stop) {
  if (path.find('\0') != std::string::npos)
    throw step_failure("cannot open '" + path.substr(0, path.find('\0')) +
                       "...': the path contains a NUL byte");
  auto s = std::make_unique<state>(path, stop);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  s->fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (s->fd < 0)
    throw step_failure("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(s->fd, &st) != 0)
    throw step_failure("cannot open '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    throw step_failure("cannot open '" + path + "': it is a directory");
  s->rereadable = S_ISREG(st.st_mode);
  s->pollable = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
  s_ = std::move(s);
}

gz_file::~gz_file() = default;
gz_file::gz_file(gz_file&& other) noexcept = default;
gz_file& gz_file::operator=(gz_file&& other) noexcept = default;

bool gz_file::is_open() const { return s_ != nullptr; }

const std::string& gz_file::path() const {
  static const std::string none;
  return s_ ? s_->path : none;
}

std::size_t gz_file::read(char* data, std::size_t n) { return s_->read(data, n); }

std::size_t gz_file::read_full(char* data, std::size_t n) { return s_->read_full(data, n); }

bool gz_file::read_exact(char* data, std::size_t n) { return read_full(data, n) == n; }

void gz_file::seek(std::uint64_t offset) { s_->seek(offset); }

bool gz_file::stopped() const { return s_ && s_->stopped; }

} // namespace conveyor
