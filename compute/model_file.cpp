#include "compute/model_file.hpp"

#include "base/atomic_file.hpp"
#include "base/float_bytes.hpp"

#include <msgpack.hpp>
#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace conveyor::compute {

namespace {

// The file ends with the key "checksum" (fixstr) and a uint32 (0xce, big-endian).
constexpr std::size_t trailer_bytes = 1 + 8 + 1 + 4;
constexpr unsigned char trailer_prefix[] = {0xa8, 'c', 'h', 'e', 'c', 'k', 's', 'u', 'm', 0xce};
constexpr std::uint32_t top_level_keys = 12;

std::uint32_t crc_of(const char* data, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) { // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

int expected_classes(const model_spec& s) {
  if (s.objective == task::regression) return 0;
  return s.layers.back() == 1 ? 2 : s.layers.back();
}

void check_artifact(const model_artifact& a) {
  const model_spec s = validate(a.spec);
  if (a.weights.size() != parameter_count(s))
    throw std::invalid_argument("artifact weights hold " + std::to_string(a.weights.size()) +
                                " floats, the spec implies " + std::to_string(parameter_count(s)));
  if (a.classes != expected_classes(s))
    throw std::invalid_argument("artifact classes is " + std::to_string(a.classes) +
                                ", the spec implies " + std::to_string(expected_classes(s)));
  if (!a.feature_columns.empty() && a.feature_columns.size() != static_cast<std::size_t>(s.layers[0]))
    throw std::invalid_argument("artifact has " + std::to_string(a.feature_columns.size()) +
                                " feature columns for " + std::to_string(s.layers[0]) + " inputs");
}

using packer = msgpack::packer<msgpack::sbuffer>;

void pack_str(packer& pk, std::string_view s) {
  if (s.size() > model_file::max_string_bytes) throw std::invalid_argument("string longer than 1 MiB in artifact");
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void pack_strings(packer& pk, const std::vector<std::string>& v) {
  if (v.size() > model_file::max_list_items) throw std::invalid_argument("list too long in artifact");
  pk.pack_array(static_cast<std::uint32_t>(v.size()));
  for (const auto& s : v) pack_str(pk, s);
}

// ---- decoding helpers: each returns false and sets `err` on a type mismatch ----

struct reader {
  std::string err;

  bool fail(const std::string& m) {
    if (err.empty()) err = m;
    return false;
  }
  static std::string_view str_of(const msgpack::object& o) { return {o.via.str.ptr, o.via.str.size}; }

  bool str(const msgpack::object& o, const char* what, std::string& out) {
    if (o.type != msgpack::type::STR) return fail(std::string(what) + " is not a string");
    out.assign(o.via.str.ptr, o.via.str.size);
    return true;
  }
  bool number(const msgpack::object& o, const char* what, double& out) {
    switch (o.type) {
    case msgpack::type::POSITIVE_INTEGER: out = static_cast<double>(o.via.u64); return true;
    case msgpack::type::NEGATIVE_INTEGER: out = static_cast<double>(o.via.i64); return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: out = o.via.f64; return true;
    default: return fail(std::string(what) + " is not a number");
    }
  }
  bool integer(const msgpack::object& o, const char* what, std::int64_t lo, std::int64_t hi,
               std::int64_t& out) {
    std::int64_t v;
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (o.via.u64 > static_cast<std::uint64_t>(INT64_MAX)) return fail(std::string(what) + " is out of range");
      v = static_cast<std::int64_t>(o.via.u64);
    } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      v = o.via.i64;
    } else {
      return fail(std::string(what) + " is not an integer");
    }
    if (v < lo || v > hi) return fail(std::string(what) + " " + std::to_string(v) + " is out of range");
    out = v;
    return true;
  }
  bool strings(const msgpack::object& o, const char* what, std::vector<std::string>& out) {
    if (o.type != msgpack::type::ARRAY) return fail(std::string(what) + " is not an array");
    out.clear();
    out.reserve(o.via.array.size);
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
      std::string s;
      if (!str(o.via.array.ptr[i], what, s)) return false;
      out.push_back(std::move(s));
    }
    return true;
  }
  // Visits a map with string keys, rejecting duplicates.
  template <class F>
  bool map(const msgpack::object& o, const char* what, F&& on_entry) {
    if (o.type != msgpack::type::MAP) return fail(std::string(what) + " is not a map");
    std::set<std::string_view> seen;
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) return fail(std::string(what) + " has a key that is not a string");
      const auto key = str_of(kv.key);
      if (!seen.insert(key).second) return fail(std::string(what) + " has a duplicate key '" + std::string(key) + "'");
      if (!on_entry(key, kv.val)) return false;
    }
    return true;
  }
};

