// Requests: msgpack's packer over a string-backed buffer; the tensor path copies the
// float32 rows once, as little-endian bytes. Replies: one msgpack SAX pass
// (reply_visitor) that tracks where each value sits (a stack of open containers and the
// key each is under), stores what it recognises, records the first problem and keeps
// going only so that a broken reply can still report its id.
#include "wire/client_codec.hpp"

#include "base/float_bytes.hpp"
#include "wire/msgpack_write.hpp"

#include <msgpack.hpp>

#include <cstring>
#include <limits>

namespace conveyor::wire {

using wire::append_float32;
using conveyor::append_le_floats;
using wire::pack_str;
using wire::packer;
using wire::string_sink;

void encode_predict_request(const predict_request& r, std::string& out) {
  out.clear();
  const auto count = std::size_t{r.rows} * r.columns;
  out.reserve(64 + r.model.size() + r.key.size() +
              (r.encoding == input_encoding::tensor ? count * 4 : count * 5 + r.rows * 5));
  string_sink sink{out};
  packer pk(sink);
  // op, id, model, [version], [deadline_ms], [key], shape + tensor | inputs
  pk.pack_map(3 + (r.version != 0 ? 1 : 0) + (r.deadline_ms ? 1 : 0) + (r.key.empty() ? 0 : 1) +
              (r.encoding == input_encoding::tensor ? 2 : 1));
  pack_str(pk, "op");
  pack_str(pk, "predict");
  pack_str(pk, "id");
  pk.pack_uint64(r.id);
  pack_str(pk, "model");
  pack_str(pk, r.model);
  if (r.version != 0) {
    pack_str(pk, "version");
    pk.pack_uint64(r.version);
  }
  if (r.deadline_ms) {
    pack_str(pk, "deadline_ms");
    pk.pack_uint64(*r.deadline_ms);
  }
  if (!r.key.empty()) {
    pack_str(pk, "key");
    pack_str(pk, r.key);
  }
  if (r.encoding == input_encoding::tensor) {
    pack_str(pk, "shape");
    pk.pack_array(2);
    pk.pack_uint32(r.rows);
    pk.pack_uint32(r.columns);
    pack_str(pk, "tensor");
    pk.pack_bin(static_cast<std::uint32_t>(count * 4));
    append_le_floats(r.values, count, out);
    return;
  }
  pack_str(pk, "inputs");
  pk.pack_array(r.rows);
  for (std::uint32_t i = 0; i < r.rows; ++i) {
    pk.pack_array(r.columns);
    const float* row = r.values + std::size_t{i} * r.columns;
    for (std::uint32_t c = 0; c < r.columns; ++c)
      append_float32(row[c], out);
  }
}

void encode_models_request(std::uint64_t id, std::string& out) {
  out.clear();
  string_sink sink{out};
  packer pk(sink);
  pk.pack_map(2);
  pack_str(pk, "op");
  pack_str(pk, "models");
  pack_str(pk, "id");
  pk.pack_uint64(id);
}

void encode_health_request(std::uint64_t id, std::string& out) {
  out.clear();
  string_sink sink{out};
  packer pk(sink);
  pk.pack_map(2);
  pack_str(pk, "op");
  pack_str(pk, "health");
  pack_str(pk, "id");
  pk.pack_uint64(id);
}

namespace {

/// Open containers allowed: the reply map, `outputs`, one row (3); `models`, one model
/// map and one level under an unknown key of it (4). Deeper data only occurs under
/// unknown keys; 8 leaves room for those and bounds the parser's own stack.
constexpr int max_depth = 8;

enum class key_name {
  none, unknown,
  // reply map
  id, ok, model, version, outputs, labels, models, status, error,
  // a `models` entry (also: version, outputs)
  name, inputs,
  // the `error` map
  code, message,
};

/// What a map is, which decides the keys it knows.
enum class map_kind { other, reply, model, error };

key_name key_of(map_kind m, std::string_view k) {
  switch (m) {
    case map_kind::reply:
      if (k == "id") return key_name::id;
      if (k == "ok") return key_name::ok;
      if (k == "model") return key_name::model;
      if (k == "version") return key_name::version;
      if (k == "outputs") return key_name::outputs;
      if (k == "labels") return key_name::labels;
      if (k == "models") return key_name::models;
      if (k == "status") return key_name::status;
      if (k == "error") return key_name::error;
      return key_name::unknown;
    case map_kind::model:
      if (k == "name") return key_name::name;
      if (k == "version") return key_name::version;
      if (k == "inputs") return key_name::inputs;
      if (k == "outputs") return key_name::outputs;
      return key_name::unknown;
    case map_kind::error:
      if (k == "code") return key_name::code;
      if (k == "message") return key_name::message;
      return key_name::unknown;
    case map_kind::other:
      return key_name::unknown;
  }
  return key_name::unknown;
}

/// Where the value being visited sits.
enum class place {
  ignored,      // inside a map key, or under a key nobody knows
  reply_value,  // a value of the reply map
  output_row,   // an element of `outputs` (must be an array)
  output_value, // an element of an output row (must be a number)
  label,        // an element of `labels` (must be an int)
  model_entry,  // an element of `models` (must be a map)
  model_value,  // a value of a model map
  error_value,  // a value of the error map
  invalid,      // deeper than a known key allows
};

struct frame {
  bool is_map = false;
  map_kind kind = map_kind::other;
  bool in_key = false;
  key_name key = key_name::none;
  std::uint32_t seen = 0; // known keys met in this map, for duplicates
};

struct reply_visitor : msgpack::null_visitor {
  reply_visitor(const reply_limits& l, reply& r, std::size_t message_bytes)
      : limits(l), out(r), bytes(message_bytes) {}

