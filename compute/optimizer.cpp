#include "compute/optimizer.hpp"

#include "base/float_bytes.hpp"

#include <msgpack.hpp>

#include <cmath>
#include <stdexcept>

namespace conveyor::compute {

namespace {

void check_spec(const optimizer_spec& s) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("optimizer: " + what); };
  if (!std::isfinite(s.learning_rate) || s.learning_rate <= 0) bad("learning_rate must be > 0");
  if (s.kind == optimizer_kind::sgd && !(s.momentum >= 0 && s.momentum < 1))
    bad("momentum must be in [0, 1)");
  if (s.kind == optimizer_kind::adam) {
    if (!(s.beta1 >= 0 && s.beta1 < 1)) bad("beta1 must be in [0, 1)");
    if (!(s.beta2 >= 0 && s.beta2 < 1)) bad("beta2 must be in [0, 1)");
    if (!(s.eps > 0) || !std::isfinite(s.eps)) bad("eps must be > 0");
  }
}

constexpr std::size_t max_state_floats = std::size_t{1} << 28; // 1 GiB

} // namespace

optimizer::optimizer(const optimizer_spec& spec, std::size_t size, backend& be)
    : spec_(spec), size_(size), backend_(&be) {
  check_spec(spec_);
}

void optimizer::allocate_moments() {
  if (first_.empty() && (spec_.kind == optimizer_kind::adam || spec_.momentum != 0.0f))
    first_ = backend_->allocate(size_);
  if (second_.empty() && spec_.kind == optimizer_kind::adam) second_ = backend_->allocate(size_);
}

void optimizer::advance() {
  allocate_moments();
  ++step_;
}

void optimizer::set_learning_rate(float lr) {
  if (!std::isfinite(lr) || lr <= 0) throw std::invalid_argument("optimizer: learning_rate must be > 0");
  spec_.learning_rate = lr;
}

void optimizer::step(float* params, const float* grads) {
  advance();
  update(params, grads, 0, size_);
}

void optimizer::update(float* params, const float* grads, std::size_t begin, std::size_t n) {
  if (spec_.kind == optimizer_kind::sgd)
    backend_->sgd_momentum_update(n, spec_.learning_rate, spec_.momentum, params + begin,
                                  grads + begin, first_.empty() ? nullptr : first_.data() + begin);
  else
    backend_->adam_update(n, spec_.learning_rate, spec_.beta1, spec_.beta2, spec_.eps, step_,
                          params + begin, grads + begin, first_.data() + begin,
                          second_.data() + begin);
}

optimizer_state optimizer::state() const {
  optimizer_state s;
  s.kind = spec_.kind;
  s.step = step_;
  // Moments not allocated yet (no step taken) are zero: the state of a fresh optimizer.
  const bool first = spec_.kind == optimizer_kind::adam || spec_.momentum != 0.0f;
  s.first.resize(first ? size_ : 0);
  s.second.resize(spec_.kind == optimizer_kind::adam ? size_ : 0);
  if (!first_.empty()) backend_->copy_to_host(s.first.data(), first_.data(), first_.size());
  if (!second_.empty()) backend_->copy_to_host(s.second.data(), second_.data(), second_.size());
  return s;
}

void optimizer::load_state(const optimizer_state& s) {
  if (s.kind != spec_.kind)
    throw std::invalid_argument("optimizer state is for " + std::string(to_string(s.kind)) +
                                ", this optimizer is " + std::string(to_string(spec_.kind)));
  if (s.step < 0) throw std::invalid_argument("optimizer state has a negative step count");
  const std::size_t first = spec_.kind == optimizer_kind::adam || spec_.momentum != 0.0f ? size_ : 0;
  const std::size_t second = spec_.kind == optimizer_kind::adam ? size_ : 0;
  if (s.first.size() != first || s.second.size() != second)
    throw std::invalid_argument("optimizer state sizes (" + std::to_string(s.first.size()) + ", " +
                                std::to_string(s.second.size()) + ") do not match (" +
                                std::to_string(first) + ", " + std::to_string(second) + ")");
  allocate_moments();
  backend_->copy_from_host(first_.data(), s.first.data(), s.first.size());
  backend_->copy_from_host(second_.data(), s.second.data(), s.second.size());
  step_ = s.step;
}

std::string_view to_string(optimizer_kind k) { return k == optimizer_kind::sgd ? "sgd" : "adam"; }

std::optional<optimizer_kind> parse_optimizer_kind(std::string_view n) {
  if (n == "sgd") return optimizer_kind::sgd;
  if (n == "adam") return optimizer_kind::adam;
  return std::nullopt;
}

std::string encode_optimizer_state(const optimizer_state& s) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(4);
  pk.pack(std::string("kind"));
  pk.pack(std::string(to_string(s.kind)));
  pk.pack(std::string("step"));
  pk.pack(s.step);
  for (const auto* name : {"first", "second"}) {
    const auto& v = name[0] == 'f' ? s.first : s.second;
    const std::string bytes = floats_to_le_bytes(v.data(), v.size());
    pk.pack(std::string(name));
    pk.pack_bin(static_cast<std::uint32_t>(bytes.size()));
    pk.pack_bin_body(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
  }
  return std::string(buf.data(), buf.size());
}

decoded<optimizer_state> decode_optimizer_state(std::string_view bytes) {
  using result = decoded<optimizer_state>;
  if (bytes.size() > 2 * max_state_floats * 4 + 4096) return result::failure("optimizer state too large");
  try {
    // limits: array, map, str, bin, ext, depth
    msgpack::unpack_limit limit(16, 16, 64, max_state_floats * 4, 0, 4);
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, limit);
    const auto& root = handle.get();
    if (root.type != msgpack::type::MAP) return result::failure("optimizer state is not a map");
    optimizer_state s;
    bool have_kind = false, have_step = false;
    for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
      const auto& kv = root.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) return result::failure("optimizer state key is not a string");
      const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
      const auto& v = kv.val;
      if (key == "kind") {
        if (v.type != msgpack::type::STR) return result::failure("optimizer kind is not a string");
        auto k = parse_optimizer_kind(std::string_view(v.via.str.ptr, v.via.str.size));
        if (!k) return result::failure("unknown optimizer kind");
        s.kind = *k;
        have_kind = true;
      } else if (key == "step") {
        if (v.type != msgpack::type::POSITIVE_INTEGER) return result::failure("optimizer step is not a non-negative integer");
        if (v.via.u64 > static_cast<std::uint64_t>(INT64_MAX)) return result::failure("optimizer step out of range");
        s.step = static_cast<std::int64_t>(v.via.u64);
        have_step = true;
      } else if (key == "first" || key == "second") {
        if (v.type != msgpack::type::BIN || v.via.bin.size % 4 != 0)
          return result::failure("optimizer " + std::string(key) + " is not float32 bytes");
        (key == "first" ? s.first : s.second) =
            le_bytes_to_floats(std::string_view(v.via.bin.ptr, v.via.bin.size));
      }
    }
    if (!have_kind || !have_step) return result::failure("optimizer state lacks kind or step");
    if (s.kind == optimizer_kind::sgd && !s.second.empty())
      return result::failure("sgd state has a second moment");
    if (s.kind == optimizer_kind::adam && s.first.size() != s.second.size())
      return result::failure("adam moments differ in size");
    return result::success(std::move(s));
  } catch (const std::exception& e) {
    return result::failure(std::string("malformed optimizer state: ") + e.what());
  }
}

} // namespace conveyor::compute
