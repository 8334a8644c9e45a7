#include "compute/model_file.hpp"

#include "base/atomic_file.hpp"
#include "base/float_bytes.hpp"

#include <msgpack.hpp>
#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <optional>
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
constexpr std::uint32_t fleet_keys = 2; ///< `fleet` and `fleet_weights`, version 2 only
/// `feature_distribution`'s own version: readers skip a version they do not know.
constexpr std::int64_t distribution_version = 1;
constexpr std::size_t max_histogram_bins = 64;
/// The fleet's `distributions` (per-segment histograms) version: readers skip another.
constexpr std::int64_t segment_distributions_version = 1;

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
  if (a.trained_on) {
    if (a.trained_on->features.size() > model_file::max_list_items)
      throw std::invalid_argument("artifact describes too many features");
    for (const auto& h : a.trained_on->features)
      if (h.counts.size() != h.edges.size() + 1 || h.counts.size() > max_histogram_bins ||
          !std::is_sorted(h.edges.begin(), h.edges.end()))
        throw std::invalid_argument("artifact histogram of '" + h.column + "' is malformed");
  }
  if (!a.fleet) return;
  const auto& f = *a.fleet;
  if (f.by.empty()) throw std::invalid_argument("artifact fleet has no 'by' column");
  if (f.segments.size() > model_file::max_list_items) throw std::invalid_argument("artifact fleet has too many segments");
  std::set<std::string_view> keys;
  for (const auto& seg : f.segments) {
    if (seg.key.empty()) throw std::invalid_argument("artifact fleet has an empty key");
    if (!keys.insert(seg.key).second) throw std::invalid_argument("artifact fleet has the key '" + seg.key + "' twice");
    if (seg.metrics.size() > model_file::max_map_entries) throw std::invalid_argument("too many segment metrics");
  }
  if (!f.shared && (f.unknown_key_shared || f.own_count() != f.segments.size()))
    throw std::invalid_argument("artifact fleet without a shared model needs every key's own model and unknown_key error");
  if (!f.distributions.empty()) {
    if (f.distributions.size() != f.segments.size())
      throw std::invalid_argument("artifact fleet has " + std::to_string(f.distributions.size()) +
                                  " segment distributions for " + std::to_string(f.segments.size()) + " segments");
    for (std::size_t i = 0; i < f.distributions.size(); ++i) {
      const auto& d = f.distributions[i];
      if (d.features.size() != static_cast<std::size_t>(s.layers[0]))
        throw std::invalid_argument("artifact fleet segment '" + f.segments[i].key + "' describes " +
                                    std::to_string(d.features.size()) + " features for " +
                                    std::to_string(s.layers[0]) + " inputs");
      std::size_t cells = 0;
      for (const auto& h : d.features) {
        if (h.counts.size() != h.edges.size() + 1 || h.counts.size() > max_histogram_bins ||
            !std::is_sorted(h.edges.begin(), h.edges.end()))
          throw std::invalid_argument("artifact fleet segment '" + f.segments[i].key +
                                      "' has a malformed histogram of '" + h.column + "'");
        cells += h.counts.size();
      }
      if (cells > model_file::max_list_items)
        throw std::invalid_argument("artifact fleet segment histograms have too many bins");
    }
  }
  if (f.weights.size() != f.own_count() * parameter_count(s))
    throw std::invalid_argument("artifact fleet weights hold " + std::to_string(f.weights.size()) + " floats, " +
                                std::to_string(f.own_count()) + " own segments imply " +
                                std::to_string(f.own_count() * parameter_count(s)));
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

void pack_metrics(packer& pk, const std::map<std::string, double>& metrics) {
  pk.pack_map(static_cast<std::uint32_t>(metrics.size()));
  for (const auto& [name, value] : metrics) {
    pack_str(pk, name);
    pk.pack(value);
  }
}

