#include "metrics/http_endpoint.hpp"

#include <httplib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace conveyor::metrics {

std::optional<listen_address> parse_listen_address(const std::string& text, std::string& why) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    why = "'" + text + "' is not HOST:PORT";
    return std::nullopt;
  }
  listen_address a;
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    why = "'" + port + "' in '" + text + "' is not a port (0 to 65535)";
    return std::nullopt;
  }
  a.port = std::stoi(port);
  return a;
}

struct http_endpoint::impl {
  registry& source;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
  int port = 0;

  explicit impl(registry& r) : source(r) {
    server.new_task_queue = [] { return new httplib::ThreadPool(2); };
    // SO_REUSEADDR only: the library's default adds SO_REUSEPORT, with which a second
    // process binds a port in use without an error and takes some of its scrapes.
    server.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(source.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
};

http_endpoint::http_endpoint(registry& r) : impl_(std::make_unique<impl>(r)) {}

http_endpoint::~http_endpoint() { stop(); }

void http_endpoint::add_route(const std::string& path, const std::string& content_type,
                              std::function<std::string()> render) {
  impl_->server.Get(path, [content_type, render = std::move(render)](const httplib::Request&,
                                                                    httplib::Response& res) {
    res.set_content(render(), content_type);
  });
}

void http_endpoint::start(const listen_address& where) {
  auto& s = *impl_;
  if (s.thread.joinable())
    return;
  const std::string shown = where.host + ":" + std::to_string(where.port);
  errno = 0;
  int bound = where.port;
  bool ok;
  if (where.port == 0) {
    bound = s.server.bind_to_any_port(where.host);
    ok = bound > 0;
  } else {
    ok = s.server.bind_to_port(where.host, where.port);
  }
  if (!ok) {
    // The library reports only failure; errno still holds the failed call's reason.
    const int error = errno;
    throw std::runtime_error("cannot listen on " + shown + " for /metrics: " +
                             (error != 0 ? std::strerror(error)
                                         : "the host is not an address of this machine"));
  }
  s.port = bound;
  s.finished = false;
  s.thread = std::thread([&s] {
    s.server.listen_after_bind();
    s.finished = true;
  });
  // The library's stop() does nothing until its loop runs: wait for it, so that a stop
  // right after start cannot leave the loop running.
  while (!s.server.is_running() && !s.finished)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void http_endpoint::stop() {
  auto& s = *impl_;
  if (!s.thread.joinable())
    return;
  s.server.stop();
  s.thread.join();
}

int http_endpoint::port() const { return impl_->port; }

} // namespace conveyor::metrics
