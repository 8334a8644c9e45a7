// A tiny inference server for client tests: a ROUTER on tcp://127.0.0.1 (a free port) with
// a thread that decodes each request with wire::decode_request and answers through a
// test-supplied function, optionally holding replies back to send them out of order.
#pragma once

#include "wire/server_codec.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace conveyor::testing {

class test_router {
public:
  /// Answers one request (its raw bytes); nothing: stay silent (the client times out).
  using answer_fn = std::function<std::optional<std::string>(std::string_view request)>;

  /// Replies are held until `batch` have been computed, then sent last first.
  explicit test_router(answer_fn answer, std::size_t batch = 1);
  ~test_router();
  test_router(const test_router&) = delete;
  test_router& operator=(const test_router&) = delete;

  /// tcp://127.0.0.1:PORT
  const std::string& endpoint() const { return endpoint_; }
  /// Requests received so far.
  std::size_t requests() const { return requests_.load(); }

private:
  void loop();

  struct sockets;
  std::unique_ptr<sockets> sockets_;
  answer_fn answer_;
  std::size_t batch_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> requests_{0};
  std::thread thread_;
};

/// The answers of a pretend server, built on the server's own encoders:
/// - health: "serving"; models: [{fashion, 3, 4, 2}];
/// - predict "fashion" (version 0 or 3): per row, outputs [sum of the row, column count]
///   and label (sum > 0 ? 1 : 0);
/// - predict "silent": no answer; any other model: unknown_model;
/// - undecodable requests: the decoder's error.
std::optional<std::string> pretend_server(std::string_view request);

} // namespace conveyor::testing