bool read_spec(reader& r, const msgpack::object& o, model_spec& s) {
  bool have_layers = false;
  bool ok = r.map(o, "spec", [&](std::string_view key, const msgpack::object& v) {
    if (key == "layers") {
      if (v.type != msgpack::type::ARRAY) return r.fail("spec.layers is not an array");
      if (v.via.array.size > max_layers) return r.fail("spec.layers has too many entries");
      s.layers.clear();
      for (std::uint32_t i = 0; i < v.via.array.size; ++i) {
        std::int64_t w;
        if (!r.integer(v.via.array.ptr[i], "layer width", 1, max_layer_width, w)) return false;
        s.layers.push_back(static_cast<int>(w));
      }
      have_layers = true;
    } else if (key == "activation") {
      std::string a;
      if (!r.str(v, "spec.activation", a)) return false;
      auto act = parse_activation(a);
      if (!act) return r.fail("unknown activation '" + a + "'");
      s.hidden = *act;
    } else if (key == "task") {
      std::string t;
      if (!r.str(v, "spec.task", t)) return false;
      auto tk = parse_task(t);
      if (!tk || *tk == task::automatic) return r.fail("unknown task '" + t + "'");
      s.objective = *tk;
    } else if (key == "seed") {
      if (v.type != msgpack::type::POSITIVE_INTEGER) return r.fail("spec.seed is not a non-negative integer");
      s.seed = v.via.u64;
    } else if (key == "weight_decay") {
      double wd;
      if (!r.number(v, "spec.weight_decay", wd)) return false;
      s.weight_decay = static_cast<float>(wd);
    }
    return true; // unknown spec keys are ignored
  });
  if (ok && !have_layers) return r.fail("spec lacks layers");
  return ok;
}

bool read_preprocessing(reader& r, const msgpack::object& o, conveyor::preprocessing& p) {
  if (o.type != msgpack::type::ARRAY) return r.fail("preprocessing is not an array");
  p.ops.clear();
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    column_op op;
    bool have_op = false, have_column = false;
    bool ok = r.map(o.via.array.ptr[i], "preprocessing op", [&](std::string_view key, const msgpack::object& v) {
      if (key == "op") {
        std::string name;
        if (!r.str(v, "preprocessing op name", name)) return false;
        auto kind = parse_column_op(name);
        if (!kind) return r.fail("unknown preprocessing op '" + name + "'");
        op.op = *kind;
        have_op = true;
      } else if (key == "column") {
        if (!r.str(v, "preprocessing column", op.column)) return false;
        have_column = true;
      } else if (key == "a") {
        return r.number(v, "preprocessing a", op.a);
      } else if (key == "b") {
        return r.number(v, "preprocessing b", op.b);
      } else if (key == "categories") {
        return r.strings(v, "preprocessing categories", op.categories);
      }
      return true;
    });
    if (!ok) return false;
    if (!have_op || !have_column) return r.fail("preprocessing op " + std::to_string(i) + " lacks op or column");
    p.ops.push_back(std::move(op));
  }
  return true;
}

} // namespace

model_artifact make_artifact(const model& m) {
  model_artifact a;
  a.spec = m.spec();
  a.classes = m.classes();
  a.weights = m.parameters_to_host();
  return a;
}

model instantiate(const model_artifact& a, backend& be) {
  model m(a.spec, be);
  m.set_parameters(a.weights.data(), a.weights.size());
  return m;
}

