// The ZAP handler of a CURVE inference server: a thread answering ZeroMQ's authentication
// requests (ZAP 1.0) on inproc://zeromq.zap.01 of the server's context, admitting the
// CURVE clients whose public key is listed and refusing every other handshake. A refused
// client never gets past the handshake: none of its requests reaches the server.
//
// Contract:
// - start() binds before the server's socket does (without a handler, ZeroMQ admits
//   every CURVE client); it throws std::runtime_error if it cannot bind.
// - Refused handshakes are counted per attempt; a client retries (reconnects) on its
//   own, so for logs take_newly_refused() hands out each refused key once, remembering at
//   most `max_remembered` keys (further new keys are counted, not handed out).
// - stop() joins the thread; it must run before the context is closed.
#pragma once

#include "metrics/metric.hpp"
#include "wire/curve_keys.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zmq {
class context_t;
}

namespace conveyor::serving {

class zap_handler {
public:
  static constexpr std::size_t max_remembered = 1024;

  /// `refused_metric`: also counts refusals there, when given (it must outlive this).
  zap_handler(zmq::context_t& context, const std::vector<wire::curve_key>& allowed,
              metrics::counter* refused_metric = nullptr);
  ~zap_handler();
  zap_handler(const zap_handler&) = delete;
  zap_handler& operator=(const zap_handler&) = delete;

  void start();
  void stop();

  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  /// Keys (Z85) refused for the first time since the last call.
  std::vector<std::string> take_newly_refused();
  /// Why the thread stopped unexpectedly, if it did.
  std::optional<std::string> failure() const;

private:
  void run();
  /// Answers one request; true if it admitted the client.
  bool admit(const std::string& mechanism, const std::string& credentials);
  void count_refused();

  zmq::context_t& context_;
  std::set<wire::curve_key> allowed_;
  struct socket_holder;
  std::unique_ptr<socket_holder> socket_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<std::uint64_t> refused_{0};
  metrics::counter* refused_metric_;
  mutable std::mutex mutex_; ///< below
  std::set<wire::curve_key> remembered_;
  std::vector<std::string> newly_refused_;
  std::optional<std::string> failure_;
};

} // namespace conveyor::serving
