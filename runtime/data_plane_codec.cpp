#include "runtime/data_plane_codec.hpp"

#include "base/float_bytes.hpp"
#include "data/preprocessing_codec.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace conveyor {

namespace {

constexpr char magic[4] = {'C', 'V', 'D', 'P'};
/// Bounds what a frame may make the receiver allocate before its bytes are checked.
constexpr std::uint64_t max_count = 1ull << 32;

/// Writes a header in two passes over the same code: `counting` sizes it, then the
/// bytes go into a string of exactly that size (no growth, no spare capacity).
class writer {
public:
  /// A writer that only counts bytes.
  writer() = default;
  /// A writer into `out`, which has room for everything it will write.
  explicit writer(char* out) : out_(out) {}
  std::size_t size() const { return at_; }
  void u8(std::uint8_t v) { put(&v, 1); }
  void u32(std::uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; ++i)
      b[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
    put(b, 4);
  }
  void u64(std::uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i)
      b[i] = static_cast<unsigned char>((v >> (8 * i)) & 0xff);
    put(b, 8);
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    put(s.data(), s.size());
  }
  void header(const frame_header& h) {
    put(magic, sizeof magic);
    u8(frame_version);
    u8(static_cast<std::uint8_t>(h.kind));
    u64(h.consumer);
    u64(h.token);
  }

private:
  void put(const void* p, std::size_t n) {
    if (out_ != nullptr && n > 0)
      std::memcpy(out_ + at_, p, n);
    at_ += n;
  }
  char* out_ = nullptr;
  std::size_t at_ = 0;
};

/// Runs `write(writer&)` twice: to size the header, then into a string of that size.
template <class Write>
std::string exact(Write write) {
  writer counting;
  write(counting);
  std::string out(counting.size(), '\0');
  writer into(out.data());
  write(into);
  return out;
}

/// Reads from untrusted bytes: every read is bounds-checked; the first failure is
/// kept with its offset and later reads return zeros.
class reader {
public:
  /// `part`: which part of the frame `in` is, for errors.
  reader(std::string_view in, const char* part) : in_(in), part_(part) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& what) {
    if (error_.empty())
      error_ = what + " at byte " + std::to_string(at_) + " of the " + part_;
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
  const char* part_;
  std::size_t at_ = 0;
  std::string error_;
};

void write_batch_header(writer& w, const frame_header& h, const batch& b,
                        const std::string& transform) {
  w.header(h);
  w.str(b.source);
  w.u64(b.sequence);
  w.u64(b.position.byte_offset);
  w.u64(b.position.line);
  w.u64(b.position.row);
  w.u64(b.first_row);
  w.u32(b.rows);
  const auto* columns = b.schema ? &b.schema->columns : nullptr;
  w.u32(columns != nullptr ? static_cast<std::uint32_t>(columns->size()) : 0);
  if (columns != nullptr)
    for (const auto& c : *columns) {
      w.str(c.name);
      w.u8(static_cast<std::uint8_t>(c.kind));
    }
  w.u64(b.floats.size());
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
    w.str(transform);
}

std::string batch_header(const frame_header& h, const batch& b) {
  auto header = h;
  header.kind = frame_kind::batch;
  const auto transform = b.transform ? encode_preprocessing(*b.transform) : std::string();
  return exact([&](writer& w) { write_batch_header(w, header, b, transform); });
}

constexpr bool little_endian =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  true;
#else
  false;
#endif

/// A frame of `header` whose payload is `bytes`, shared, not copied (none when empty).
encoded_frame with_bytes(std::string header, std::shared_ptr<const std::string> bytes) {
  encoded_frame f;
  f.header = std::move(header);
  if (bytes && !bytes->empty()) {
    f.payload = *bytes;
    f.owner = std::move(bytes);
  }
  return f;
}

/// The float block as payload: its own memory, kept by its owner, where its bytes are
/// already the wire form (a little-endian host), else a little-endian copy.
/// The block is the frame's alone: its room after the floats is the frame's to write.
encoded_frame with_floats(std::string header, float_block&& floats) {
  if (!little_endian)
    return with_bytes(std::move(header), std::make_shared<const std::string>(floats_to_le_bytes(
                                             floats.data(), floats.size())));
  encoded_frame f;
  f.header = std::move(header);
  if (!floats.empty()) {
    f.payload = std::string_view(reinterpret_cast<const char*>(floats.data()), floats.size() * 4);
    f.owner = floats.owner();
    f.room = floats.room_after();
  }
  return f;
}

void read_batch(reader& r, std::string_view payload, const std::shared_ptr<void>& owner,
                std::size_t room, batch& b) {
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
  if (r.ok() && payload.size() != floats * 4)
    r.fail("float count " + std::to_string(floats) + " needs a payload of " +
           std::to_string(floats * 4) + " bytes, not " + std::to_string(payload.size()));
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
  if (r.ok() && floats != static_cast<std::uint64_t>(b.rows) * schema.float_width())
    r.fail("float block does not match rows x numeric columns");
  if (r.ok()) {
    if (little_endian && reinterpret_cast<std::uintptr_t>(payload.data()) % alignof(float) == 0) {
      // The payload's bytes are the floats: used where they are when the caller hands
      // over their owner, else copied into a block that is not zero-filled first.
      auto* first = reinterpret_cast<float*>(const_cast<char*>(payload.data()));
      if (owner)
        b.floats.adopt(first, static_cast<std::size_t>(floats), owner, room);
      else
        b.floats.assign(first, first + floats);
    } else {
      b.floats.resize(static_cast<std::size_t>(floats));
      read_le_floats(payload, b.floats.data());
    }
  }
  b.schema = std::make_shared<const table_schema>(std::move(schema));
}

} // namespace