  const reply_limits& limits;
  reply& out;
  std::size_t bytes;

  frame stack[max_depth];
  int depth = 0;     // open containers
  int keys_open = 0; // open maps currently reading a key

  bool top_is_map = false;
  bool have_id = false, have_ok = false, have_outputs = false, have_labels = false;
  bool have_error = false, have_code = false;
  bool width_known = false;
  std::uint32_t row_index = 0;

  std::optional<std::string> problem;

  void fail(std::string message) {
    if (!problem)
      problem = std::move(message);
  }
  bool failed() const { return problem.has_value(); }

  key_name reply_key() const { return stack[0].key; }

  place where() const {
    if (keys_open > 0)
      return place::ignored;
    if (depth == 1)
      return place::reply_value;
    switch (reply_key()) {
      case key_name::outputs:
        return depth == 2 ? place::output_row : depth == 3 ? place::output_value : place::invalid;
      case key_name::labels:
        return depth == 2 ? place::label : place::invalid;
      case key_name::models:
        if (depth == 2) return place::model_entry;
        if (depth == 3) return place::model_value;
        return stack[2].key == key_name::unknown ? place::ignored : place::invalid;
      case key_name::error:
        if (depth == 2) return place::error_value;
        return stack[1].key == key_name::unknown ? place::ignored : place::invalid;
      default:
        return place::ignored;
    }
  }

  static const char* spelling(key_name k) {
    switch (k) {
      case key_name::id: return "id";
      case key_name::ok: return "ok";
      case key_name::model: return "model";
      case key_name::version: return "version";
      case key_name::outputs: return "outputs";
      case key_name::labels: return "labels";
      case key_name::models: return "models";
      case key_name::status: return "status";
      case key_name::error: return "error";
      case key_name::name: return "name";
      case key_name::inputs: return "inputs";
      case key_name::code: return "code";
      case key_name::message: return "message";
      default: return "?";
    }
  }

