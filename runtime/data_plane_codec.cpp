#include "runtime/data_plane_codec.hpp"

#include "base/float_bytes.hpp"
#include "data/preprocessing_codec.hpp"

#include <cstring>
#include <stdexcept>

namespace conveyor {

namespace {

constexpr char magic[4] = {'C', 'V', 'D', 'P'};
constexpr std::uint8_t version = 1;
/// Bounds what a frame may make the receiver allocate before its bytes are checked.
constexpr std::uint64_t max_count = 1ull << 32;

class writer {
public:
  explicit writer(std::size_t reserve) { out_.reserve(reserve); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  void header(const frame_header& h) {
    out_.append(magic, sizeof magic);
    u8(version);
    u8(static_cast<std::uint8_t>(h.kind));
    u64(h.consumer);
    u64(h.token);
  }
  std::string& bytes() { return out_; }

private:
  std::string out_;
};

/// Reads from untrusted bytes: every read is bounds-checked; the first failure is
/// kept with its offset and later reads return zeros.
class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& what) {
    if (error_.empty())
      error_ = what + " at byte " + std::to_string(at_);
  }
  bool need(std::size_t n, const char* what) {
    if (!ok())
      return false;
    if (in_.size() - at_ < n) {
      fail(std::string("truncated ") + what);
      return false;
    }
    return true;
  }
  std::uint8_t u8(const char* what) {
    if (!need(1, what))
      return 0;
    return static_cast<std::uint8_t>(in_[at_++]);
  }
  std::uint32_t u32(const char* what) {
    if (!need(4, what))
      return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in_[at_ + i])) << (8 * i);
    at_ += 4;
    return v;
  }
  std::uint64_t u64(const char* what) {
    if (!need(8, what))
      return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[at_ + i])) << (8 * i);
    at_ += 8;
    return v;
  }
  std::string_view bytes(std::size_t n, const char* what) {
    if (!need(n, what))
      return {};
    auto v = in_.substr(at_, n);
    at_ += n;
    return v;
  }
  std::string str(const char* what) {
    auto n = u32(what);
    return std::string(bytes(n, what));
  }
  /// A count of items of at least `item_bytes` each: refused if the rest cannot hold them.
  std::size_t count(std::size_t item_bytes, const char* what) {
    auto n = u32(what);
    if (ok() && item_bytes > 0 && n > (in_.size() - at_) / item_bytes) {
      fail(std::string("count of ") + what + " larger than the frame");
      return 0;
    }
    return n;
  }
  bool done() const { return at_ == in_.size(); }

private:
  std::string_view in_;
  std::size_t at_ = 0;
  std::string error_;
};

void write_batch(writer& w, const batch& b) {
  w.str(b.source);
  w.u64(b.sequence);
  w.u64(b.position.byte_offset);
  w.u64(b.position.line);
  w.u64(b.position.row);
  w.u64(b.first_row);
  w.u32(b.rows);
  const auto& columns = b.schema ? b.schema->columns : std::vector<column_spec>{};
  w.u32(static_cast<std::uint32_t>(columns.size()));
  for (const auto& c : columns) {
    w.str(c.name);
    w.u8(static_cast<std::uint8_t>(c.kind));
  }
  w.u64(b.floats.size());
  append_le_floats(b.floats.data(), b.floats.size(), w.bytes());
  w.u32(static_cast<std::uint32_t>(b.categoricals.size()));
  for (const auto& c : b.categoricals) {
    w.u32(static_cast<std::uint32_t>(c.dictionary.size()));
    for (const auto& s : c.dictionary)
      w.str(s);
    w.u32(static_cast<std::uint32_t>(c.codes.size()));
    for (auto code : c.codes)
      w.u32(static_cast<std::uint32_t>(code));
  }
  w.u8(b.transform ? 1 : 0);
  if (b.transform)
    w.str(encode_preprocessing(*b.transform));
}

