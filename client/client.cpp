// One DEALER socket; ids count up from 1 per client. Replies are read as whole multipart
// messages (the last part is the payload, so a server that keeps a REQ-style empty
// delimiter still works). Async requests live in `in_flight` (id -> send time); `expiry`
// lists them in send order, which is also timeout order since every request gets the
// same timeout, so the next timeout is always at its front.
#include "client/client.hpp"

#include <zmq.hpp>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

namespace conveyor::client {

namespace {

using clock = std::chrono::steady_clock;

/// One context (one I/O thread) for every client in the process; it lives while any does.
std::shared_ptr<zmq::context_t> shared_context() {
  static std::mutex mutex;
  static std::weak_ptr<zmq::context_t> current;
  std::lock_guard<std::mutex> lock(mutex);
  auto context = current.lock();
  if (!context) {
    context = std::make_shared<zmq::context_t>(1);
    current = context;
  }
  return context;
}

/// Longer waits are treated as this (a year), so that adding one to a time point
/// cannot overflow (callers pass milliseconds::max() to mean "forever").
constexpr std::chrono::milliseconds longest_wait = std::chrono::hours(24 * 365);

int clamp_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::min<std::chrono::milliseconds::rep>(
    std::max<std::chrono::milliseconds::rep>(d.count(), 0), 1 << 30));
}

} // namespace

decoded<curve_keys> load_curve_keys(const std::string& server_public_key_file,
                                    const std::string& secret_key_file) {
  auto server = wire::load_curve_key(server_public_key_file, "server public key");
  if (!server)
    return decoded<curve_keys>::failure(server.error);
  auto secret = wire::load_curve_key(secret_key_file, "client secret key");
  if (!secret)
    return decoded<curve_keys>::failure(secret.error);
  curve_keys keys;
  keys.server_public = *server.value;
  keys.secret_key = *secret.value;
  const auto secret_z85 = wire::z85_encode_key(keys.secret_key);
  char public_z85[41];
  if (zmq_curve_public(public_z85, secret_z85.c_str()) != 0)
    return decoded<curve_keys>::failure("client secret key: this libzmq has no CurveZMQ");
  keys.public_key = *wire::z85_decode_key(public_z85);
  return decoded<curve_keys>::success(keys);
}