  /// The type a known key's value must have, for messages.
  static const char* expected(place p, key_name k) {
    if (p == place::output_row) return "an array (an output row)";
    if (p == place::output_value) return "a number";
    if (p == place::label) return "an integer";
    if (p == place::model_entry) return "a map {name, version, inputs, outputs}";
    switch (k) {
      case key_name::id:
      case key_name::version:
      case key_name::inputs:
        return "an unsigned integer";
      case key_name::outputs:
        return p == place::model_value ? "an unsigned integer" : "an array of rows";
      case key_name::ok: return "a boolean";
      case key_name::labels:
      case key_name::models: return "an array";
      case key_name::error: return "a map {code, message}";
      default: return "a string";
    }
  }

  /// The key the current value belongs to (meaningful for *_value places).
  key_name value_key(place p) const {
    switch (p) {
      case place::reply_value: return stack[0].key;
      case place::model_value: return stack[2].key;
      case place::error_value: return stack[1].key;
      default: return key_name::none;
    }
  }

  /// A value of the wrong type at `p`: fails unless nobody knows the key.
  void mistyped(place p) {
    if (p == place::ignored)
      return;
    if (p == place::invalid) {
      fail("unexpected nesting under '" + std::string(spelling(reply_key())) + "'");
      return;
    }
    const auto k = value_key(p);
    if (k == key_name::unknown)
      return;
    if (p == place::reply_value || p == place::model_value || p == place::error_value)
      fail(std::string("'") + spelling(k) + "' must be " + expected(p, k));
    else
      fail(std::string("an element of '") + spelling(reply_key()) + "' must be " +
           expected(p, k));
  }

  bool at_top(const char* kind) {
    if (depth == 0) {
      fail(std::string("a reply is a MessagePack map, not ") + kind);
      return false;
    }
    return true;
  }

  model_info& current_model() { return out.models.back(); }

  bool unsigned_value(std::uint64_t v) {
    const place p = where();
    const key_name k = value_key(p);
    if (p == place::reply_value && k == key_name::id) {
      out.id = v;
      have_id = true;
      return true;
    }
    if (failed())
      return true;
    if (p == place::reply_value && k == key_name::version) {
      out.version = v;
    } else if (p == place::model_value &&
               (k == key_name::version || k == key_name::inputs || k == key_name::outputs)) {
      if (k == key_name::version)
        current_model().version = v;
      else if (v > std::numeric_limits<std::uint32_t>::max())
        fail(std::string("model '") + spelling(k) + "' is out of range");
      else
        (k == key_name::inputs ? current_model().inputs : current_model().outputs) =
          static_cast<std::uint32_t>(v);
    } else if (p == place::output_value) {
      out.outputs.push_back(static_cast<float>(v));
    } else if (p == place::label) {
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
        fail("a label is out of range");
      else
        out.labels.push_back(static_cast<std::int32_t>(v));
    } else {
      mistyped(p);
    }
    return true;
  }

  bool signed_value(std::int64_t v) {
    if (failed())
      return true;
    const place p = where();
    if (p == place::output_value) {
      out.outputs.push_back(static_cast<float>(v));
    } else if (p == place::label) {
      if (v < std::numeric_limits<std::int32_t>::min())
        fail("a label is out of range");
      else
        out.labels.push_back(static_cast<std::int32_t>(v));
    } else {
      mistyped(p);
    }
    return true;
  }

  bool float_value(double v) {
    if (failed())
      return true;
    const place p = where();
    if (p == place::output_value)
      out.outputs.push_back(static_cast<float>(v));
    else
      mistyped(p);
    return true;
  }

  bool visit_positive_integer(std::uint64_t v) { return at_top("an integer") && unsigned_value(v); }
  bool visit_negative_integer(std::int64_t v) { return at_top("an integer") && signed_value(v); }
  bool visit_float32(float v) { return at_top("a float") && float_value(v); }
  bool visit_float64(double v) { return at_top("a float") && float_value(v); }

  bool visit_boolean(bool v) {
    if (!at_top("a boolean"))
      return false;
    const place p = where();
    if (p == place::reply_value && value_key(p) == key_name::ok) {
      out.ok = v;
      have_ok = true;
    } else if (!failed()) {
      mistyped(p);
    }
    return true;
  }

