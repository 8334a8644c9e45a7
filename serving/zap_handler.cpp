#include "serving/zap_handler.hpp"

#include "serving/thread_signals.hpp"

#include <zmq.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>

namespace conveyor::serving {

namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";
constexpr auto poll_interval = std::chrono::milliseconds(50);
/// A ZAP request: version, request id, domain, address, routing id, mechanism, then the
/// mechanism's credentials (CURVE: the client's 32-byte public key).
constexpr std::size_t zap_request_frames = 7;

} // namespace

struct zap_handler::socket_holder {
  zmq::socket_t socket;
};

zap_handler::zap_handler(zmq::context_t& context, const std::vector<wire::curve_key>& allowed,
                         metrics::counter* refused_metric)
    : context_(context), allowed_(allowed.begin(), allowed.end()), refused_metric_(refused_metric) {}

zap_handler::~zap_handler() { stop(); }

void zap_handler::start() {
  if (running_)
    return;
  socket_ = std::make_unique<socket_holder>(
    socket_holder{zmq::socket_t(context_, zmq::socket_type::rep)});
  socket_->socket.set(zmq::sockopt::linger, 0);
  try {
    socket_->socket.bind(zap_endpoint);
  } catch (const zmq::error_t& e) {
    socket_.reset();
    throw std::runtime_error(std::string("cannot start the CURVE authentication handler: ") +
                             e.what());
  }
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void zap_handler::stop() {
  if (!running_.exchange(false))
    return;
  thread_.join();
  socket_.reset();
}

std::vector<std::string> zap_handler::take_newly_refused() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  out.swap(newly_refused_);
  return out;
}

std::optional<std::string> zap_handler::failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

void zap_handler::count_refused() {
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (refused_metric_)
    refused_metric_->add();
}

bool zap_handler::admit(const std::string& mechanism, const std::string& credentials) {
  if (mechanism == "CURVE" && credentials.size() == wire::curve_key{}.size()) {
    wire::curve_key key;
    std::copy(credentials.begin(), credentials.end(), key.begin());
    if (allowed_.count(key) != 0)
      return true;
    count_refused();
    std::lock_guard<std::mutex> lock(mutex_);
    if (remembered_.size() < max_remembered && remembered_.insert(key).second)
      newly_refused_.push_back(wire::z85_encode_key(key));
    return false;
  }
  // Not a CURVE client (the server's socket admits no other mechanism): refused.
  count_refused();
  return false;
}

void zap_handler::run() {
  block_signals();
  auto& socket = socket_->socket;
  try {
    while (running_.load(std::memory_order_relaxed)) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, poll_interval);
      if (!(item.revents & ZMQ_POLLIN))
        continue;
      std::vector<std::string> frames;
      zmq::message_t part;
      do {
        if (!socket.recv(part, zmq::recv_flags::none))
          break;
        frames.emplace_back(part.to_string());
      } while (part.more());
      const bool well_formed = frames.size() == zap_request_frames && frames[0] == "1.0";
      const bool ok = well_formed && admit(frames[5], frames[6]);
      const std::string request_id = frames.size() > 1 ? frames[1] : std::string();
      socket.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(std::string(ok ? "200" : well_formed ? "400" : "500")),
                  zmq::send_flags::sndmore);
      socket.send(zmq::buffer(std::string(ok ? "OK" : "not an allowed client")),
                  zmq::send_flags::sndmore);
      socket.send(zmq::buffer(std::string()), zmq::send_flags::sndmore); // user id
      socket.send(zmq::buffer(std::string()), zmq::send_flags::none);    // metadata
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    failure_ = std::string("CURVE authentication handler: ") + e.what();
  }
}

} // namespace conveyor::serving
