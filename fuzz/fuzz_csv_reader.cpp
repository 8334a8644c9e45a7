// libFuzzer target for the CSV reader. The first four bytes choose the parameters (all
// zero: the defaults), the rest is the file, plain or gzip:
//   byte 0, flags: 1 no header, 2 label, 4 categorical, 8 drop, 16 quarantine,
//                  32 max_record = 1 + 4 * byte 1, 64 ';' delimiter, 128 limit
//   byte 2: read size (0: the default 1 MiB; tiny sizes split records across reads)
//   byte 3: which columns label, categorical and drop name; batch and limit sizes
// Column names come from the file's first record, so that label, categorical and drop
// name real columns. Malformed rows must be counted, never crash; a step_failure (an
// empty file has no header, a bad gzip stream) is an allowed outcome. With a quarantine,
// the quarantine file must read back as CSV with exactly one row per rejected record.
#include "actors/csv_reader.hpp"
#include "step/kind_registry.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace {

using namespace conveyor;

class quiet_context final : public step_context {
public:
  const std::string& step_name() const override { return name_; }
  int replica() const override { return 0; }
  int replicas() const override { return 1; }
  void reject(std::uint64_t rows, const std::string&) override { rejected += rows; }
  std::optional<std::string> load_state() const override { return std::nullopt; }
  void save_state(std::string) override {}
  void log_info(const std::string&) override {}
  void log_warning(const std::string&) override {}
  std::uint64_t rejected = 0;

private:
  std::string name_ = "fuzz";
};

class sink final : public emitter {
public:
  void emit(std::size_t, batch b) override { rows += b.rows; }
  std::uint64_t rows = 0;
};

/// An anonymous file holding `size` bytes; -1 if it cannot be made.
int memory_file(const char* name, const std::uint8_t* data, std::size_t size) {
  int fd = ::memfd_create(name, 0);
  if (fd >= 0 && size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

/// The names the reader will give the columns: the header's fields or c0, c1, ...
std::vector<std::string> column_names(const std::string& path, const csv_reader_options& o) {
  std::vector<std::string> names;
  try {
    gz_file f(path);
    csv_tokenizer t(f, o.delimiter, o.chunk_bytes, o.max_record);
    std::vector<csv_field> fields;
    if (t.next(fields) != csv_tokenizer::status::record)
      return names;
    for (std::size_t i = 0; i < fields.size(); ++i)
      names.push_back(o.header ? csv_tokenizer::unescape(fields[i]) : "c" + std::to_string(i));
  } catch (const step_failure&) {
  }
  return names;
}

csv_reader_options options_from(const std::uint8_t* p, const std::string& path) {
  csv_reader_options o;
  o.path = path;
  const std::uint8_t flags = p[0];
  o.header = (flags & 1) == 0;
  if (flags & 32)
    o.max_record = 1 + std::size_t{p[1]} * 4;
  if (flags & 64)
    o.delimiter = ';';
  if (p[2] != 0)
    o.chunk_bytes = p[2];
  o.batch_rows = 1 + p[3] % 8;
  if (flags & 128)
    o.limit = 1 + p[3] % 16;
  auto names = column_names(path, o);
  if (names.empty())
    return o;
  auto pick = [&](unsigned k) { return names[k % names.size()]; };
  if (flags & 2)
    o.label = pick(p[3]);
  if ((flags & 4) && pick(p[3] / 3) != o.label)
    o.categorical = {pick(p[3] / 3)};
  if ((flags & 8) && pick(p[3] / 7) != o.label)
    o.drop = {pick(p[3] / 7)};
  return o;
}

/// Rows in a quarantine file, read back with the reader itself (-1 if it fails or
/// rejects anything).
std::int64_t quarantined_rows(const std::string& path) {
  csv_reader_options o;
  o.path = path;
  o.categorical = {"reason", "raw"};
  o.max_record = std::size_t{1} << 30;
  try {
    csv_reader r(o);
    quiet_context ctx;
    sink out;
    r.open(ctx);
    while (r.produce(out)) {
    }
    return ctx.rejected == 0 ? static_cast<std::int64_t>(out.rows) : -1;
  } catch (const step_failure&) {
    return -1;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t prefix[4] = {0, 0, 0, 0};
  std::size_t skip = std::min<std::size_t>(size, 4);
  std::copy(data, data + skip, prefix);
  int fd = memory_file("fuzz_csv", data + skip, size - skip);
  if (fd < 0)
    return 0;
  int quarantine_fd = (prefix[0] & 16) ? memory_file("fuzz_quarantine", nullptr, 0) : -1;
  auto o = options_from(prefix, fd_path(fd));
  if (quarantine_fd >= 0)
    o.quarantine = fd_path(quarantine_fd);
  quiet_context ctx;
  bool completed = false;
  try {
    csv_reader reader(o);
    sink out;
    reader.open(ctx);
    while (reader.produce(out)) {
    }
    completed = true;
  } catch (const step_failure&) {
  }
  if (completed && quarantine_fd >= 0 &&
      quarantined_rows(o.quarantine) != static_cast<std::int64_t>(ctx.rejected))
    std::abort(); // a rejected row is missing from the quarantine, or it is not CSV
  if (quarantine_fd >= 0)
    ::close(quarantine_fd);
  ::close(fd);
  return 0;
}