  bool other(const char* kind) {
    if (!at_top(kind))
      return false;
    if (!failed())
      mistyped(where());
    return true;
  }
  bool visit_nil() { return other("nil"); }
  bool visit_bin(const char*, std::uint32_t) { return other("bin"); }
  bool visit_ext(const char*, std::uint32_t) { return other("an ext value"); }

  bool visit_str(const char* p, std::uint32_t n) {
    if (!at_top("a string"))
      return false;
    const std::string_view s(p, n);
    frame& top = stack[depth - 1];
    if (keys_open > 0) {
      if (keys_open == 1 && top.is_map && top.in_key) {
        top.key = key_of(top.kind, s);
        if (top.key != key_name::unknown) {
          const auto bit = std::uint32_t{1} << static_cast<int>(top.key);
          if (top.seen & bit)
            fail("duplicate key '" + std::string(s) + "'");
          top.seen |= bit;
        }
      }
      return true;
    }
    if (failed())
      return true;
    const place at = where();
    const key_name k = value_key(at);
    std::string* target = nullptr;
    if (at == place::reply_value && k == key_name::model) target = &out.model;
    else if (at == place::reply_value && k == key_name::status) target = &out.status;
    else if (at == place::model_value && k == key_name::name) target = &current_model().name;
    else if (at == place::error_value && k == key_name::code) target = &out.error.code;
    else if (at == place::error_value && k == key_name::message) target = &out.error.message;
    if (target == nullptr) {
      mistyped(at);
      return true;
    }
    if (n > limits.max_string) {
      fail("a string of " + std::to_string(n) + " bytes (at most " +
           std::to_string(limits.max_string) + ")");
      return true;
    }
    target->assign(p, n);
    if (at == place::error_value && k == key_name::code)
      have_code = true;
    return true;
  }

  /// Pushes a container; `count` is its announced size.
  bool open(bool is_map, std::uint32_t count) {
    if (depth == 0) {
      if (!is_map) {
        fail("a reply is a MessagePack map, not an array");
        return false;
      }
      top_is_map = true;
      stack[depth++] = frame{true, map_kind::reply};
      return true;
    }
    if (depth == max_depth) {
      fail("nested too deeply");
      return false;
    }
    const place p = where();
    map_kind kind = map_kind::other;
    if (!failed())
      kind = check_container(p, is_map, count);
    stack[depth++] = frame{is_map, kind};
    return true;
  }

  /// Checks a container against its place, sizing the buffers it will fill.
  map_kind check_container(place p, bool is_map, std::uint32_t count) {
    const key_name k = value_key(p);
    if (p == place::reply_value && k == key_name::error && is_map) {
      have_error = true;
      return map_kind::error;
    }
    if (p == place::reply_value && !is_map &&
        (k == key_name::outputs || k == key_name::labels || k == key_name::models)) {
      if (k == key_name::models) {
        if (count > limits.max_models)
          fail(std::to_string(count) + " models (at most " + std::to_string(limits.max_models) +
               ")");
        else
          out.models.reserve(count < bytes ? count : bytes);
      } else if (count > limits.max_rows) {
        fail(std::to_string(count) + " rows in '" + spelling(k) + "' (at most " +
             std::to_string(limits.max_rows) + ")");
      } else if (k == key_name::outputs) {
        have_outputs = true;
        out.rows = count;
      } else {
        have_labels = true;
        out.labels.reserve(count < bytes ? count : bytes);
      }
      return map_kind::other;
    }
    if (p == place::output_row && !is_map) {
      if (!width_known) {
        width_known = true;
        if (count > limits.max_width) {
          fail("output rows of " + std::to_string(count) + " values (at most " +
               std::to_string(limits.max_width) + ")");
          return map_kind::other;
        }
        out.width = count;
        const auto want = std::size_t{out.rows} * count;
        out.outputs.reserve(want < bytes ? want : bytes);
      } else if (count != out.width) {
        fail("output row " + std::to_string(row_index) + " has " + std::to_string(count) +
             " values; row 0 has " + std::to_string(out.width));
      }
      return map_kind::other;
    }
    if (p == place::model_entry && is_map) {
      out.models.emplace_back();
      return map_kind::model;
    }
    mistyped(p);
    return map_kind::other;
  }

