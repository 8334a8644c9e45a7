// The `/metrics` HTTP endpoint: serves a registry's text exposition (format 0.0.4) on
// HOST:PORT with its own threads (two: a scrape renders the registry, which takes
// microseconds; more would only cost memory). Any other path (but routes added with
// add_route) answers 404.
#pragma once

#include "metrics/registry.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace conveyor::metrics {

struct listen_address {
  std::string host;
  int port = 0;
};

/// Parses "HOST:PORT" (an IPv6 host in brackets: "[::1]:9100"; port 0: any free port).
/// Nothing if malformed; `why` says what is wrong.
std::optional<listen_address> parse_listen_address(const std::string& text, std::string& why);

class http_endpoint {
public:
  explicit http_endpoint(registry& r);
  ~http_endpoint();
  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

  /// Also serves GET `path` with what `render` returns at each request (call before
  /// `start`): `conveyor run --cluster` serves its status as JSON on /status.
  void add_route(const std::string& path, const std::string& content_type,
                 std::function<std::string()> render);
  /// Binds and starts serving. Throws std::runtime_error("cannot listen on HOST:PORT
  /// for /metrics: REASON") when the address cannot be bound (in use, not this machine's).
  void start(const listen_address& where);
  /// Stops serving and joins the threads (also done by the destructor).
  void stop();
  /// The bound port (the chosen one when started with port 0).
  int port() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace conveyor::metrics