struct client::impl {
  impl(const std::string& e, options o)
      : context(shared_context()), socket(*context, zmq::socket_type::dealer), endpoint(e),
        opts(std::move(o)) {
    opts.timeout = std::clamp(opts.timeout, std::chrono::milliseconds(0), longest_wait);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, opts.high_water_mark);
    socket.set(zmq::sockopt::rcvhwm, opts.high_water_mark);
    // A full queue (server gone, high-water mark reached) must not block forever.
    socket.set(zmq::sockopt::sndtimeo, clamp_ms(opts.timeout));
    if (opts.curve) {
      auto key = [](const wire::curve_key& k) { return zmq::const_buffer(k.data(), k.size()); };
      socket.set(zmq::sockopt::curve_serverkey, key(opts.curve->server_public));
      socket.set(zmq::sockopt::curve_publickey, key(opts.curve->public_key));
      socket.set(zmq::sockopt::curve_secretkey, key(opts.curve->secret_key));
    }
    try {
      socket.connect(endpoint);
    } catch (const zmq::error_t& e) {
      throw std::invalid_argument("cannot connect to '" + endpoint + "': " + e.what());
    }
  }

  std::shared_ptr<zmq::context_t> context;
  zmq::socket_t socket;
  std::string endpoint;
  options opts;
  std::uint64_t next_id = 1;
  std::string buffer; // the request being sent
  std::unordered_map<std::uint64_t, clock::time_point> in_flight;
  std::deque<std::pair<clock::time_point, std::uint64_t>> expiry;
  std::deque<reply> ready; // replies (and failures) for receive() to hand out
  std::uint64_t strays = 0;

  /// Sends `buffer`; false if the socket refused it.
  bool transmit() {
    try {
      return socket.send(zmq::buffer(buffer), zmq::send_flags::none).has_value();
    } catch (const zmq::error_t&) {
      return false;
    }
  }

  reply failure_to_send(std::uint64_t id) {
    return client_failure(id, client_error::send_failed,
                          "the socket to " + endpoint + " did not take the request within " +
                            std::to_string(opts.timeout.count()) + " ms");
  }

  reply timed_out(std::uint64_t id) {
    return client_failure(id, client_error::timeout,
                          "no reply from " + endpoint + " within " +
                            std::to_string(opts.timeout.count()) + " ms" +
                            (opts.curve ? " (CurveZMQ: a server that does not list this "
                                          "client's public key never answers)"
                                        : ""));
  }

  /// Reads one whole message if one arrives before `until` (polls at least once).
  std::optional<reply> next_message(clock::time_point until) {
    for (;;) {
      zmq::message_t payload;
      try {
        auto got = socket.recv(payload, zmq::recv_flags::dontwait);
        if (got) {
          while (payload.more()) {
            zmq::message_t next;
            if (!socket.recv(next, zmq::recv_flags::none))
              break;
            payload = std::move(next);
          }
          return wire::decode_reply(std::string_view(payload.data<char>(), payload.size()),
                              opts.limits);
        }
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR)
          return std::nullopt;
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      zmq_pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, clamp_ms(left)) < 0 && zmq_errno() != EINTR)
        return std::nullopt;
    }
  }

  /// A reply that is not the one a synchronous call waits for.
  void keep(reply r, clock::time_point now) {
    auto it = in_flight.find(r.id);
    if (it == in_flight.end()) {
      ++strays;
      return;
    }
    r.latency = now - it->second;
    in_flight.erase(it);
    ready.push_back(std::move(r));
  }

  /// A predict request whose tensor would not fit MessagePack's 32-bit bin length.
  static std::optional<reply> oversized(std::uint64_t id, std::uint32_t rows,
                                        std::uint32_t columns) {
    if (std::uint64_t{rows} * columns * 4 <= UINT32_MAX)
      return std::nullopt;
    return client_failure(id, client_error::bad_argument,
                          std::to_string(rows) + " x " + std::to_string(columns) +
                            " values do not fit one request (4 GiB)");
  }

  /// Sends `buffer` as request `id` and waits for its reply.
  reply call(std::uint64_t id) {
    const auto sent = clock::now();
    if (!transmit())
      return failure_to_send(id);
    const auto until = sent + opts.timeout;
    for (;;) {
      auto r = next_message(until);
      const auto now = clock::now();
      if (!r)
        return timed_out(id);
      if (r->id == id) {
        r->latency = now - sent;
        return std::move(*r);
      }
      keep(std::move(*r), now);
    }
  }

  /// Sends `buffer` as asynchronous request `id`.
  std::uint64_t launch(std::uint64_t id) {
    const auto sent = clock::now();
    if (!transmit()) {
      ready.push_back(failure_to_send(id));
      return id;
    }
    in_flight.emplace(id, sent);
    expiry.emplace_back(sent, id);
    return id;
  }

  /// The oldest in-flight request if its time is up (removing it); drops answered ones
  /// from the front of `expiry` on the way.
  std::optional<std::uint64_t> expired(clock::time_point now) {
    while (!expiry.empty()) {
      const auto [sent, id] = expiry.front();
      auto it = in_flight.find(id);
      if (it == in_flight.end() || it->second != sent) {
        expiry.pop_front();
        continue;
      }
      if (now - sent < opts.timeout)
        return std::nullopt;
      in_flight.erase(it);
      expiry.pop_front();
      return id;
    }
    return std::nullopt;
  }

  std::optional<reply> receive(std::chrono::milliseconds wait) {
    if (!ready.empty()) {
      reply r = std::move(ready.front());
      ready.pop_front();
      return r;
    }
    const auto until = clock::now() + std::clamp(wait, std::chrono::milliseconds(0), longest_wait);
    for (;;) {
      auto now = clock::now();
      if (auto id = expired(now))
        return timed_out(*id);
      auto limit = until;
      if (!expiry.empty())
        limit = std::min(limit, expiry.front().first + opts.timeout);
      auto r = next_message(limit);
      now = clock::now();
      if (r) {
        auto it = in_flight.find(r->id);
        if (it != in_flight.end()) {
          r->latency = now - it->second;
          in_flight.erase(it);
          return r;
        }
        ++strays;
        continue;
      }
      if (now >= until) {
        if (auto id = expired(now))
          return timed_out(*id);
        return std::nullopt;
      }
    }
  }
};

