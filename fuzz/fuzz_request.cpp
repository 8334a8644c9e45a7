// libFuzzer target for the server's request decoder (wire::decode_request) and, on the
// same bytes, the client's reply decoder: neither may crash, throw, or allocate without
// bound. Limits are small so that too_large paths are reached. What decodes must hold
// rows x columns values within the limits and survive a round trip: encoded as a reply by
// wire::encode_prediction_reply (outputs = the request's values, labels = each row's arg-max)
// and decoded by wire::decode_reply to the same id, model, version, shape and values
// (bit for bit).
// Errors must round-trip through encode_error_reply the same way, and a decoded predict
// request (its optional `key` included) through the client's encoder and back.
#include "wire/server_codec.hpp"
#include "wire/client_codec.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

using namespace conveyor;

wire::request_limits fuzz_limits() {
  wire::request_limits l;
  l.max_rows = 16;
  l.max_columns = 64;
  l.max_bytes = 4096;
  return l;
}

void check(bool ok) {
  if (!ok)
    std::abort();
}

void round_trip_error(const wire::request_error& e) {
  std::string bytes;
  wire::encode_error_reply(e.id, e.code, e.message, bytes);
  auto r = wire::decode_reply(bytes);
  check(!r.ok && r.id == e.id && !r.error.client_side);
  check(r.error.code == wire::to_string(e.code));
  check(r.error.message == e.message);
}

void round_trip_prediction(const wire::request& q) {
  std::vector<std::int32_t> labels(q.rows);
  for (std::uint32_t r = 0; r < q.rows; ++r) {
    const float* row = q.values.data() + std::size_t{r} * q.columns;
    std::uint32_t best = 0;
    for (std::uint32_t c = 1; c < q.columns; ++c)
      if (row[c] > row[best])
        best = c;
    labels[r] = static_cast<std::int32_t>(best);
  }
  std::string bytes;
  wire::encode_prediction_reply(q.id, q.model, q.version, q.values.data(), q.rows, q.columns,
                             labels.data(), bytes);
  auto r = wire::decode_reply(bytes);
  check(r.ok && r.id == q.id && r.model == q.model && r.version == q.version);
  check(r.rows == q.rows && r.width == q.columns && r.labels == labels);
  check(r.outputs.size() == q.values.size());
  for (std::size_t i = 0; i < q.values.size(); ++i) {
    // Bit for bit (outputs are always float32), except that a NaN may come back quieted.
    const float a = q.values[i], b = r.outputs[i];
    check(std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)));
  }
}

/// The client's encoder writes the decoded request again (a fleet's `key` included); the
/// server's decoder reads back the same id, model, version, key and shape.
void round_trip_request(const wire::request& q) {
  wire::predict_request p;
  p.id = q.id;
  p.model = q.model;
  p.version = q.version;
  p.values = q.values.data();
  p.rows = q.rows;
  p.columns = q.columns;
  p.deadline_ms = q.deadline_ms;
  p.key = q.key ? std::string_view(*q.key) : std::string_view();
  std::string bytes;
  wire::encode_predict_request(p, bytes);
  static wire::request again;
  wire::request_limits roomy = fuzz_limits();
  roomy.max_bytes = bytes.size();
  check(!wire::decode_request(bytes, roomy, again));
  check(again.id == q.id && again.model == q.model && again.version == q.version);
  check(again.rows == q.rows && again.columns == q.columns);
  // an empty key is not sent: the client's way of saying "no key"
  check(again.key == (q.key && !q.key->empty() ? q.key : std::nullopt));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const wire::request_limits limits = fuzz_limits();
  static wire::request request; // reused across inputs, as a server reuses it
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // The same bytes as a reply: anything goes, but what decodes is consistent.
  auto reply = wire::decode_reply(bytes);
  if (reply.ok) {
    check(reply.outputs.size() == std::size_t{reply.rows} * reply.width);
    check(reply.labels.empty() || reply.labels.size() == reply.rows);
  } else {
    check(!reply.error.code.empty());
  }

  auto error = wire::decode_request(bytes, limits, request);
  if (error) {
    check(size <= limits.max_bytes || error->code == wire::error_code::too_large);
    round_trip_error(*error);
    return 0;
  }
  check(size <= limits.max_bytes);
  if (request.op != wire::request_op::predict)
    return 0;
  check(request.model.size() <= 1024);
  check(request.rows >= 1 && request.rows <= limits.max_rows);
  check(request.columns >= 1 && request.columns <= limits.max_columns);
  check(request.values.size() == std::size_t{request.rows} * request.columns);
  check(!request.key || request.key->size() <= wire::max_key_bytes);
  round_trip_prediction(request);
  round_trip_request(request);
  return 0;
}
