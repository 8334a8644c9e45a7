// libFuzzer target for the CSV reader: any bytes, as a file, go through the csv_reader
// kind with its default parameters and small batches. Malformed rows must be counted,
// never crash; a step_failure (e.g. an empty file has no header) is an allowed outcome.
#include "actors/csv_reader.hpp"
#include "step/kind_registry.hpp"

#include <cstddef>
#include <cstdint>
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
  void reject(std::uint64_t, const std::string&) override {}
  std::optional<std::string> load_state() const override { return std::nullopt; }
  void save_state(std::string) override {}
  void log_info(const std::string&) override {}
  void log_warning(const std::string&) override {}

private:
  std::string name_ = "fuzz";
};

class sink final : public emitter {
public:
  void emit(std::size_t, batch b) override { rows += b.rows; }
  std::uint64_t rows = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const kind_entry kind = csv_reader_kind();
  int fd = ::memfd_create("fuzz_csv", 0);
  if (fd < 0)
    return 0;
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  std::map<std::string, dsl::value> params;
  for (const auto& p : kind.schema.params)
    if (p.default_value)
      params[p.name] = *p.default_value;
  params["path"] = dsl::value{"/proc/self/fd/" + std::to_string(fd)};
  params["batch"] = dsl::value{std::int64_t{7}};
  try {
    step_config config;
    config.name = "fuzz";
    config.params = step_params{params};
    auto reader = kind.factory(config);
    quiet_context ctx;
    sink out;
    reader->open(ctx);
    while (reader->produce(out)) {
    }
  } catch (const step_failure&) {
  }
  ::close(fd);
  return 0;
}
