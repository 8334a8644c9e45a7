#include "compute/collective.hpp"

namespace conveyor::compute {

namespace {

class single_rank final : public collective {
public:
  int rank() const noexcept override { return 0; }
  int size() const noexcept override { return 1; }
  void start_all_reduce(float*, std::size_t) override {}
  void start_broadcast(std::string bytes) override { bytes_ = std::move(bytes); }
  bool ready() const override { return true; }
  void complete() override {}
  const std::string& broadcast_result() const override { return bytes_; }
  void abort() noexcept override {} // nobody to wait for

private:
  std::string bytes_;
};

} // namespace

std::unique_ptr<collective> single_rank_collective() { return std::make_unique<single_rank>(); }

} // namespace conveyor::compute