void read_batch(reader& r, batch& b) {
  b.source = r.str("source");
  b.sequence = r.u64("sequence");
  b.position.byte_offset = r.u64("position");
  b.position.line = r.u64("position");
  b.position.row = r.u64("position");
  b.first_row = r.u64("first_row");
  b.rows = r.u32("rows");
  table_schema schema;
  auto columns = r.count(5, "columns");
  schema.columns.resize(columns);
  for (auto& c : schema.columns) {
    c.name = r.str("column name");
    auto kind = r.u8("column kind");
    if (kind > static_cast<std::uint8_t>(column_kind::label))
      r.fail("unknown column kind " + std::to_string(kind));
    c.kind = static_cast<column_kind>(kind);
  }
  auto floats = r.u64("float count");
  if (r.ok() && floats > max_count)
    r.fail("float count too large");
  auto float_bytes = r.bytes(static_cast<std::size_t>(floats) * 4, "floats");
  if (r.ok()) {
    b.floats.resize(static_cast<std::size_t>(floats));
    read_le_floats(float_bytes, b.floats.data());
  }
  b.categoricals.resize(r.count(8, "categorical columns"));
  for (auto& c : b.categoricals) {
    c.dictionary.resize(r.count(4, "dictionary"));
    for (auto& s : c.dictionary)
      s = r.str("dictionary entry");
    c.codes.resize(r.count(4, "codes"));
    for (auto& code : c.codes)
      code = static_cast<std::int32_t>(r.u32("code"));
  }
  auto has_transform = r.u8("transform flag");
  if (has_transform > 1)
    r.fail("bad transform flag");
  if (has_transform == 1) {
    auto bytes = r.str("transform");
    if (r.ok()) {
      try {
        b.transform = std::make_shared<const preprocessing>(decode_preprocessing(bytes));
      } catch (const std::exception& e) {
        r.fail(std::string("bad transform: ") + e.what());
      }
    }
  }
  if (r.ok() && b.floats.size() != static_cast<std::size_t>(b.rows) * schema.float_width())
    r.fail("float block does not match rows x numeric columns");
  b.schema = std::make_shared<const table_schema>(std::move(schema));
}

} // namespace

std::string encode_batch_frame(const frame_header& h, const batch& b) {
  writer w(64 + b.floats.size() * 4 + b.source.size());
  auto header = h;
  header.kind = frame_kind::batch;
  w.header(header);
  write_batch(w, b);
  return std::move(w.bytes());
}

std::string encode_eos_frame(const frame_header& h) {
  writer w(32);
  auto header = h;
  header.kind = frame_kind::eos;
  w.header(header);
  return std::move(w.bytes());
}

std::string encode_model_frame(const frame_header& h, const model_message& m) {
  const auto artifact = m.artifact ? std::string_view(*m.artifact) : std::string_view{};
  writer w(64 + m.name.size() + artifact.size());
  auto header = h;
  header.kind = frame_kind::model;
  w.header(header);
  w.str(m.name);
  w.u64(m.version);
  w.str(artifact);
  return std::move(w.bytes());
}

bool decode_frame(std::string_view bytes, frame& out, std::string& error) {
  reader r(bytes);
  auto m = r.bytes(4, "magic");
  if (r.ok() && std::memcmp(m.data(), magic, 4) != 0)
    r.fail("not a data-plane frame (bad magic)");
  auto v = r.u8("version");
  if (r.ok() && v != version)
    r.fail("unsupported frame version " + std::to_string(v));
  auto kind = r.u8("kind");
  out.header.consumer = r.u64("consumer");
  out.header.token = r.u64("token");
  if (r.ok()) {
    switch (kind) {
      case static_cast<std::uint8_t>(frame_kind::batch):
        out.header.kind = frame_kind::batch;
        read_batch(r, out.data);
        break;
      case static_cast<std::uint8_t>(frame_kind::eos):
        out.header.kind = frame_kind::eos;
        break;
      case static_cast<std::uint8_t>(frame_kind::model):
        out.header.kind = frame_kind::model;
        out.model.name = r.str("model name");
        out.model.version = r.u64("model version");
        out.model.artifact = std::make_shared<const std::string>(r.str("model artifact"));
        break;
      default:
        r.fail("unknown frame kind " + std::to_string(kind));
    }
  }
  if (r.ok() && !r.done())
    r.fail("trailing bytes");
  error = r.error();
  return r.ok();
}

} // namespace conveyor
