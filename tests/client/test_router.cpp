// The router's thread polls with a short timeout so that the destructor can stop it; the
// socket is created in the constructor (to learn the port) and used only by the thread.
#include "tests/client/test_router.hpp"

#include <zmq.hpp>

#include <utility>
#include <vector>

namespace conveyor::testing {

struct test_router::sockets {
  zmq::context_t context{1};
  zmq::socket_t router{context, zmq::socket_type::router};
};

test_router::test_router(answer_fn answer, std::size_t batch)
    : sockets_(std::make_unique<sockets>()), answer_(std::move(answer)),
      batch_(batch == 0 ? 1 : batch) {
  sockets_->router.set(zmq::sockopt::linger, 0);
  sockets_->router.bind("tcp://127.0.0.1:*");
  endpoint_ = sockets_->router.get(zmq::sockopt::last_endpoint);
  thread_ = std::thread([this] { loop(); });
}

test_router::~test_router() {
  stop_ = true;
  thread_.join();
}

void test_router::loop() {
  auto& router = sockets_->router;
  // (routing envelope, reply) held back until a batch is complete
  std::vector<std::pair<std::vector<zmq::message_t>, std::string>> held;
  while (!stop_) {
    zmq_pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 20) <= 0)
      continue;
    std::vector<zmq::message_t> parts;
    do {
      zmq::message_t part;
      if (!router.recv(part, zmq::recv_flags::none))
        break;
      parts.push_back(std::move(part));
    } while (parts.back().more());
    if (parts.size() < 2)
      continue;
    ++requests_;
    zmq::message_t payload = std::move(parts.back());
    parts.pop_back();
    auto answer = answer_(std::string_view(payload.data<char>(), payload.size()));
    if (!answer)
      continue;
    held.emplace_back(std::move(parts), std::move(*answer));
    if (held.size() < batch_)
      continue;
    for (auto it = held.rbegin(); it != held.rend(); ++it) {
      for (auto& envelope : it->first)
        router.send(envelope, zmq::send_flags::sndmore);
      router.send(zmq::buffer(it->second), zmq::send_flags::none);
    }
    held.clear();
  }
}

std::optional<std::string> pretend_server(std::string_view bytes) {
  wire::request_limits limits;
  wire::request request;
  std::string out;
  if (auto error = wire::decode_request(bytes, limits, request)) {
    wire::encode_error_reply(error->id, error->code, error->message, out);
    return out;
  }
  switch (request.op) {
    case wire::request_op::health:
      wire::encode_health_reply(request.id, out);
      return out;
    case wire::request_op::models:
      wire::encode_models_reply(request.id, {{"fashion", 3, 4, 2}}, out);
      return out;
    case wire::request_op::predict:
      break;
  }
  if (request.model == "silent")
    return std::nullopt;
  if (request.model != "fashion") {
    wire::encode_error_reply(request.id, wire::error_code::unknown_model,
                          "no model named '" + request.model + "'", out);
    return out;
  }
  if (request.version != 0 && request.version != 3) {
    wire::encode_error_reply(request.id, wire::error_code::unknown_version,
                          "fashion has no version " + std::to_string(request.version), out);
    return out;
  }
  std::vector<float> outputs;
  std::vector<std::int32_t> labels;
  for (std::uint32_t r = 0; r < request.rows; ++r) {
    float sum = 0;
    for (std::uint32_t c = 0; c < request.columns; ++c)
      sum += request.values[std::size_t{r} * request.columns + c];
    outputs.push_back(sum);
    outputs.push_back(static_cast<float>(request.columns));
    labels.push_back(sum > 0 ? 1 : 0);
  }
  wire::encode_prediction_reply(request.id, "fashion", 3, outputs.data(), request.rows, 2,
                             labels.data(), out);
  return out;
}

} // namespace conveyor::testing