/// The fleet's per-segment histograms, compactly (a thousand keys of 20 features are
/// 200,000 bins): per segment its sampled rows, the bin count of each feature (a bin of
/// bytes), every feature's edges in turn as float32 little-endian (a bin) and every
/// feature's counts in turn (an array of unsigned integers).
void pack_segment_distributions(packer& pk, const std::vector<feature_distribution>& all) {
  pk.pack_map(2);
  pack_str(pk, "version");
  pk.pack(segment_distributions_version);
  pack_str(pk, "segments");
  pk.pack_array(static_cast<std::uint32_t>(all.size()));
  std::string bins;
  std::vector<float> edges;
  for (const auto& d : all) {
    bins.clear();
    edges.clear();
    std::size_t cells = 0;
    for (const auto& h : d.features) {
      bins.push_back(static_cast<char>(h.counts.size()));
      edges.insert(edges.end(), h.edges.begin(), h.edges.end());
      cells += h.counts.size();
    }
    pk.pack_map(4);
    pack_str(pk, "rows");
    pk.pack(d.rows);
    pack_str(pk, "bins");
    pk.pack_bin(static_cast<std::uint32_t>(bins.size()));
    pk.pack_bin_body(bins.data(), static_cast<std::uint32_t>(bins.size()));
    const std::string edge_bytes = floats_to_le_bytes(edges.data(), edges.size());
    pack_str(pk, "edges");
    pk.pack_bin(static_cast<std::uint32_t>(edge_bytes.size()));
    pk.pack_bin_body(edge_bytes.data(), static_cast<std::uint32_t>(edge_bytes.size()));
    pack_str(pk, "counts");
    pk.pack_array(static_cast<std::uint32_t>(cells));
    for (const auto& h : d.features)
      for (auto c : h.counts)
        pk.pack(c);
  }
}

void pack_fleet(packer& pk, const model_fleet& f) {
  pk.pack_map(f.distributions.empty() ? 5 : 6);
  if (!f.distributions.empty()) {
    pack_str(pk, "distributions");
    pack_segment_distributions(pk, f.distributions);
  }
  pack_str(pk, "by");
  pack_str(pk, f.by);
  pack_str(pk, "shared");
  pk.pack(f.shared);
  pack_str(pk, "unknown_key");
  pack_str(pk, f.unknown_key_shared ? "shared" : "error");
  pack_str(pk, "min_rows");
  pk.pack(f.min_rows);
  pack_str(pk, "segments");
  pk.pack_array(static_cast<std::uint32_t>(f.segments.size()));
  for (const auto& seg : f.segments) {
    pk.pack_map(4);
    pack_str(pk, "key");
    pack_str(pk, seg.key);
    pack_str(pk, "rows");
    pk.pack(seg.rows);
    pack_str(pk, "own");
    pk.pack(seg.own);
    pack_str(pk, "metrics");
    pack_metrics(pk, seg.metrics);
  }
}