client::client(const std::string& endpoint, options opts)
    : impl_(std::make_unique<impl>(endpoint, std::move(opts))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

reply client::predict(std::string_view model, const std::vector<std::vector<float>>& rows,
                      std::uint64_t version, std::optional<std::uint64_t> deadline_ms,
                      std::string_view key) {
  const auto id = impl_->next_id++;
  const std::size_t columns = rows.empty() ? 0 : rows.front().size();
  std::vector<float> flat;
  flat.reserve(rows.size() * columns);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != columns)
      return client_failure(id, client_error::bad_argument,
                            "row " + std::to_string(r) + " has " +
                              std::to_string(rows[r].size()) + " values; row 0 has " +
                              std::to_string(columns));
    flat.insert(flat.end(), rows[r].begin(), rows[r].end());
  }
  if (rows.size() > UINT32_MAX || columns > UINT32_MAX)
    return client_failure(id, client_error::bad_argument, "too many rows or columns");
  if (auto failure = impl::oversized(id, static_cast<std::uint32_t>(rows.size()),
                                     static_cast<std::uint32_t>(columns)))
    return std::move(*failure);
  predict_request req{id, model, version, flat.data(), static_cast<std::uint32_t>(rows.size()),
                      static_cast<std::uint32_t>(columns), deadline_ms, impl_->opts.encoding, key};
  wire::encode_predict_request(req, impl_->buffer);
  return impl_->call(id);
}

reply client::predict(std::string_view model, const float* values, std::uint32_t rows,
                      std::uint32_t columns, std::uint64_t version,
                      std::optional<std::uint64_t> deadline_ms, std::string_view key) {
  const auto id = impl_->next_id++;
  if (auto failure = impl::oversized(id, rows, columns))
    return std::move(*failure);
  predict_request req{id, model, version, values, rows, columns, deadline_ms,
                      impl_->opts.encoding, key};
  wire::encode_predict_request(req, impl_->buffer);
  return impl_->call(id);
}

reply client::models() {
  const auto id = impl_->next_id++;
  wire::encode_models_request(id, impl_->buffer);
  return impl_->call(id);
}

reply client::health() {
  const auto id = impl_->next_id++;
  wire::encode_health_request(id, impl_->buffer);
  return impl_->call(id);
}

std::uint64_t client::send_predict(std::string_view model, const float* values,
                                   std::uint32_t rows, std::uint32_t columns,
                                   std::uint64_t version,
                                   std::optional<std::uint64_t> deadline_ms,
                                   std::string_view key) {
  const auto id = impl_->next_id++;
  if (auto failure = impl::oversized(id, rows, columns)) {
    impl_->ready.push_back(std::move(*failure));
    return id;
  }
  predict_request req{id, model, version, values, rows, columns, deadline_ms,
                      impl_->opts.encoding, key};
  wire::encode_predict_request(req, impl_->buffer);
  return impl_->launch(id);
}

std::uint64_t client::send_models() {
  const auto id = impl_->next_id++;
  wire::encode_models_request(id, impl_->buffer);
  return impl_->launch(id);
}

std::uint64_t client::send_health() {
  const auto id = impl_->next_id++;
  wire::encode_health_request(id, impl_->buffer);
  return impl_->launch(id);
}

std::optional<reply> client::receive(std::chrono::milliseconds wait) {
  return impl_->receive(wait);
}

std::size_t client::in_flight() const { return impl_->in_flight.size(); }
std::uint64_t client::stray_replies() const { return impl_->strays; }
const std::string& client::endpoint() const { return impl_->endpoint; }

} // namespace conveyor::client
