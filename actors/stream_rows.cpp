// Decoding uses msgpack-c's unpack with limits on every size (a declared map or array
// count is checked against them before anything is allocated) and on nesting depth;
// its exceptions become error strings here and go no further.
#include "actors/stream_rows.hpp"

#include "actors/kind_schema_builder.hpp"

#include <msgpack.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace conveyor {

namespace {

const char* type_name(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "a boolean";
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return "an integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "a float";
    case msgpack::type::STR:
      return "a string";
    case msgpack::type::BIN:
      return "binary data";
    case msgpack::type::ARRAY:
      return "an array";
    case msgpack::type::MAP:
      return "a map";
    case msgpack::type::EXT:
      return "an extension value";
  }
  return "an unknown type";
}

std::string excerpt(std::string_view s) {
  if (s.size() <= 40)
    return std::string(s);
  return std::string(s.substr(0, 37)) + "...";
}

bool listed(const std::vector<std::string>& l, const std::string& n) {
  return std::find(l.begin(), l.end(), n) != l.end();
}

} // namespace

std::vector<dsl::param_schema> stream_columns::params() {
  using dsl::param_type;
  return {
    required_param("columns", param_type::list_of_string,
                   "every column of a row, in order (the keys of each message's map)"),
    optional_param("categorical", param_type::list_of_string, empty_list(),
                   "columns whose values are strings (dictionary-encoded)"),
    optional_param("label", param_type::string, "", "name of the numeric label column"),
  };
}

stream_columns stream_columns::from(const step_params& params, const std::string& kind) {
  stream_columns c;
  c.columns = params.get_strings("columns");
  c.categorical = params.get_strings("categorical");
  c.label = params.get_string("label");
  if (c.columns.empty())
    throw step_failure(kind + ": parameter 'columns' must name at least one column");
  for (std::size_t i = 0; i < c.columns.size(); ++i) {
    if (c.columns[i].empty())
      throw step_failure(kind + ": parameter 'columns' has an empty name");
    if (std::find(c.columns.begin(), c.columns.begin() + static_cast<long>(i), c.columns[i]) !=
        c.columns.begin() + static_cast<long>(i))
      throw step_failure(kind + ": parameter 'columns' names '" + c.columns[i] + "' twice");
  }
  for (const auto& n : c.categorical)
    if (!listed(c.columns, n))
      throw step_failure(kind + ": parameter 'categorical' names '" + n +
                         "', which 'columns' does not list");
  if (!c.label.empty() && !listed(c.columns, c.label))
    throw step_failure(kind + ": parameter 'label' names '" + c.label +
                       "', which 'columns' does not list");
  if (!c.label.empty() && listed(c.categorical, c.label))
    throw step_failure(kind + ": parameter 'label': column '" + c.label +
                       "' cannot be both the label and categorical");
  return c;
}

std::shared_ptr<const table_schema> stream_columns::schema() const {
  auto s = std::make_shared<table_schema>();
  for (const auto& n : columns) {
    auto kind = listed(categorical, n) ? column_kind::categorical
                : n == label           ? column_kind::label
                                       : column_kind::numeric;
    s->columns.push_back({n, kind});
  }
  return s;
}

msgpack_row_decoder::msgpack_row_decoder(std::shared_ptr<const table_schema> schema)
    : schema_(std::move(schema)) {
  std::size_t floats = 0;
  std::size_t categories = 0;
  for (const auto& c : schema_->columns) {
    bool categorical = c.kind == column_kind::categorical;
    slots_[c.name] = slot{categorical, categorical ? categories++ : floats++};
  }
  floats_.resize(floats);
  categories_.resize(categories);
  seen_.resize(schema_->columns.size());
}