encoded_frame encode_batch_frame(const frame_header& h, const batch& b) {
  return with_floats(batch_header(h, b), float_block(b.floats)); // a copy of its own
}

encoded_frame encode_batch_frame(const frame_header& h, batch&& b) {
  auto header = batch_header(h, b);
  return with_floats(std::move(header), float_block(std::move(b.floats)));
}

encoded_frame encode_eos_frame(const frame_header& h) {
  auto header = h;
  header.kind = frame_kind::eos;
  encoded_frame f;
  f.header = exact([&](writer& w) { w.header(header); });
  return f;
}

encoded_frame encode_model_frame(const frame_header& h, const model_message& m) {
  auto header = h;
  header.kind = frame_kind::model;
  return with_bytes(exact([&](writer& w) {
                      w.header(header);
                      w.str(m.name);
                      w.u64(m.version);
                    }),
                    m.artifact);
}

encoded_frame encode_peer_frame(const frame_header& h, const peer_message& m) {
  auto header = h;
  header.kind = frame_kind::peer;
  return with_bytes(exact([&](writer& w) {
                      w.header(header);
                      w.u32(static_cast<std::uint32_t>(m.from_replica));
                      w.u64(m.tag);
                    }),
                    m.bytes);
}

encoded_frame encode_credit_frame(const frame_header& h, std::uint32_t n) {
  auto header = h;
  header.kind = frame_kind::credit;
  encoded_frame f;
  f.header = exact([&](writer& w) {
    w.header(header);
    w.u32(n);
  });
  return f;
}

std::size_t trailer_size(const encoded_frame& f) { return f.header.size() + 4; }

void write_trailer(const encoded_frame& f, char* at) {
  std::memcpy(at, f.header.data(), f.header.size());
  writer(at + f.header.size()).u32(static_cast<std::uint32_t>(f.header.size()));
}

bool split_message(std::string_view message, std::string_view& header,
                   std::string_view& payload, std::string& error) {
  if (message.size() < 4) {
    error = "a one-part frame of " + std::to_string(message.size()) +
            " byte(s), shorter than its header size";
    return false;
  }
  reader r(message.substr(message.size() - 4), "header size");
  const std::size_t n = r.u32("header size");
  if (n > message.size() - 4) {
    error = "a one-part frame of " + std::to_string(message.size()) + " bytes with a header of " +
            std::to_string(n);
    return false;
  }
  payload = message.substr(0, message.size() - 4 - n);
  header = message.substr(payload.size(), n);
  return true;
}

bool decode_frame(std::string_view header, std::string_view payload, frame& out,
                  std::string& error, std::shared_ptr<void> payload_owner,
                  std::size_t payload_room) {
  reader r(header, "header");
  auto m = r.bytes(4, "magic");
  if (r.ok() && std::memcmp(m.data(), magic, 4) != 0)
    r.fail("not a data-plane frame (bad magic)");
  auto v = r.u8("version");
  if (r.ok() && v != frame_version)
    r.fail("a frame of version " + std::to_string(v) + " (this node reads version " +
           std::to_string(frame_version) + " only: are both nodes the same conveyor release?)");
  auto kind = r.u8("kind");
  out.header.consumer = r.u64("consumer");
  out.header.token = r.u64("token");
  if (r.ok()) {
    switch (kind) {
      case static_cast<std::uint8_t>(frame_kind::batch):
        out.header.kind = frame_kind::batch;
        read_batch(r, payload, payload_owner, payload_room, out.data);
        break;
      case static_cast<std::uint8_t>(frame_kind::eos):
        out.header.kind = frame_kind::eos;
        if (!payload.empty())
          r.fail("an end-of-stream frame with a payload of " + std::to_string(payload.size()) +
                 " bytes");
        break;
      case static_cast<std::uint8_t>(frame_kind::model):
        out.header.kind = frame_kind::model;
        out.model.name = r.str("model name");
        out.model.version = r.u64("model version");
        if (r.ok())
          out.model.artifact = std::make_shared<const std::string>(payload);
        break;
      case static_cast<std::uint8_t>(frame_kind::peer): {
        out.header.kind = frame_kind::peer;
        const auto replica = r.u32("replica");
        if (r.ok() && replica > static_cast<std::uint32_t>(std::numeric_limits<int>::max()))
          r.fail("replica " + std::to_string(replica) + " out of range");
        out.peer.from_replica = static_cast<int>(replica);
        out.peer.tag = r.u64("peer tag");
        if (r.ok())
          out.peer.bytes = std::make_shared<const std::string>(payload);
        break;
      }
      case static_cast<std::uint8_t>(frame_kind::credit):
        out.header.kind = frame_kind::credit;
        out.credit = r.u32("credit");
        if (r.ok() && out.credit == 0)
          r.fail("a credit frame granting 0 batches");
        if (r.ok() && out.credit > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()))
          r.fail("credit " + std::to_string(out.credit) + " out of range");
        if (r.ok() && !payload.empty())
          r.fail("a credit frame with a payload of " + std::to_string(payload.size()) + " bytes");
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