namespace model_file {

std::string encode(const model_artifact& a) {
  check_artifact(a);
  const model_spec s = validate(a.spec);
  if (a.preprocessing.ops.size() > max_list_items) throw std::invalid_argument("too many preprocessing ops");
  if (a.metrics.size() > max_map_entries) throw std::invalid_argument("too many metrics");
  msgpack::sbuffer buf;
  packer pk(buf);
  pk.pack_map(top_level_keys);
  pack_str(pk, "format");
  pack_str(pk, format_name);
  pack_str(pk, "format_version");
  pk.pack(format_version);
  pack_str(pk, "kind");
  pack_str(pk, s.kind);
  pack_str(pk, "spec");
  pk.pack_map(5);
  pack_str(pk, "layers");
  pk.pack(s.layers);
  pack_str(pk, "activation");
  pack_str(pk, to_string(s.hidden));
  pack_str(pk, "task");
  pack_str(pk, to_string(s.objective));
  pack_str(pk, "seed");
  pk.pack(s.seed);
  pack_str(pk, "weight_decay");
  pk.pack(static_cast<double>(s.weight_decay));
  pack_str(pk, "classes");
  pk.pack(a.classes);
  pack_str(pk, "input_columns");
  pack_strings(pk, a.input_columns);
  pack_str(pk, "feature_columns");
  pack_strings(pk, a.feature_columns);
  pack_str(pk, "preprocessing");
  pk.pack_array(static_cast<std::uint32_t>(a.preprocessing.ops.size()));
  for (const auto& op : a.preprocessing.ops) {
    pk.pack_map(5);
    pack_str(pk, "op");
    pack_str(pk, to_string(op.op));
    pack_str(pk, "column");
    pack_str(pk, op.column);
    pack_str(pk, "a");
    pk.pack(op.a);
    pack_str(pk, "b");
    pk.pack(op.b);
    pack_str(pk, "categories");
    pack_strings(pk, op.categories);
  }
  pack_str(pk, "metrics");
  pk.pack_map(static_cast<std::uint32_t>(a.metrics.size()));
  for (const auto& [name, value] : a.metrics) {
    pack_str(pk, name);
    pk.pack(value);
  }
  pack_str(pk, "provenance");
  pk.pack_map(5);
  pack_str(pk, "graph");
  pack_str(pk, a.provenance.graph);
  pack_str(pk, "step");
  pack_str(pk, a.provenance.step);
  pack_str(pk, "data_source");
  pack_str(pk, a.provenance.data_source);
  pack_str(pk, "created_unix");
  pk.pack(a.provenance.created_unix);
  pack_str(pk, "conveyor_version");
  pack_str(pk, a.provenance.conveyor_version);
  pack_str(pk, "weights");
  const std::string w = floats_to_le_bytes(a.weights.data(), a.weights.size());
  pk.pack_bin(static_cast<std::uint32_t>(w.size()));
  pk.pack_bin_body(w.data(), static_cast<std::uint32_t>(w.size()));
  // Trailer: "checksum" and the CRC-32 of every byte before the trailer.
  const std::uint32_t crc = crc_of(buf.data(), buf.size());
  pack_str(pk, "checksum");
  pk.pack_fix_uint32(crc);
  if (buf.size() > max_file_bytes) throw std::invalid_argument("encoded model exceeds the file size cap");
  return std::string(buf.data(), buf.size());
}

decoded<model_artifact> decode(std::string_view bytes) {
  using result = decoded<model_artifact>;
  if (bytes.empty()) return result::failure("empty input");
  if (bytes.size() > max_file_bytes) return result::failure("file too large (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes.size() < trailer_bytes + 1 ||
      std::memcmp(bytes.data() + bytes.size() - trailer_bytes, trailer_prefix, sizeof trailer_prefix) != 0)
    return result::failure("truncated or not a conveyor model (no checksum at the end)");
  const auto* tail = reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4);
  const std::uint32_t stored = (std::uint32_t{tail[0]} << 24) | (std::uint32_t{tail[1]} << 16) |
                               (std::uint32_t{tail[2]} << 8) | std::uint32_t{tail[3]};
  if (crc_of(bytes.data(), bytes.size() - trailer_bytes) != stored) return result::failure("checksum mismatch");

