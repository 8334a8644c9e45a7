#include "data/batch.hpp"

#include <ostream>

namespace conveyor {

std::string to_string(column_kind k) {
  switch (k) {
    case column_kind::numeric:
      return "numeric";
    case column_kind::categorical:
      return "categorical";
    case column_kind::label:
      return "label";
  }
  return "unknown";
}

std::size_t table_schema::float_width() const {
  std::size_t n = 0;
  for (const auto& c : columns)
    n += c.kind != column_kind::categorical ? 1 : 0;
  return n;
}

std::size_t table_schema::categorical_width() const {
  return columns.size() - float_width();
}

int table_schema::find(const std::string& name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name)
      return static_cast<int>(i);
  return -1;
}

std::size_t batch::payload_bytes() const {
  std::size_t n = floats.size() * sizeof(float);
  for (const auto& c : categoricals) {
    n += c.codes.size() * sizeof(std::int32_t);
    for (const auto& s : c.dictionary)
      n += s.size();
  }
  return n;
}

batch empty_like(const batch& b) {
  batch e;
  e.source = b.source;
  e.sequence = b.sequence;
  e.position = b.position;
  e.first_row = b.first_row;
  e.rows = 0;
  e.schema = b.schema;
  e.categoricals.resize(b.categoricals.size());
  e.transform = b.transform;
  return e;
}

std::ostream& operator<<(std::ostream& out, const float_block& b) {
  out << '{';
  for (std::size_t i = 0; i < b.size() && i < 16; ++i)
    out << (i > 0 ? ", " : "") << b[i];
  if (b.size() > 16)
    out << ", ... (" << b.size() << " in all)";
  return out << '}';
}

} // namespace conveyor