void pack_distribution(packer& pk, const feature_distribution& d) {
  pk.pack_map(3);
  pack_str(pk, "version");
  pk.pack(distribution_version);
  pack_str(pk, "rows");
  pk.pack(d.rows);
  pack_str(pk, "features");
  pk.pack_array(static_cast<std::uint32_t>(d.features.size()));
  for (const auto& h : d.features) {
    pk.pack_map(3);
    pack_str(pk, "column");
    pack_str(pk, h.column);
    pack_str(pk, "edges");
    pk.pack(h.edges);
    pack_str(pk, "counts");
    pk.pack(h.counts);
  }
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

bool read_metrics(reader& r, const msgpack::object& o, const char* what,
                  std::map<std::string, double>& out) {
  return r.map(o, what, [&](std::string_view name, const msgpack::object& m) {
    double d;
    if (!r.number(m, "metric value", d)) return false;
    out.emplace(std::string(name), d);
    return true;
  });
}

/// `feature_distribution`: a version this build does not know is skipped (the model
/// still serves; drift checks then have nothing to compare with).
bool read_distribution(reader& r, const msgpack::object& o,
                       std::optional<feature_distribution>& out) {
  feature_distribution d;
  std::int64_t version = -1;
  const msgpack::object* features = nullptr;
  bool ok = r.map(o, "feature_distribution", [&](std::string_view key, const msgpack::object& v) {
    if (key == "version") return r.integer(v, "feature_distribution.version", 0, INT64_MAX, version);
    if (key == "rows") {
      std::int64_t n;
      if (!r.integer(v, "feature_distribution.rows", 0, INT64_MAX, n)) return false;
      d.rows = static_cast<std::uint64_t>(n);
      return true;
    }
    if (key == "features") features = &v;
    return true;
  });
  if (!ok) return false;
  if (version != distribution_version) return true;
  if (!features || features->type != msgpack::type::ARRAY)
    return r.fail("feature_distribution.features is not an array");
  for (std::uint32_t i = 0; i < features->via.array.size; ++i) {
    feature_histogram h;
    bool hok = r.map(features->via.array.ptr[i], "feature histogram", [&](std::string_view key, const msgpack::object& v) {
      if (key == "column") return r.str(v, "feature histogram column", h.column);
      if (key == "edges") {
        if (v.type != msgpack::type::ARRAY || v.via.array.size >= max_histogram_bins)
          return r.fail("feature histogram edges is not an array of at most 63 numbers");
        for (std::uint32_t e = 0; e < v.via.array.size; ++e) {
          double x;
          if (!r.number(v.via.array.ptr[e], "feature histogram edge", x)) return false;
          if (!std::isfinite(x) || (!h.edges.empty() && !(x > h.edges.back())))
            return r.fail("feature histogram edges of '" + h.column + "' are not finite and ascending");
          h.edges.push_back(x);
        }
        return true;
      }
      if (key == "counts") {
        if (v.type != msgpack::type::ARRAY || v.via.array.size > max_histogram_bins)
          return r.fail("feature histogram counts is not an array of at most 64 counts");
        for (std::uint32_t c = 0; c < v.via.array.size; ++c) {
          std::int64_t n;
          if (!r.integer(v.via.array.ptr[c], "feature histogram count", 0, INT64_MAX, n)) return false;
          h.counts.push_back(static_cast<std::uint64_t>(n));
        }
        return true;
      }
      return true;
    });
    if (!hok) return false;
    if (h.counts.size() != h.edges.size() + 1)
      return r.fail("feature histogram of '" + h.column + "' has " + std::to_string(h.counts.size()) +
                    " counts for " + std::to_string(h.edges.size()) + " edges (one more expected)");
    d.features.push_back(std::move(h));
  }
  out = std::move(d);
  return true;
}

/// The fleet's `distributions` (pack_segment_distributions); a version this build does
/// not know leaves them empty (drift checks then compare the whole fleet). Column names
/// are the artifact's feature columns, filled in by decode.
bool read_segment_distributions(reader& r, const msgpack::object& o,
                                std::vector<feature_distribution>& out) {
  std::int64_t version = -1;
  const msgpack::object* segments = nullptr;
  bool ok = r.map(o, "fleet.distributions", [&](std::string_view key, const msgpack::object& v) {
    if (key == "version") return r.integer(v, "fleet.distributions.version", 0, INT64_MAX, version);
    if (key == "segments") segments = &v;
    return true;
  });
  if (!ok) return false;
  if (version != segment_distributions_version) return true;
  if (!segments || segments->type != msgpack::type::ARRAY)
    return r.fail("fleet.distributions.segments is not an array");
  std::vector<feature_distribution> all;
  all.reserve(segments->via.array.size);
  for (std::uint32_t i = 0; i < segments->via.array.size; ++i) {
    const std::string where = "fleet distribution " + std::to_string(i);
    feature_distribution d;
    std::string_view bins, edges;
    const msgpack::object* counts = nullptr;
    bool have_bins = false, have_edges = false;
    bool sok = r.map(segments->via.array.ptr[i], "fleet distribution", [&](std::string_view key, const msgpack::object& v) {
      if (key == "rows") {
        std::int64_t n;
        if (!r.integer(v, "fleet distribution rows", 0, INT64_MAX, n)) return false;
        d.rows = static_cast<std::uint64_t>(n);
        return true;
      }
      if (key == "bins" || key == "edges") {
        if (v.type != msgpack::type::BIN) return r.fail(where + " " + std::string(key) + " is not binary");
        (key == "bins" ? bins : edges) = std::string_view(v.via.bin.ptr, v.via.bin.size);
        (key == "bins" ? have_bins : have_edges) = true;
        return true;
      }
      if (key == "counts") counts = &v;
      return true;
    });
    if (!sok) return false;
    if (!have_bins || !have_edges || !counts || counts->type != msgpack::type::ARRAY)
      return r.fail(where + " lacks bins, edges or counts");
    std::size_t cells = 0;
    for (unsigned char b : bins) {
      if (b < 1 || b > max_histogram_bins) return r.fail(where + " has a feature of " + std::to_string(b) + " bins (1 to 64)");
      cells += b;
    }
    if (edges.size() != (cells - bins.size()) * 4 || counts->via.array.size != cells)
      return r.fail(where + ": its edges and counts do not match its bins");
    const auto edge_values = le_bytes_to_floats(edges);
    std::size_t e = 0, c = 0;
    for (unsigned char b : bins) {
      feature_histogram h;
      for (unsigned k = 0; k + 1 < b; ++k, ++e) {
        const double x = edge_values[e];
        if (!std::isfinite(x) || (!h.edges.empty() && !(x > h.edges.back())))
          return r.fail(where + ": edges are not finite and ascending");
        h.edges.push_back(x);
      }
      for (unsigned k = 0; k < b; ++k, ++c) {
        std::int64_t n;
        if (!r.integer(counts->via.array.ptr[c], "fleet distribution count", 0, INT64_MAX, n)) return false;
        h.counts.push_back(static_cast<std::uint64_t>(n));
      }
      d.features.push_back(std::move(h));
    }
    all.push_back(std::move(d));
  }
  out = std::move(all);
  return true;
}

bool read_fleet(reader& r, const msgpack::object& o, model_fleet& f) {
  bool have_by = false, have_segments = false;
  bool ok = r.map(o, "fleet", [&](std::string_view key, const msgpack::object& v) {
    if (key == "by") {
      have_by = true;
      return r.str(v, "fleet.by", f.by);
    }
    if (key == "unknown_key") {
      std::string policy;
      if (!r.str(v, "fleet.unknown_key", policy)) return false;
      if (policy != "shared" && policy != "error")
        return r.fail("fleet.unknown_key is '" + policy + "' (shared or error)");
      f.unknown_key_shared = policy == "shared";
      return true;
    }
    if (key == "shared") {
      if (v.type != msgpack::type::BOOLEAN) return r.fail("fleet.shared is not a boolean");
      f.shared = v.via.boolean;
      return true;
    }
    if (key == "min_rows") {
      std::int64_t n;
      if (!r.integer(v, "fleet.min_rows", 0, INT64_MAX, n)) return false;
      f.min_rows = static_cast<std::uint64_t>(n);
      return true;
    }
    if (key == "segments") {
      have_segments = true;
      if (v.type != msgpack::type::ARRAY) return r.fail("fleet.segments is not an array");
      std::set<std::string_view> keys;
      f.segments.reserve(v.via.array.size);
      for (std::uint32_t i = 0; i < v.via.array.size; ++i) {
        fleet_segment seg;
        bool have_key = false;
        bool seg_ok = r.map(v.via.array.ptr[i], "fleet segment", [&](std::string_view k, const msgpack::object& sv) {
          if (k == "key") {
            have_key = true;
            return r.str(sv, "fleet segment key", seg.key);
          }
          if (k == "rows") {
            std::int64_t n;
            if (!r.integer(sv, "fleet segment rows", 0, INT64_MAX, n)) return false;
            seg.rows = static_cast<std::uint64_t>(n);
            return true;
          }
          if (k == "own") {
            if (sv.type != msgpack::type::BOOLEAN) return r.fail("fleet segment own is not a boolean");
            seg.own = sv.via.boolean;
            return true;
          }
          if (k == "metrics") return read_metrics(r, sv, "fleet segment metrics", seg.metrics);
          return true;
        });
        if (!seg_ok) return false;
        if (!have_key || seg.key.empty()) return r.fail("fleet segment " + std::to_string(i) + " has no key");
        f.segments.push_back(std::move(seg));
        if (!keys.insert(f.segments.back().key).second)
          return r.fail("fleet has the key '" + f.segments.back().key + "' twice");
      }
      return true;
    }
    if (key == "distributions") return read_segment_distributions(r, v, f.distributions);
    return true; // unknown fleet keys are ignored
  });
  if (!ok) return false;
  if (!have_by || f.by.empty()) return r.fail("fleet lacks 'by'");
  if (!have_segments) return r.fail("fleet lacks 'segments'");
  if (!f.shared && (f.unknown_key_shared || f.own_count() != f.segments.size()))
    return r.fail("a fleet without a shared model needs every key's own model and unknown_key 'error'");
  return true;
}

// ---- the load path: the file's structure and sizes, checked before it is read whole ----

std::string unsupported_version(std::int64_t version) {
  return "unsupported format_version " + std::to_string(version) + " (this build reads " +
         std::to_string(model_file::single_model_version) + " to " +
         std::to_string(model_file::format_version) + ")";
}

/// Reads a file front to back through a small buffer, with skips (seeks) over large
/// values, so that checking a file's structure costs memory independent of its size.
class file_cursor {
public:
  file_cursor(int fd, std::uint64_t size) : fd_(fd), size_(size) {}

  std::uint64_t offset() const { return offset_; }
  const std::string& error() const { return error_; }

  bool read(void* out, std::size_t n) {
    auto* to = static_cast<char*>(out);
    while (n > 0) {
      if (at_ == filled_ && !refill())
        return false;
      const std::size_t take = std::min(n, filled_ - at_);
      std::memcpy(to, buffer_ + at_, take);
      at_ += take;
      offset_ += take;
      to += take;
      n -= take;
    }
    return true;
  }
  bool skip(std::uint64_t n) {
    if (n > size_ - offset_)
      return fail("truncated or not a conveyor model (a value runs past the end)");
    const std::uint64_t buffered = filled_ - at_;
    if (n <= buffered) {
      at_ += static_cast<std::size_t>(n);
    } else {
      at_ = filled_ = 0; // the next read starts from the file
    }
    offset_ += n;
    return true;
  }
  bool fail(const std::string& why) {
    if (error_.empty())
      error_ = why;
    return false;
  }

private:
  bool refill() {
    if (offset_ >= size_)
      return fail("truncated or not a conveyor model (a value runs past the end)");
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buffer_, size_ - offset_));
    ssize_t n;
    do
      n = ::pread(fd_, buffer_, want, static_cast<off_t>(offset_));
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return fail(std::string("read failed: ") + std::strerror(errno));
    if (n == 0)
      return fail("truncated or not a conveyor model (the file shrank while it was read)");
    at_ = 0;
    filled_ = static_cast<std::size_t>(n);
    return true;
  }

  int fd_;
  std::uint64_t size_;
  std::uint64_t offset_ = 0;
  char buffer_[16384];
  std::size_t at_ = 0, filled_ = 0;
  std::string error_;
};

