#include "data/preprocessing_codec.hpp"

#include <msgpack.hpp>

#include <stdexcept>

namespace conveyor {

namespace {

constexpr int codec_version = 1;
constexpr int last_kind = static_cast<int>(column_op::kind::one_hot);
/// [version, [op...]], op = [kind, column, a, b, [category...]]: four levels of arrays.
constexpr std::size_t max_depth = 4;

} // namespace

std::string encode_preprocessing(const preprocessing& p) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(2);
  pk.pack(codec_version);
  pk.pack_array(static_cast<std::uint32_t>(p.ops.size()));
  for (const auto& op : p.ops) {
    pk.pack_array(5);
    pk.pack(static_cast<int>(op.op));
    pk.pack(op.column);
    pk.pack(op.a);
    pk.pack(op.b);
    pk.pack(op.categories);
  }
  return std::string(buf.data(), buf.size());
}

preprocessing decode_preprocessing(std::string_view bytes) {
  try {
    // msgpack-c allocates an array's or map's declared entries before reading them:
    // every entry takes at least one byte, so no count may exceed the bytes given (the
    // bytes may come from another node's frame or a model file).
    const auto n = bytes.size();
    msgpack::unpack_limit limit(n, n, n, n, n, max_depth);
    auto handle = msgpack::unpack(bytes.data(), n, nullptr, nullptr, limit);
    const auto& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size != 2 ||
        root.via.array.ptr[0].as<int>() != codec_version ||
        root.via.array.ptr[1].type != msgpack::type::ARRAY)
      throw std::invalid_argument("not a version 1 preprocessing encoding");
    preprocessing p;
    const auto& ops = root.via.array.ptr[1].via.array;
    p.ops.reserve(ops.size);
    for (std::uint32_t i = 0; i < ops.size; ++i) {
      const auto& o = ops.ptr[i];
      if (o.type != msgpack::type::ARRAY || o.via.array.size != 5)
        throw std::invalid_argument("malformed column op");
      column_op op;
      auto k = o.via.array.ptr[0].as<int>();
      if (k < 0 || k > last_kind)
        throw std::invalid_argument("unknown column op kind " + std::to_string(k));
      op.op = static_cast<column_op::kind>(k);
      op.column = o.via.array.ptr[1].as<std::string>();
      op.a = o.via.array.ptr[2].as<double>();
      op.b = o.via.array.ptr[3].as<double>();
      op.categories = o.via.array.ptr[4].as<std::vector<std::string>>();
      p.ops.push_back(std::move(op));
    }
    return p;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("cannot decode preprocessing: ") + e.what());
  }
}

} // namespace conveyor
