// Requests: one msgpack SAX pass (request_visitor) records what it recognises and the
// first problem it meets, then keeps going so that the reply can still carry the id.
// Replies: msgpack's packer over a string-backed buffer.
#include "wire/server_codec.hpp"

#include "base/float_bytes.hpp"
#include "wire/msgpack_write.hpp"

#include <msgpack.hpp>

#include <cstring>

namespace conveyor::wire {

std::string_view to_string(error_code c) {
  switch (c) {
    case error_code::bad_request: return "bad_request";
    case error_code::unknown_model: return "unknown_model";
    case error_code::unknown_version: return "unknown_version";
    case error_code::unknown_key: return "unknown_key";
    case error_code::shape_mismatch: return "shape_mismatch";
    case error_code::too_large: return "too_large";
    case error_code::overloaded: return "overloaded";
    case error_code::deadline_exceeded: return "deadline_exceeded";
    case error_code::internal: return "internal";
  }
  return "internal";
}

namespace {

/// Deeper nesting than any valid request needs ends the parse (the parser's own stack
/// grows with nesting, so this bounds its memory too).
constexpr int max_depth = 8;

enum class field { none, op, id, model, version, inputs, tensor, shape, deadline_ms, key, unknown };

field field_of(std::string_view key) {
  if (key == "op") return field::op;
  if (key == "id") return field::id;
  if (key == "model") return field::model;
  if (key == "version") return field::version;
  if (key == "inputs") return field::inputs;
  if (key == "tensor") return field::tensor;
  if (key == "shape") return field::shape;
  if (key == "deadline_ms") return field::deadline_ms;
  if (key == "key") return field::key;
  return field::unknown;
}

const char* name_of(field f) {
  switch (f) {
    case field::op: return "op";
    case field::id: return "id";
    case field::model: return "model";
    case field::version: return "version";
    case field::inputs: return "inputs";
    case field::tensor: return "tensor";
    case field::shape: return "shape";
    case field::deadline_ms: return "deadline_ms";
    case field::key: return "key";
    default: return "?";
  }
}

/// Depth counts open containers: the request map is depth 1, `inputs` depth 2, a row
/// depth 3. A value of a top-level key arrives at depth 1 (scalar) or opens depth 2.
struct request_visitor : msgpack::null_visitor {
  request_visitor(const request_limits& l, request& r, std::size_t message_bytes)
      : limits(l), out(r), bytes(message_bytes) {}

  const request_limits& limits;
  request& out;
  std::size_t bytes;

  int depth = 0;
  bool top_is_map = false;
  bool in_key = false;
  field key = field::none;       // the top-level key whose value is being read
  bool seen[static_cast<int>(field::unknown) + 1] = {};

  bool have_op = false, have_id = false, have_model = false;
  bool have_inputs = false, have_tensor = false, have_shape = false;
  std::string_view tensor;
  std::uint64_t shape[2] = {0, 0};
  int shape_items = 0;

  // inputs: rows announced by the outer array; values seen in the current row
  std::uint32_t row_values = 0;
  std::uint32_t row_index = 0;

  std::optional<request_error> error;

  void fail(error_code c, std::string message) {
    if (!error)
      error = request_error{0, c, std::move(message)};
  }
  bool failed() const { return error.has_value(); }

  /// A scalar arrived; `kind` names its type for messages.
  bool scalar_at_top(const char* kind) {
    if (depth == 0) {
      fail(error_code::bad_request, std::string("a request is a MessagePack map, not ") + kind);
      return false;
    }
    return true;
  }

  void wrong_type(const char* expected) {
    fail(error_code::bad_request,
         std::string("'") + name_of(key) + "' must be " + expected);
  }

  bool number(float v, bool integral_nonneg, std::uint64_t as_uint) {
    if (in_key)
      return true;
    if (depth == 1) {
      switch (key) {
        case field::id:
          if (integral_nonneg) { out.id = as_uint; have_id = true; }
          else wrong_type("an unsigned integer");
          break;
        case field::version:
          if (integral_nonneg) out.version = as_uint;
          else wrong_type("an unsigned integer");
          break;
        case field::deadline_ms:
          if (integral_nonneg) out.deadline_ms = as_uint;
          else wrong_type("an unsigned integer");
          break;
        case field::op: wrong_type("a string"); break;
        case field::model: wrong_type("a string"); break;
        case field::key: wrong_type("a string"); break;
        case field::inputs: wrong_type("an array of rows"); break;
        case field::tensor: wrong_type("bin (little-endian float32)"); break;
        case field::shape: wrong_type("an array [rows, columns]"); break;
        default: break;
      }
      return true;
    }
    if (key == field::inputs) {
      if (depth == 2) {
        fail(error_code::bad_request, "'inputs' must be an array of rows, each an array of numbers");
      } else if (depth == 3 && !failed()) {
        out.values.push_back(v);
        ++row_values;
      }
    } else if (key == field::shape && depth == 2) {
      if (!integral_nonneg || shape_items >= 2)
        fail(error_code::bad_request, "'shape' must be [rows, columns] (unsigned integers)");
      else
        shape[shape_items++] = as_uint;
    }
    return true;
  }