  bool close() {
    --depth;
    // A finished output row: the array just closed sat at depth 3 under `outputs`.
    if (depth == 2 && keys_open == 0 && reply_key() == key_name::outputs && !stack[2].is_map)
      ++row_index;
    return true;
  }

  bool start_array(std::uint32_t n) { return open(false, n); }
  bool end_array() { return close(); }
  bool start_map(std::uint32_t n) { return open(true, n); }
  bool end_map() { return close(); }
  bool start_map_key() {
    stack[depth - 1].in_key = true;
    stack[depth - 1].key = key_name::unknown; // a non-string key names nothing we know
    ++keys_open;
    return true;
  }
  bool end_map_key() {
    stack[depth - 1].in_key = false;
    --keys_open;
    return true;
  }
  bool end_map_value() {
    stack[depth - 1].key = key_name::none;
    return true;
  }
};

/// Checks what no single value could: presence and agreement between fields.
std::optional<std::string> finish(const reply_visitor& v, const reply& out) {
  if (!v.have_id)
    return "missing 'id'";
  if (!v.have_ok)
    return "missing 'ok'";
  if (v.have_labels && (!v.have_outputs || out.labels.size() != out.rows))
    return "'labels' holds " + std::to_string(out.labels.size()) + " entries for " +
           std::to_string(out.rows) + " output rows";
  if (v.have_outputs && out.outputs.size() != std::size_t{out.rows} * out.width)
    return "'outputs' is not rows x width"; // unreachable while rows are checked one by one
  for (const auto& m : out.models)
    if (m.name.empty())
      return "a 'models' entry without 'name'";
  if (!out.ok && !v.have_code)
    return "a failed reply without 'error.code'";
  return std::nullopt;
}

void reset(reply& out) {
  out.id = 0;
  out.ok = false;
  out.model.clear();
  out.version = 0;
  out.outputs.clear();
  out.rows = out.width = 0;
  out.labels.clear();
  out.models.clear();
  out.status.clear();
  out.error = error_info{};
  out.latency = std::chrono::nanoseconds{0};
}

} // namespace

void decode_reply(std::string_view bytes, const reply_limits& limits, reply& out) {
  reset(out);
  reply_visitor v(limits, out, bytes.size());
  if (bytes.size() > limits.max_bytes)
    v.fail("a reply of " + std::to_string(bytes.size()) + " bytes (at most " +
           std::to_string(limits.max_bytes) + ")");
  std::size_t offset = 0;
  bool parsed = false;
  try {
    parsed = msgpack::parse(bytes.data(), bytes.size(), offset, v);
  } catch (...) {
    // msgpack reports sizes beyond its own limits by throwing; malformed all the same.
    parsed = false;
  }
  std::optional<std::string> problem = v.problem;
  if (!problem && (!parsed || !v.top_is_map))
    problem = bytes.empty() ? std::string("empty message")
                            : "malformed MessagePack (at byte " + std::to_string(offset) +
                                " of " + std::to_string(bytes.size()) + ")";
  if (!problem && offset != bytes.size())
    problem = "trailing bytes after the reply map";
  if (!problem)
    problem = finish(v, out);
  if (!problem)
    return;
  const std::uint64_t id = v.have_id ? out.id : 0;
  reset(out);
  out.id = id;
  out.error.code = std::string(client_error::bad_reply);
  out.error.message = "undecodable reply: " + *problem;
  out.error.client_side = true;
}

reply decode_reply(std::string_view bytes, const reply_limits& limits) {
  reply out;
  decode_reply(bytes, limits, out);
  return out;
}

} // namespace conveyor::wire
