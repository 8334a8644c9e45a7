#include "compute/checkpoint.hpp"

#include "base/atomic_file.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace conveyor::compute::checkpoint_file {

namespace {

// Layout: magic, u64 step, u64 epoch, u64 n + n bytes of model file, u64 n + n bytes of
// optimizer state, u32 CRC-32 of everything before it. Integers little-endian.
constexpr std::size_t crc_bytes = 4;

void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_u64(std::string_view s, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= std::uint64_t{static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)])} << (8 * i);
  return v;
}

std::uint32_t crc_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large inputs in pieces.
  constexpr std::size_t piece = std::size_t{1} << 30;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    const std::size_t n = std::min(piece, bytes.size() - at);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
  }
  return static_cast<std::uint32_t>(crc);
}

/// Empty when `s` fits a model of `parameters` floats at optimizer step `step`.
std::string mismatch(const optimizer_state& s, std::size_t parameters, std::uint64_t step) {
  const auto fits = [&](std::size_t n) { return n == 0 || n == parameters; };
  if (!fits(s.first.size()) || !fits(s.second.size()))
    return "the optimizer state holds " + std::to_string(s.first.size()) + " and " +
           std::to_string(s.second.size()) + " moments for a model of " +
           std::to_string(parameters) + " parameters";
  if (s.step < 0 || static_cast<std::uint64_t>(s.step) != step)
    return "the optimizer state is at step " + std::to_string(s.step) + ", the checkpoint at " +
           std::to_string(step);
  return {};
}

} // namespace

std::string encode(const checkpoint& c) {
  const auto why = mismatch(c.optimizer, c.model.weights.size(), c.step);
  if (!why.empty()) throw std::invalid_argument("checkpoint: " + why);
  const std::string model = model_file::encode(c.model);
  const std::string optimizer = encode_optimizer_state(c.optimizer);
  std::string out;
  out.reserve(magic.size() + 32 + model.size() + optimizer.size() + crc_bytes);
  out.append(magic);
  put_u64(out, c.step);
  put_u64(out, c.epoch);
  put_u64(out, model.size());
  out += model;
  put_u64(out, optimizer.size());
  out += optimizer;
  const std::uint32_t crc = crc_of(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return out;
}

decoded<checkpoint> decode(std::string_view bytes) {
  using result = decoded<checkpoint>;
  try {
    if (bytes.empty()) return result::failure("empty input");
    if (bytes.size() > max_file_bytes)
      return result::failure("file too large (" + std::to_string(bytes.size()) + " bytes)");
    if (bytes.substr(0, magic.size()) != magic) {
      if (bytes.substr(0, 20) == magic.substr(0, 20))
        return result::failure("checkpoint format '" +
                               std::string(bytes.substr(0, bytes.find('\n'))) +
                               "' is not supported (this build reads '" +
                               std::string(magic.substr(0, magic.size() - 1)) + "')");
      return result::failure("not a conveyor checkpoint");
    }
    const std::size_t fixed = magic.size() + 24;
    if (bytes.size() < fixed + 8 + crc_bytes)
      return result::failure("truncated (" + std::to_string(bytes.size()) + " bytes)");
    const std::size_t body = bytes.size() - crc_bytes;
    std::uint32_t stored = 0;
    for (int i = 0; i < 4; ++i)
      stored |= std::uint32_t{static_cast<unsigned char>(bytes[body + static_cast<std::size_t>(i)])}
                << (8 * i);
    if (crc_of(bytes.substr(0, body)) != stored)
      return result::failure("checksum mismatch (damaged or truncated)");

    checkpoint c;
    std::size_t at = magic.size();
    c.step = get_u64(bytes, at);
    c.epoch = get_u64(bytes, at + 8);
    at += 16;
    const auto section = [&](const char* name, std::string_view& out) -> std::string {
      if (body - at < 8) return std::string("truncated before the ") + name;
      const std::uint64_t n = get_u64(bytes, at);
      at += 8;
      if (n > body - at)
        return std::string("the ") + name + " claims " + std::to_string(n) + " bytes, " +
               std::to_string(body - at) + " remain";
      out = bytes.substr(at, static_cast<std::size_t>(n));
      at += static_cast<std::size_t>(n);
      return {};
    };
    std::string_view model_bytes, optimizer_bytes;
    if (auto e = section("model", model_bytes); !e.empty()) return result::failure(e);
    if (auto e = section("optimizer state", optimizer_bytes); !e.empty()) return result::failure(e);
    if (at != body)
      return result::failure(std::to_string(body - at) + " unexpected bytes after the sections");

    auto model = model_file::decode(model_bytes);
    if (!model) return result::failure("model: " + model.error);
    auto optimizer = decode_optimizer_state(optimizer_bytes);
    if (!optimizer) return result::failure("optimizer state: " + optimizer.error);
    c.model = std::move(*model.value);
    c.optimizer = std::move(*optimizer.value);
    if (auto why = mismatch(c.optimizer, c.model.weights.size(), c.step); !why.empty())
      return result::failure(why);
    return result::success(std::move(c));
  } catch (const std::exception& e) { // e.g. bad_alloc: still a message
    return result::failure(std::string("cannot decode checkpoint: ") + e.what());
  }
}

void save(const std::string& path, const checkpoint& c) {
  const std::string bytes = encode(c);
  try {
    const auto dir = directory_of(path);
    std::filesystem::create_directories(dir);
    write_file_atomically(path, bytes);
  } catch (const std::exception& e) { // filesystem_error is a runtime_error too
    throw std::runtime_error("save checkpoint " + path + ": " + e.what());
  }
}

decoded<checkpoint> load(const std::string& path) {
  using result = decoded<checkpoint>;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result::failure(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return result::failure(path + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_file_bytes) {
    ::close(fd);
    return result::failure(path + ": file too large (" + std::to_string(st.st_size) + " bytes)");
  }
  std::string bytes;
  try {
    bytes.resize(static_cast<std::size_t>(st.st_size));
  } catch (const std::exception&) {
    ::close(fd);
    return result::failure(path + ": out of memory");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return result::failure(path + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  bytes.resize(done);
  auto r = decode(bytes);
  if (!r) r.error = path + ": " + r.error;
  return r;
}

} // namespace conveyor::compute::checkpoint_file