  bool visit_positive_integer(std::uint64_t v) {
    return scalar_at_top("an integer") && number(static_cast<float>(v), true, v);
  }
  bool visit_negative_integer(std::int64_t v) {
    return scalar_at_top("an integer") && number(static_cast<float>(v), false, 0);
  }
  bool visit_float32(float v) { return scalar_at_top("a float") && number(v, false, 0); }
  bool visit_float64(double v) {
    return scalar_at_top("a float") && number(static_cast<float>(v), false, 0);
  }

  /// A non-number scalar (nil, bool, ext) or a string/bin where it does not belong.
  bool other(const char* kind) {
    if (!scalar_at_top(kind))
      return false;
    if (in_key)
      return true;
    if (depth == 1) {
      switch (key) {
        case field::op:
        case field::model:
        case field::key: wrong_type("a string"); break;
        case field::id:
        case field::version:
        case field::deadline_ms: wrong_type("an unsigned integer"); break;
        case field::inputs: wrong_type("an array of rows"); break;
        case field::tensor: wrong_type("bin (little-endian float32)"); break;
        case field::shape: wrong_type("an array [rows, columns]"); break;
        default: break;
      }
    } else if (key == field::inputs && depth >= 2) {
      fail(error_code::bad_request, "inputs row " + std::to_string(row_index) + " holds " + kind +
                                      "; rows hold numbers only");
    } else if (key == field::shape && depth == 2) {
      fail(error_code::bad_request, "'shape' must be [rows, columns] (unsigned integers)");
    }
    return true;
  }

  bool visit_nil() { return other("nil"); }
  bool visit_boolean(bool) { return other("a boolean"); }
  bool visit_ext(const char*, std::uint32_t) { return other("an ext value"); }

  bool visit_str(const char* p, std::uint32_t n) {
    if (!scalar_at_top("a string"))
      return false;
    std::string_view s(p, n);
    if (in_key) {
      if (depth == 1) {
        key = field_of(s);
        auto slot = static_cast<int>(key);
        if (key != field::unknown && seen[slot])
          fail(error_code::bad_request, "duplicate key '" + std::string(s) + "'");
        seen[slot] = true;
      }
      return true;
    }
    if (depth == 1 && key == field::op) {
      have_op = true;
      if (s == "predict") out.op = request_op::predict;
      else if (s == "models") out.op = request_op::models;
      else if (s == "health") out.op = request_op::health;
      else {
        have_op = false;
        fail(error_code::bad_request,
             "unknown op '" + std::string(s.substr(0, 64)) + "' (predict, models or health)");
      }
      return true;
    }
    if (depth == 1 && key == field::model) {
      if (n > 1024) {
        fail(error_code::bad_request, "'model' is longer than 1024 bytes");
      } else {
        out.model.assign(p, n);
        have_model = true;
      }
      return true;
    }
    if (depth == 1 && key == field::key) {
      if (n > max_key_bytes)
        fail(error_code::bad_request, "'key' is longer than " + std::to_string(max_key_bytes) + " bytes");
      else
        out.key.emplace(p, n);
      return true;
    }
    return other("a string");
  }

  bool visit_bin(const char* p, std::uint32_t n) {
    if (!scalar_at_top("bin"))
      return false;
    if (!in_key && depth == 1 && key == field::tensor) {
      tensor = std::string_view(p, n);
      have_tensor = true;
      return true;
    }
    return other("bin");
  }

  bool start_array(std::uint32_t n) {
    if (depth == 0) {
      fail(error_code::bad_request, "a request is a MessagePack map, not an array");
      return false;
    }
    if (++depth > max_depth) {
      fail(error_code::bad_request, "nested too deeply");
      return false;
    }
    if (in_key)
      return true;
    if (key == field::inputs) {
      if (depth == 2) {
        have_inputs = true;
        out.values.clear();
        if (n > limits.max_rows)
          fail(error_code::too_large, std::to_string(n) + " rows; this server takes at most " +
                                        std::to_string(limits.max_rows) + " per request");
        out.rows = n;
      } else if (depth == 3) {
        if (row_index == 0) {
          if (n > limits.max_columns)
            fail(error_code::too_large, "rows of " + std::to_string(n) + " values; at most " +
                                          std::to_string(limits.max_columns));
          out.columns = n;
          if (!failed()) {
            // Never reserve more than the message could hold (one byte per value).
            auto want = static_cast<std::size_t>(out.rows) * n;
            out.values.reserve(want < bytes ? want : bytes);
          }
        } else if (n != out.columns) {
          fail(error_code::bad_request, "inputs row " + std::to_string(row_index) + " has " +
                                          std::to_string(n) + " values; row 0 has " +
                                          std::to_string(out.columns));
        }
        row_values = 0;
      } else {
        fail(error_code::bad_request, "'inputs' must be an array of rows, each an array of numbers");
      }
    } else if (depth == 2 && key != field::shape && key != field::unknown) {
      wrong_type(key == field::id || key == field::version || key == field::deadline_ms
                   ? "an unsigned integer"
                   : key == field::tensor ? "bin (little-endian float32)" : "a string");
    } else if (key == field::shape && depth == 2) {
      have_shape = true;
      if (n != 2)
        fail(error_code::bad_request, "'shape' must be [rows, columns]");
    } else if (key == field::shape) {
      fail(error_code::bad_request, "'shape' must be [rows, columns] (unsigned integers)");
    }
    return true;
  }