std::string msgpack_row_decoder::decode(const char* data, std::size_t size) {
  if (size > max_stream_message)
    return "message of " + std::to_string(size) + " bytes is longer than the limit of " +
           std::to_string(max_stream_message);
  if (size == 0)
    return "empty message (expected a MessagePack map)";
  msgpack::object_handle handle;
  std::size_t offset = 0;
  try {
    // msgpack-c allocates a map or array for its declared count before reading its
    // elements, nesting level by nesting level: counts and depth are bounded so that a
    // message cannot make it allocate much more than a few times its own size.
    std::size_t count = std::min<std::size_t>(size, max_stream_entries);
    msgpack::unpack_limit limit(count, count, size, size, size, max_stream_depth);
    handle = msgpack::unpack(data, size, offset, nullptr, nullptr, limit);
  } catch (const std::exception& e) {
    return std::string("not valid MessagePack (") + e.what() + ")";
  }
  if (offset != size)
    return std::to_string(size - offset) + " byte(s) after the MessagePack value";
  const auto& root = handle.get();
  if (root.type != msgpack::type::MAP)
    return std::string("expected a MessagePack map of column -> value, got ") +
           type_name(root.type);
  std::fill(seen_.begin(), seen_.end(), false);
  const auto& map = root.via.map;
  for (std::uint32_t i = 0; i < map.size; ++i) {
    const auto& key = map.ptr[i].key;
    const auto& value = map.ptr[i].val;
    if (key.type != msgpack::type::STR)
      return std::string("key ") + std::to_string(i + 1) + " is " + type_name(key.type) +
             ", not a string";
    std::string name(key.via.str.ptr, key.via.str.size);
    auto found = slots_.find(name);
    if (found == slots_.end())
      continue;
    auto column = static_cast<std::size_t>(schema_->find(name));
    if (seen_[column])
      return "field '" + excerpt(name) + "' appears twice";
    seen_[column] = true;
    const auto& s = found->second;
    if (s.categorical) {
      auto& c = categories_[s.index];
      if (value.type == msgpack::type::NIL) {
        c.missing = true;
      } else if (value.type == msgpack::type::STR) {
        c.value.assign(value.via.str.ptr, value.via.str.size);
        c.missing = false;
      } else {
        return "field '" + name + "': expected a string, got " + type_name(value.type);
      }
      continue;
    }
    auto& f = floats_[s.index];
    switch (value.type) {
      case msgpack::type::NIL:
        f = std::numeric_limits<float>::quiet_NaN();
        break;
      case msgpack::type::POSITIVE_INTEGER:
        f = static_cast<float>(value.via.u64);
        break;
      case msgpack::type::NEGATIVE_INTEGER:
        f = static_cast<float>(value.via.i64);
        break;
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        f = static_cast<float>(value.via.f64);
        break;
      default:
        return "field '" + name + "': expected a number, got " + type_name(value.type);
    }
  }
  for (std::size_t i = 0; i < seen_.size(); ++i)
    if (!seen_[i])
      return "no field '" + schema_->columns[i].name + "'";
  return {};
}

row_batch_builder::row_batch_builder(std::shared_ptr<const table_schema> schema)
    : schema_(std::move(schema)),
      codes_(schema_->categorical_width()),
      dictionaries_(schema_->categorical_width()),
      index_(schema_->categorical_width()) {}

void row_batch_builder::add(const msgpack_row_decoder& row) {
  row_floats_.insert(row_floats_.end(), row.floats().begin(), row.floats().end());
  const auto& categories = row.categories();
  for (std::size_t j = 0; j < categories.size(); ++j) {
    std::int32_t code = -1;
    if (!categories[j].missing) {
      auto i = index_[j].find(categories[j].value);
      if (i != index_[j].end()) {
        code = i->second;
      } else {
        dictionaries_[j].push_back(categories[j].value);
        code = static_cast<std::int32_t>(dictionaries_[j].size() - 1);
        index_[j].emplace(dictionaries_[j].back(), code);
      }
    }
    codes_[j].push_back(code);
  }
  ++rows_;
}

batch row_batch_builder::take() {
  batch b;
  b.schema = schema_;
  b.rows = static_cast<std::uint32_t>(rows_);
  auto width = schema_->float_width();
  b.floats.resize(width * rows_);
  for (std::size_t r = 0; r < rows_; ++r)
    for (std::size_t k = 0; k < width; ++k)
      b.floats[k * rows_ + r] = row_floats_[r * width + k];
  b.categoricals.resize(codes_.size());
  for (std::size_t j = 0; j < codes_.size(); ++j) {
    b.categoricals[j].codes = std::move(codes_[j]);
    b.categoricals[j].dictionary.assign(std::make_move_iterator(dictionaries_[j].begin()),
                                        std::make_move_iterator(dictionaries_[j].end()));
    codes_[j].clear();
    dictionaries_[j].clear();
    index_[j].clear();
  }
  row_floats_.clear();
  rows_ = 0;
  return b;
}

std::string to_hex(const char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

} // namespace conveyor
