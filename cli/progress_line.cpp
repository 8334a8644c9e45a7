#include "cli/progress_line.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <unistd.h>

namespace conveyor::cli {

namespace {

std::string describe(const progress_info& p) {
  auto rate = p.samples_per_second >= 1e6   ? fmt::format("{:.2f}M", p.samples_per_second / 1e6)
              : p.samples_per_second >= 1e3 ? fmt::format("{:.1f}k", p.samples_per_second / 1e3)
                                            : fmt::format("{:.0f}", p.samples_per_second);
  return fmt::format("{}: epoch {}/{}  step {}/{}  loss {:.4f}  {} samples/s", p.step, p.epoch,
                     p.epochs, p.step_in_run, p.steps, p.loss, rate);
}

} // namespace

progress_line::progress_line() : terminal_(::isatty(2) != 0) {
}

void progress_line::update(const progress_info& p) {
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", describe(p).c_str());
    std::fflush(stderr);
    open_ = true;
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - last_log_ >= std::chrono::seconds(5)) {
    last_log_ = now;
    spdlog::info("{}", describe(p));
  }
}

void progress_line::close() {
  if (open_) {
    std::fputc('\n', stderr);
    open_ = false;
  }
}

} // namespace conveyor::cli