/// What the structure walk found: the values needed to check the sizes.
struct file_outline {
  std::string format, kind;
  std::string format_version_bytes, spec_bytes; ///< those values, encoded
  bool have_spec = false;
  std::optional<std::uint64_t> weight_bytes;
  std::optional<std::uint64_t> fleet_weight_bytes; ///< version 2 fleets
};

/// Walks MessagePack values at the cursor with the decoder's limits (counts, lengths,
/// nesting, no ext types), skipping over strings and bins without reading them; `skip`
/// can record the bytes of a small value it walks (the spec, format_version).
class outline_walker {
public:
  explicit outline_walker(file_cursor& c) : c_(c) {}

  template <class T>
  bool big_endian(T& out) {
    unsigned char b[sizeof(T)];
    if (!c_.read(b, sizeof b))
      return false;
    std::uint64_t v = 0;
    for (unsigned char x : b)
      v = (v << 8) | x;
    out = static_cast<T>(v);
    return true;
  }

  /// The length of a str at the cursor (its header consumed), or false for another type.
  bool str_header(std::uint32_t& length) {
    unsigned char t;
    if (!c_.read(&t, 1))
      return false;
    if (t >= 0xa0 && t <= 0xbf) { length = t & 0x1fu; return true; }
    if (t == 0xd9) { std::uint8_t n; if (!big_endian(n)) return false; length = n; return true; }
    if (t == 0xda) { std::uint16_t n; if (!big_endian(n)) return false; length = n; return true; }
    if (t == 0xdb) return big_endian(length);
    return c_.fail("not a conveyor model (a key of the model map is not a string)");
  }