  bool end_array() {
    if (!in_key && key == field::inputs && depth == 3)
      ++row_index;
    --depth;
    return true;
  }

  bool start_map(std::uint32_t) {
    if (depth == 0) {
      top_is_map = true;
      ++depth;
      return true;
    }
    if (++depth > max_depth) {
      fail(error_code::bad_request, "nested too deeply");
      return false;
    }
    if (!in_key && depth >= 2 && key != field::unknown)
      fail(error_code::bad_request, key == field::inputs
                                      ? std::string("'inputs' must be an array of rows, each an array of numbers")
                                      : std::string("'") + name_of(key) + "' must not be a map");
    return true;
  }
  bool end_map() {
    --depth;
    return true;
  }
  bool start_map_key() {
    if (depth == 1) {
      in_key = true;
      key = field::unknown; // a non-string key names nothing we know
    }
    return true;
  }
  bool end_map_key() {
    if (depth == 1)
      in_key = false;
    return true;
  }
  bool start_map_value() { return true; }
  bool end_map_value() {
    if (depth == 1)
      key = field::none;
    return true;
  }
};

/// Checks what no single field could: presence, exclusive fields, the tensor's size.
std::optional<request_error> finish(request_visitor& v, request& out) {
  if (!v.have_id)
    return request_error{0, error_code::bad_request, "missing 'id' (an unsigned integer)"};
  auto fail = [&](error_code c, std::string m) {
    return request_error{out.id, c, std::move(m)};
  };
  if (!v.have_op)
    return fail(error_code::bad_request, "missing 'op' (predict, models or health)");
  if (out.op != request_op::predict)
    return std::nullopt;
  if (!v.have_model)
    return fail(error_code::bad_request, "predict needs 'model' (a string)");
  if (v.have_inputs == v.have_tensor)
    return fail(error_code::bad_request, "predict needs exactly one of 'inputs' or 'tensor'");
  if (v.have_shape && !v.have_tensor)
    return fail(error_code::bad_request, "'shape' goes with 'tensor'");
  if (v.have_inputs) {
    if (out.rows == 0 || out.columns == 0)
      return fail(error_code::bad_request, "'inputs' holds no values");
    // Every row was checked for its length and every item for being a number; this
    // guards the invariant the server relies on (rows x columns values) all the same.
    if (out.values.size() != static_cast<std::size_t>(out.rows) * out.columns)
      return fail(error_code::bad_request, "'inputs' rows do not hold numbers only");
    return std::nullopt;
  }
  if (!v.have_shape || v.shape_items != 2)
    return fail(error_code::bad_request, "'tensor' needs 'shape' = [rows, columns]");
  const auto rows = v.shape[0], columns = v.shape[1];
  if (rows == 0 || columns == 0)
    return fail(error_code::bad_request, "'shape' holds a zero");
  if (rows > v.limits.max_rows)
    return fail(error_code::too_large, std::to_string(rows) + " rows; this server takes at most " +
                                         std::to_string(v.limits.max_rows) + " per request");
  if (columns > v.limits.max_columns)
    return fail(error_code::too_large, "rows of " + std::to_string(columns) + " values; at most " +
                                         std::to_string(v.limits.max_columns));
  // rows x columns fits 64 bits (each is below 2^32); times 4 might not: compare in values.
  if (v.tensor.size() % 4 != 0 || v.tensor.size() / 4 != rows * columns)
    return fail(error_code::bad_request,
                "'tensor' holds " + std::to_string(v.tensor.size()) + " bytes; shape [" +
                  std::to_string(rows) + ", " + std::to_string(columns) + "] needs " +
                  (rows * columns <= UINT64_MAX / 4 ? std::to_string(rows * columns * 4)
                                                    : std::string("more than 2^64")));
  out.rows = static_cast<std::uint32_t>(rows);
  out.columns = static_cast<std::uint32_t>(columns);
  out.values.resize(rows * columns);
  read_le_floats(v.tensor, out.values.data());
  return std::nullopt;
}

} // namespace

std::optional<request_error> decode_request(std::string_view bytes, const request_limits& limits,
                                            request& out) {
  out.op = request_op::health;
  out.id = 0;
  out.model.clear();
  out.version = 0;
  out.rows = out.columns = 0;
  // `values` keeps its size: a tensor overwrites it whole after resizing it, so a buffer
  // reused from a request of the same shape is neither reallocated nor zero-filled;
  // `inputs` empties it first.
  out.deadline_ms.reset();
  out.key.reset();

  request_visitor v(limits, out, bytes.size());
  if (bytes.size() > limits.max_bytes)
    v.fail(error_code::too_large, std::to_string(bytes.size()) +
                                    " bytes; this server takes requests of at most " +
                                    std::to_string(limits.max_bytes));
  std::size_t offset = 0;
  bool parsed = false;
  try {
    parsed = msgpack::parse(bytes.data(), bytes.size(), offset, v);
  } catch (const std::exception&) {
    // msgpack reports sizes beyond its own limits by throwing; malformed all the same.
    parsed = false;
  }
  const std::uint64_t id = v.have_id ? out.id : 0;
  if (v.error) {
    v.error->id = id;
    return v.error;
  }
  if (!parsed || !v.top_is_map)
    return request_error{id, error_code::bad_request,
                         bytes.empty() ? std::string("empty message")
                                       : "malformed MessagePack (at byte " +
                                           std::to_string(offset) + " of " +
                                           std::to_string(bytes.size()) + ")"};
  if (offset != bytes.size())
    return request_error{id, error_code::bad_request,
                         "trailing bytes after the request map (one map per message)"};
  return finish(v, out);
}

using wire::pack_str;
using wire::packer;
using wire::string_sink;

/// Every reply opens the same way: a map of `entries` pairs, then `id` and `ok`.
void open_reply(packer& pk, std::uint32_t entries, std::uint64_t id, bool ok) {
  pk.pack_map(entries);
  pack_str(pk, "id");
  pk.pack_uint64(id);
  pack_str(pk, "ok");
  if (ok)
    pk.pack_true();
  else
    pk.pack_false();
}

void encode_error_reply(std::uint64_t id, error_code code, std::string_view message, std::string& out) {
  out.clear();
  string_sink sink{out};
  packer pk(sink);
  open_reply(pk, 3, id, false);
  pack_str(pk, "error");
  pk.pack_map(2);
  pack_str(pk, "code");
  pack_str(pk, to_string(code));
  pack_str(pk, "message");
  pack_str(pk, message);
}

void encode_health_reply(std::uint64_t id, std::string& out) {
  out.clear();
  string_sink sink{out};
  packer pk(sink);
  open_reply(pk, 3, id, true);
  pack_str(pk, "status");
  pack_str(pk, "serving");
}

void encode_models_reply(std::uint64_t id, const std::vector<model_summary>& models, std::string& out) {
  out.clear();
  string_sink sink{out};
  packer pk(sink);
  open_reply(pk, 3, id, true);
  pack_str(pk, "models");
  pk.pack_array(static_cast<std::uint32_t>(models.size()));
  for (const auto& m : models) {
    pk.pack_map(4);
    pack_str(pk, "name");
    pack_str(pk, m.name);
    pack_str(pk, "version");
    pk.pack_uint64(m.version);
    pack_str(pk, "inputs");
    pk.pack_uint32(m.inputs);
    pack_str(pk, "outputs");
    pk.pack_uint32(m.outputs);
  }
}

void encode_prediction_reply(std::uint64_t id, std::string_view model, std::uint64_t version,
                       const float* outputs, std::uint32_t rows, std::uint32_t width,
                       const std::int32_t* labels, std::string& out) {
  out.clear();
  out.reserve(64 + model.size() + static_cast<std::size_t>(rows) * (width * 5 + 8));
  string_sink sink{out};
  packer pk(sink);
  open_reply(pk, labels != nullptr ? 6 : 5, id, true);
  pack_str(pk, "model");
  pack_str(pk, model);
  pack_str(pk, "version");
  pk.pack_uint64(version);
  pack_str(pk, "outputs");
  pk.pack_array(rows);
  for (std::uint32_t r = 0; r < rows; ++r) {
    pk.pack_array(width);
    const float* row = outputs + static_cast<std::size_t>(r) * width;
    for (std::uint32_t c = 0; c < width; ++c)
      wire::append_float32(row[c], out);
  }
  if (labels != nullptr) {
    pack_str(pk, "labels");
    pk.pack_array(rows);
    for (std::uint32_t r = 0; r < rows; ++r)
      pk.pack_int32(labels[r]);
  }
}

} // namespace conveyor::wire
