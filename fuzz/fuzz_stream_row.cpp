// libFuzzer target for the MessagePack row decoder of the stream sources
// (actors/stream_rows.hpp). Any bytes must decode or give an error, never crash, hang
// or allocate beyond the message's size; a decoded row must go into a batch.
#include "actors/stream_rows.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace conveyor;
  static const auto schema = [] {
    stream_columns c;
    c.columns = {"id", "city", "price", "y"};
    c.categorical = {"city"};
    c.label = "y";
    return c.schema();
  }();
  msgpack_row_decoder decoder(schema);
  row_batch_builder builder(schema);
  auto error = decoder.decode(reinterpret_cast<const char*>(data), size);
  if (error.empty()) {
    builder.add(decoder);
    auto b = builder.take();
    if (b.rows != 1 || b.floats.size() != 3 || b.categoricals[0].codes.size() != 1)
      __builtin_trap();
  }
  return 0;
}