  bool string(std::string& out, std::size_t limit) {
    std::uint32_t n;
    if (!str_header(n))
      return false;
    if (n > limit)
      return c_.fail("not a conveyor model (a string is longer than expected)");
    out.resize(n);
    return c_.read(out.data(), n);
  }

  /// Skips one value; `record`, when given, receives its encoded bytes, unless they pass
  /// max_record_bytes: then it is left empty and `overflowed` set (the check that needs
  /// it is left to decode, so that the walk never refuses what decode accepts).
  bool skip(int depth, std::string* record = nullptr) {
    if (record && overflowed)
      record = nullptr;
    if (depth > 8)
      return c_.fail("malformed MessagePack: nesting deeper than 8");
    unsigned char t;
    if (!c_.read(&t, 1))
      return false;
    return skip_value(t, depth, record);
  }

  /// Skips the rest of a value whose type byte `t` has been read.
  bool skip_value(unsigned char t, int depth, std::string* record = nullptr) {
    if (record && record->size() >= max_record_bytes)
      record = stop_recording(*record);
    if (record)
      record->push_back(static_cast<char>(t));
    std::uint64_t payload = 0, items = 0;
    bool is_map = false, is_container = false;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
      return true;
    } else if (t >= 0x80 && t <= 0x8f) {
      items = t & 0x0fu; is_map = is_container = true;
    } else if (t >= 0x90 && t <= 0x9f) {
      items = t & 0x0fu; is_container = true;
    } else if (t >= 0xa0 && t <= 0xbf) {
      payload = t & 0x1fu;
    } else {
      int length_bytes = 0;
      switch (t) {
        case 0xc4: case 0xd9: length_bytes = 1; break;
        case 0xc5: case 0xda: length_bytes = 2; break;
        case 0xc6: case 0xdb: length_bytes = 4; break;
        case 0xcc: case 0xd0: payload = 1; break;
        case 0xcd: case 0xd1: payload = 2; break;
        case 0xca: case 0xce: case 0xd2: payload = 4; break;
        case 0xcb: case 0xcf: case 0xd3: payload = 8; break;
        case 0xdc: length_bytes = 2; is_container = true; break;
        case 0xdd: length_bytes = 4; is_container = true; break;
        case 0xde: length_bytes = 2; is_container = is_map = true; break;
        case 0xdf: length_bytes = 4; is_container = is_map = true; break;
        default: return c_.fail("malformed MessagePack: an ext or reserved type");
      }
      if (length_bytes > 0) {
        unsigned char b[4];
        if (!c_.read(b, static_cast<std::size_t>(length_bytes)))
          return false;
        if (record)
          record->append(reinterpret_cast<const char*>(b), static_cast<std::size_t>(length_bytes));
        std::uint64_t n = 0;
        for (int i = 0; i < length_bytes; ++i)
          n = (n << 8) | b[i];
        (is_container ? items : payload) = n;
        const bool bin = t >= 0xc4 && t <= 0xc6;
        if (!is_container && n > (bin ? model_file::max_weight_bytes : model_file::max_string_bytes))
          return c_.fail("malformed MessagePack: a string or bin longer than the limit");
      }
    }
    if (!is_container) {
      if (record && record->size() + payload > max_record_bytes)
        record = stop_recording(*record);
      if (!record)
        return c_.skip(payload);
      const auto at = record->size();
      record->resize(at + payload);
      return c_.read(record->data() + at, payload);
    }
    if (items > (is_map ? model_file::max_map_entries : model_file::max_list_items))
      return c_.fail("malformed MessagePack: too many items in an array or map");
    for (std::uint64_t i = 0; i < items * (is_map ? 2 : 1); ++i)
      if (!skip(depth + 1, record))
        return false;
    return true;
  }

  bool overflowed = false; ///< a recorded value passed max_record_bytes

  /// Walks the top-level map: every entry, reading the few values the sizes depend on.
  bool outline(file_outline& out) {
    unsigned char t;
    if (!c_.read(&t, 1))
      return false;
    std::uint64_t entries;
    if (t >= 0x80 && t <= 0x8f) {
      entries = t & 0x0fu;
    } else if (t == 0xde) {
      std::uint16_t n;
      if (!big_endian(n)) return false;
      entries = n;
    } else if (t == 0xdf) {
      std::uint32_t n;
      if (!big_endian(n)) return false;
      entries = n;
    } else {
      return c_.fail("not a conveyor model (not a MessagePack map)");
    }
    if (entries > model_file::max_map_entries)
      return c_.fail("malformed MessagePack: too many items in an array or map");
    constexpr std::size_t short_string = 256;
    for (std::uint64_t i = 0; i < entries; ++i) {
      std::string key;
      if (!string(key, model_file::max_string_bytes))
        return false;
      if (key == "format" || key == "kind") {
        std::string value;
        if (!string(value, short_string))
          return c_.fail("not a conveyor model ('" + key + "' is not a short string)");
        (key == "format" ? out.format : out.kind) = value;
      } else if (key == "format_version") {
        if (!skip(1, &out.format_version_bytes))
          return false;
      } else if (key == "spec") {
        if (!skip(1, &out.spec_bytes))
          return false;
        out.have_spec = true;
      } else if (key == "weights" || key == "fleet_weights") {
        unsigned char b;
        if (!c_.read(&b, 1))
          return false;
        std::uint32_t n = 0;
        if (b == 0xc4) { std::uint8_t x; if (!big_endian(x)) return false; n = x; }
        else if (b == 0xc5) { std::uint16_t x; if (!big_endian(x)) return false; n = x; }
        else if (b == 0xc6) { if (!big_endian(n)) return false; }
        else if (key == "fleet_weights") { // only version 2 needs a bin here: decode says
          if (!skip_value(b, 1))
            return false;
          continue;
        }
        else return c_.fail("weights is not binary");
        if (n > model_file::max_weight_bytes)
          return c_.fail("malformed MessagePack: a string or bin longer than the limit");
        (key == "weights" ? out.weight_bytes : out.fleet_weight_bytes) = n;
        if (!c_.skip(n))
          return false;
      } else if (!skip(1)) {
        return false;
      }
    }
    return true;
  }