  msgpack::object_handle handle;
  try {
    // limits: array, map, str, bin, ext, depth; strings and bins are referenced in place
    msgpack::unpack_limit limit(max_list_items, max_map_entries, max_string_bytes,
                                max_weight_bytes, 0, 8);
    std::size_t offset = 0;
    auto reference_all = [](msgpack::type::object_type, std::size_t, void*) { return true; };
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, reference_all, nullptr, limit);
    if (offset != bytes.size()) return result::failure("trailing bytes after the model map");
  } catch (const std::exception& e) {
    return result::failure(std::string("malformed MessagePack: ") + e.what());
  }
  try {
    const msgpack::object& root = handle.get();
    reader r;
    model_artifact a;
    std::string format, kind;
    std::int64_t version = -1, classes = -1;
    std::string_view weights;
    std::set<std::string_view> have;
    bool checksum_last = false;
    std::uint32_t index = 0;
    bool ok = r.map(root, "model file", [&](std::string_view key, const msgpack::object& v) {
      ++index;
      have.insert(key);
      if (key == "format") return r.str(v, "format", format);
      if (key == "format_version") return r.integer(v, "format_version", 0, INT32_MAX, version);
      if (key == "kind") return r.str(v, "kind", kind);
      if (key == "spec") return read_spec(r, v, a.spec);
      if (key == "classes") return r.integer(v, "classes", 0, max_layer_width, classes);
      if (key == "input_columns") return r.strings(v, "input_columns", a.input_columns);
      if (key == "feature_columns") return r.strings(v, "feature_columns", a.feature_columns);
      if (key == "preprocessing") return read_preprocessing(r, v, a.preprocessing);
      if (key == "metrics")
        return r.map(v, "metrics", [&](std::string_view name, const msgpack::object& m) {
          double d;
          if (!r.number(m, "metric value", d)) return false;
          a.metrics.emplace(std::string(name), d);
          return true;
        });
      if (key == "provenance")
        return r.map(v, "provenance", [&](std::string_view pk, const msgpack::object& pv) {
          auto& p = a.provenance;
          if (pk == "graph") return r.str(pv, "provenance.graph", p.graph);
          if (pk == "step") return r.str(pv, "provenance.step", p.step);
          if (pk == "data_source") return r.str(pv, "provenance.data_source", p.data_source);
          if (pk == "conveyor_version") return r.str(pv, "provenance.conveyor_version", p.conveyor_version);
          if (pk == "created_unix")
            return r.integer(pv, "provenance.created_unix", INT64_MIN, INT64_MAX, p.created_unix);
          return true;
        });
      if (key == "weights") {
        if (v.type != msgpack::type::BIN) return r.fail("weights is not binary");
        weights = std::string_view(v.via.bin.ptr, v.via.bin.size);
        return true;
      }
      if (key == "checksum") checksum_last = index == root.via.map.size;
      return true; // unknown keys are ignored (covered by the checksum all the same)
    });
    if (!ok) return result::failure(r.err);
    if (format != format_name)
      return result::failure(have.count("format") ? "not a conveyor model (format '" + format + "')"
                                                  : "missing key 'format'");
    for (const char* key : {"format_version", "kind", "spec", "classes", "input_columns",
                            "feature_columns", "preprocessing", "metrics", "provenance", "weights"})
      if (!have.count(key)) return result::failure(std::string("missing key '") + key + "'");
    if (!checksum_last) return result::failure("checksum is not the last key");
    if (version != format_version)
      return result::failure("unsupported format_version " + std::to_string(version) +
                             " (this build reads " + std::to_string(format_version) + ")");
    a.spec.kind = kind;
    try {
      a.spec = validate(a.spec);
    } catch (const std::invalid_argument& e) {
      return result::failure(std::string("invalid spec: ") + e.what());
    }
    if (weights.size() % 4 != 0) return result::failure("weights length is not a multiple of 4");
    const std::size_t expected = parameter_count(a.spec);
    if (weights.size() / 4 != expected)
      return result::failure("weights hold " + std::to_string(weights.size() / 4) +
                             " floats, the spec implies " + std::to_string(expected));
    a.weights = le_bytes_to_floats(weights);
    for (float w : a.weights)
      if (!std::isfinite(w)) return result::failure("weights contain NaN or infinity");
    a.classes = static_cast<int>(classes);
    if (a.classes != expected_classes(a.spec))
      return result::failure("classes is " + std::to_string(a.classes) + ", the spec implies " +
                             std::to_string(expected_classes(a.spec)));
    if (!a.feature_columns.empty() && a.feature_columns.size() != static_cast<std::size_t>(a.spec.layers[0]))
      return result::failure(std::to_string(a.feature_columns.size()) + " feature columns for " +
                             std::to_string(a.spec.layers[0]) + " model inputs");
    return result::success(std::move(a));
  } catch (const std::exception& e) { // e.g. bad_alloc: still a message, not a crash
    return result::failure(std::string("cannot decode model: ") + e.what());
  }
}

void save(const std::string& path, const model_artifact& a) {
  const std::string bytes = encode(a);
  try {
    write_file_atomically(path, bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("save model file " + path + ": " + e.what());
  }
}

decoded<model_artifact> load(const std::string& path) {
  using result = decoded<model_artifact>;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return result::failure("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return result::failure(path + " is not a regular file");
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
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  bytes.resize(done);
  auto r = decode(bytes);
  if (!r) r.error = path + ": " + r.error;
  return r;
}

} // namespace model_file

} // namespace conveyor::compute