private:
  std::string* stop_recording(std::string& record) {
    record.clear();
    overflowed = true;
    return nullptr;
  }

  /// A valid model's spec (64 layers at most, unknown keys aside) takes well under 1 KiB.
  static constexpr std::size_t max_record_bytes = 64 * 1024;
  file_cursor& c_;
};

/// Checks a model file's structure and sizes without reading it whole: the map's entries
/// span exactly the file, `format` and `format_version` are right, the spec is valid and
/// the weights are as long as it implies. What is left to check (the checksum, every
/// field) needs the whole file: `decode` does it. Returns an error message or "".
std::string check_outline(int fd, std::uint64_t size) {
  file_cursor cursor(fd, size);
  outline_walker walker(cursor);
  file_outline o;
  if (!walker.outline(o))
    return cursor.error();
  if (cursor.offset() != size)
    return "trailing bytes after the model map";
  if (o.format != model_file::format_name)
    return o.format.empty() ? "missing key 'format'" : "not a conveyor model (format '" + o.format + "')";
  if (walker.overflowed)
    return {}; // a spec too large to read here: decode checks it
  if (o.format_version_bytes.empty())
    return "missing key 'format_version'";
  if (!o.have_spec)
    return "missing key 'spec'";
  if (!o.weight_bytes)
    return "missing key 'weights'";
  model_spec spec;
  std::int64_t version = -1;
  try {
    reader r;
    auto v = msgpack::unpack(o.format_version_bytes.data(), o.format_version_bytes.size());
    if (!r.integer(v.get(), "format_version", 0, INT32_MAX, version))
      return r.err;
    if (version < model_file::single_model_version || version > model_file::format_version)
      return unsupported_version(version);
    auto handle = msgpack::unpack(o.spec_bytes.data(), o.spec_bytes.size());
    if (!read_spec(r, handle.get(), spec))
      return r.err;
    spec.kind = o.kind;
    spec = validate(spec);
  } catch (const std::exception& e) {
    return std::string("invalid spec: ") + e.what();
  }
  const std::size_t expected = parameter_count(spec);
  if (*o.weight_bytes != expected * 4)
    return "weights hold " + std::to_string(*o.weight_bytes / 4) + " floats, the spec implies " +
           std::to_string(expected);
  // A fleet's own weights (version 2; version 1 ignores the key): a whole number of
  // models (decode checks the count).
  if (version >= 2 && o.fleet_weight_bytes && *o.fleet_weight_bytes % (expected * 4) != 0)
    return "fleet_weights hold " + std::to_string(*o.fleet_weight_bytes / 4) +
           " floats, not a whole number of models of " + std::to_string(expected);
  return {};
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

std::size_t model_fleet::own_count() const {
  std::size_t n = 0;
  for (const auto& s : segments)
    n += s.own ? 1 : 0;
  return n;
}

model instantiate_segment(const model_artifact& a, std::size_t own_index, backend& be) {
  if (!a.fleet || own_index >= a.fleet->own_count())
    throw std::invalid_argument("no own segment " + std::to_string(own_index) + " in this artifact");
  model m(a.spec, be);
  const std::size_t p = m.parameter_count();
  m.set_parameters(a.fleet->weights.data() + own_index * p, p);
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
  pk.pack_map(top_level_keys + (a.fleet ? fleet_keys : 0) + (a.trained_on ? 1 : 0));
  pack_str(pk, "format");
  pack_str(pk, format_name);
  pack_str(pk, "format_version");
  pk.pack(a.fleet ? format_version : single_model_version);
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
  pack_metrics(pk, a.metrics);
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
  if (a.trained_on) {
    pack_str(pk, "feature_distribution");
    pack_distribution(pk, *a.trained_on);
  }
  if (a.fleet) {
    pack_str(pk, "fleet");
    pack_fleet(pk, *a.fleet);
    pack_str(pk, "fleet_weights");
    const std::string fw = floats_to_le_bytes(a.fleet->weights.data(), a.fleet->weights.size());
    if (fw.size() > max_weight_bytes) throw std::invalid_argument("fleet weights exceed 1 GiB");
    pk.pack_bin(static_cast<std::uint32_t>(fw.size()));
    pk.pack_bin_body(fw.data(), static_cast<std::uint32_t>(fw.size()));
  }
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
    std::string_view weights, fleet_weights;
    // read once the version is known (version 1 ignores them)
    const msgpack::object* fleet_object = nullptr;
    const msgpack::object* fleet_weights_object = nullptr;
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
      if (key == "metrics") return read_metrics(r, v, "metrics", a.metrics);
      if (key == "fleet") {
        fleet_object = &v;
        return true;
      }
      if (key == "fleet_weights") {
        fleet_weights_object = &v;
        return true;
      }
      if (key == "feature_distribution") return read_distribution(r, v, a.trained_on);
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
    if (version < single_model_version || version > format_version)
      return result::failure(unsupported_version(version));
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
    // Version 2: a fleet. Version 1 readers ignored these keys; so does this one there.
    if (version >= 2) {
      if (!fleet_object) return result::failure("missing key 'fleet' (format_version 2)");
      if (!fleet_weights_object) return result::failure("missing key 'fleet_weights' (format_version 2)");
      model_fleet f;
      if (!read_fleet(r, *fleet_object, f)) return result::failure(r.err);
      if (fleet_weights_object->type != msgpack::type::BIN) return result::failure("fleet_weights is not binary");
      fleet_weights = std::string_view(fleet_weights_object->via.bin.ptr, fleet_weights_object->via.bin.size);
      if (fleet_weights.size() % 4 != 0) return result::failure("fleet_weights length is not a multiple of 4");
      const std::size_t fleet_expected = f.own_count() * expected;
      if (fleet_weights.size() / 4 != fleet_expected)
        return result::failure("fleet_weights hold " + std::to_string(fleet_weights.size() / 4) +
                               " floats, " + std::to_string(f.own_count()) + " own segments imply " +
                               std::to_string(fleet_expected));
      f.weights = le_bytes_to_floats(fleet_weights);
      for (float w : f.weights)
        if (!std::isfinite(w)) return result::failure("fleet_weights contain NaN or infinity");
      if (!f.distributions.empty()) {
        if (f.distributions.size() != f.segments.size())
          return result::failure("fleet.distributions describe " + std::to_string(f.distributions.size()) +
                                 " segments of " + std::to_string(f.segments.size()));
        for (auto& d : f.distributions) {
          if (d.features.size() != static_cast<std::size_t>(a.spec.layers[0]))
            return result::failure("fleet.distributions describe " + std::to_string(d.features.size()) +
                                   " features of a model with " + std::to_string(a.spec.layers[0]) + " inputs");
          if (a.feature_columns.size() == d.features.size())
            for (std::size_t j = 0; j < d.features.size(); ++j)
              d.features[j].column = a.feature_columns[j];
        }
      }
      a.fleet = std::move(f);
    }
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

decoded<model_artifact> load(const std::string& path, std::size_t max_bytes) {
  using result = decoded<model_artifact>;
  max_bytes = std::min(max_bytes, max_file_bytes);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result::failure("cannot open " + path + ": " + std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_at_exit{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return result::failure(path + " is not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes)
    return result::failure(path + ": file too large (" + std::to_string(size) +
                           " bytes; the limit is " + std::to_string(max_bytes) + ")");
  // The cheap checks first: the trailer (random bytes and truncated files fail here, from
  // 14 bytes), then the structure and the sizes, through a small buffer.
  unsigned char tail[trailer_bytes];
  if (size < trailer_bytes + 1 ||
      ::pread(fd, tail, sizeof tail, static_cast<off_t>(size - trailer_bytes)) != static_cast<ssize_t>(sizeof tail) ||
      std::memcmp(tail, trailer_prefix, sizeof trailer_prefix) != 0)
    return result::failure(path + ": truncated or not a conveyor model (no checksum at the end)");
  if (auto error = check_outline(fd, size); !error.empty())
    return result::failure(path + ": " + error);
  std::string bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size));
  } catch (const std::exception&) {
    return result::failure(path + ": out of memory");
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  auto r = decode(bytes);
  if (!r) r.error = path + ": " + r.error;
  return r;
}

} // namespace model_file

} // namespace conveyor::compute
