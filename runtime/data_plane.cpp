#include "runtime/data_plane.hpp"

#include "runtime/data_plane_codec.hpp"
#include "runtime/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace conveyor {

namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";
/// How long the receiving threads wait for a message before they look at `stopping`.
constexpr int poll_ms = 100;

std::string zmq_error() { return zmq_strerror(zmq_errno()); }

struct curve_pair {
  std::string public_key;
  std::string secret_key;
};

curve_pair make_curve_pair() {
  char pub[41] = {};
  char sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0)
    return {};
  return {pub, sec};
}

std::string frame_text(zmq_msg_t& m) {
  return std::string(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
}

/// A received message part on the heap, closed when the last holder lets go: a
/// batch decoded from it keeps its floats there instead of copying them out.
struct received_part {
  zmq_msg_t message;
  received_part() { zmq_msg_init(&message); }
  ~received_part() { zmq_msg_close(&message); }
  received_part(const received_part&) = delete;
  received_part& operator=(const received_part&) = delete;
};

/// The receiver thread as a CAF execution unit, so that it can run the consumer a batch
/// frame is for itself instead of waking a scheduler worker for it (the hand-off that
/// cost the receiving node most CPU per batch). It runs only that consumer, only for
/// the message it delivered (throughput 1): whatever else becomes ready while it runs
/// (actors the consumer sends to; the consumer's own next messages) goes to CAF's
/// scheduler as usual.
class receiver_unit final : public caf::execution_unit {
public:
  explicit receiver_unit(caf::actor_system* system) : caf::execution_unit(system) {}
  /// The consumer being delivered to, and whether the delivery made it ready here.
  caf::resumable* target = nullptr;
  caf::resumable* ready = nullptr;
  void exec_later(caf::resumable* job) override {
    if (job == target && ready == nullptr)
      ready = job;
    else
      system().scheduler().enqueue(job);
  }
};

/// A consumer whose calls took longer than this when run on the receiver thread, three
/// times in a row, gets its batches through the scheduler from then on: the receiver
/// must not sit in long calls while frames for other consumers wait. (Three: one call
/// can take this long because the thread was preempted, not because the call is slow.)
constexpr auto inline_budget = std::chrono::microseconds(500);
constexpr int slow_runs_to_move = 3;

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

} // namespace

struct data_plane::impl {
  void* context = nullptr;
  void* pull = nullptr;
  void* zap = nullptr;
  std::string address;
  bool curve = false;
  curve_pair server;
  curve_pair client;
  std::thread receiver;
  std::thread zap_thread;
  std::atomic<bool> stopping{false};
  data_plane_counters counters;
  mutable std::mutex mutex;
  std::unordered_map<std::uint64_t, caf::actor> actors;
  mutable std::mt19937_64 tokens{std::random_device{}()};
  /// Receiver thread only: its execution unit (made at the first batch) and the
  /// consumers that were too slow to run on it (by actor id, never reused in a process).
  std::unique_ptr<receiver_unit> unit;
  std::unordered_set<std::uint64_t> slow_consumers;
  std::unordered_map<std::uint64_t, int> slow_runs; // consecutive, by consumer

  void run() {
    zmq_msg_t header;
    zmq_msg_t payload;
    zmq_msg_t extra;
    zmq_msg_init(&header);
    zmq_msg_init(&payload);
    zmq_msg_init(&extra);
    // A blocking receive that gives up after poll_ms to look at `stopping`: a zmq_poll
    // before each receive cost one more system call per batch.
    while (!stopping.load()) {
      if (zmq_msg_recv(&header, pull, 0) < 0) {
        if (zmq_errno() == EAGAIN || zmq_errno() == EINTR)
          continue;
        spdlog::error("data plane: receive failed: {}", zmq_error());
        break;
      }
      // The parts of a message arrive together (ZeroMQ delivers all or none), so the
      // second is there at once.
      std::size_t parts = 1;
      bool more = zmq_msg_more(&header) != 0;
      if (more) {
        if (zmq_msg_recv(&payload, pull, 0) < 0)
          continue;
        ++parts;
        more = zmq_msg_more(&payload) != 0;
      } else {
        zmq_msg_close(&payload);
        zmq_msg_init(&payload);
      }
      for (; more; ++parts) { // parts beyond two: read to skip the message, refused below
        if (zmq_msg_recv(&extra, pull, 0) < 0)
          break;
        more = zmq_msg_more(&extra) != 0;
      }
      if (parts > 2) {
        refuse("a message of " + std::to_string(parts) + " parts, 1 or 2 expected");
        continue;
      }
      // The message holding the payload moves into a part of its own (its memory
      // stays where ZeroMQ put it), which the decoded batch keeps; the variable is
      // empty again for the next.
      auto owner = std::make_shared<received_part>();
      if (parts == 1) {
        zmq_msg_move(&owner->message, &header);
        std::string_view h, body;
        std::string error;
        if (!split_message(view(owner->message), h, body, error)) {
          refuse(error);
          continue;
        }
        // The header, read by then, is room the batch may write (to send it on).
        deliver(h, body, body.empty() ? nullptr : std::move(owner), h.size() + 4);
        continue;
      }
      if (zmq_msg_size(&payload) == 0) {
        deliver(view(header), {}, nullptr, 0);
        continue;
      }
      zmq_msg_move(&owner->message, &payload);
      const auto body = view(owner->message); // before the owner moves into the call
      deliver(view(header), body, std::move(owner), 0);
    }
    zmq_msg_close(&header);
    zmq_msg_close(&payload);
    zmq_msg_close(&extra);
  }

  static std::string_view view(zmq_msg_t& m) {
    return std::string_view(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
  }

  /// Counts and logs (the first few) a frame that does not decode.
  void refuse(const std::string& error) {
    if (counters.malformed.fetch_add(1) < 5)
      spdlog::warn("data plane: dropped a frame that does not decode: {}", error);
  }

  /// `room`: bytes after the payload, in the owner's memory, that a batch may write.
  void deliver(std::string_view header, std::string_view payload,
               std::shared_ptr<received_part> owner, std::size_t room) {
    counters.frames_in.fetch_add(1, std::memory_order_relaxed);
    counters.bytes_in.fetch_add(header.size() + payload.size(), std::memory_order_relaxed);
    frame f;
    std::string error;
    if (!decode_frame(header, payload, f, error, std::move(owner), room)) {
      refuse(error);
      return;
    }
    caf::actor to;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto i = actors.find(f.header.consumer);
      if (i != actors.end())
        to = i->second;
    }
    if (!to) {
      counters.fenced.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    switch (f.header.kind) {
      case frame_kind::batch:
        deliver_batch(f.header.consumer, to, f.header.token, std::move(f.data));
        break;
      case frame_kind::eos:
        caf::anon_send(to, dp_eos_atom::value, f.header.token);
        break;
      case frame_kind::model:
        caf::anon_send(to, dp_model_atom::value, f.header.token, std::move(f.model));
        break;
      case frame_kind::peer:
        caf::anon_send(to, dp_peer_atom::value, f.header.token, std::move(f.peer));
        break;
      case frame_kind::credit:
        caf::anon_send(to, dp_credit_atom::value, f.header.token,
                       static_cast<std::int32_t>(f.credit));
        break;
    }
  }

  /// Hands a batch to its consumer and, when that made the consumer ready (it was
  /// idle), runs it here for that one message; a consumer busy elsewhere just finds
  /// the message in its mailbox. A consumer too slow for this thread (see
  /// inline_budget), or not a scheduled actor, gets the message as any other.
  void deliver_batch(std::uint64_t id, const caf::actor& to, std::uint64_t token, batch b) {
    auto* actor = caf::actor_cast<caf::abstract_actor*>(to);
    auto* job = dynamic_cast<caf::resumable*>(actor);
    if (job == nullptr || slow_consumers.count(id) != 0) {
      caf::anon_send(to, dp_batch_atom::value, token, std::move(b));
      return;
    }
    if (!unit)
      unit = std::make_unique<receiver_unit>(&to.home_system());
    unit->target = job;
    unit->ready = nullptr;
    actor->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                             dp_batch_atom::value, token, std::move(b)),
                   unit.get());
    unit->target = nullptr;
    if (unit->ready == nullptr)
      return;
    // The enqueue took a reference for this run (as for a scheduler worker's).
    const auto start = std::chrono::steady_clock::now();
    auto result = job->resume(unit.get(), 1);
    if (std::chrono::steady_clock::now() - start <= inline_budget) {
      slow_runs.erase(id);
    } else if (++slow_runs[id] >= slow_runs_to_move) {
      slow_runs.erase(id);
      slow_consumers.insert(id);
      spdlog::info("data plane: actor {} takes over {} us per batch: its batches go through "
                   "the scheduler from now on",
                   id, inline_budget.count());
    }
    if (result == caf::resumable::resume_later)
      to.home_system().scheduler().enqueue(job); // more messages: a worker goes on
    else
      caf::intrusive_ptr_release(job);
  }

  /// The ZAP thread (CurveZMQ only): answers the handshakes' requests until stopped.
  void serve_zap() {
    while (!stopping.load())
      answer_zap();
  }

  /// ZAP (RFC 27): admits the CURVE client key this process advertises, nothing else.
  /// Returns after poll_ms without a request.
  void answer_zap() {
    std::vector<std::string> parts;
    zmq_msg_t part;
    int more = 1;
    while (more != 0) {
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, zap, 0) < 0) { // the first part: within poll_ms
        zmq_msg_close(&part);
        return;
      }
      parts.push_back(frame_text(part));
      more = zmq_msg_more(&part);
      zmq_msg_close(&part);
    }
    if (parts.size() < 6)
      return;
    bool allowed = false;
    if (parts[5] == "CURVE" && parts.size() >= 7 && parts[6].size() == 32) {
      char z85[41] = {};
      zmq_z85_encode(z85, reinterpret_cast<const std::uint8_t*>(parts[6].data()), 32);
      allowed = client.public_key == z85;
    }
    if (!allowed)
      counters.refused.fetch_add(1, std::memory_order_relaxed);
    const std::string status = allowed ? "200" : "400";
    const std::string reply[] = {"1.0", parts[1], status, allowed ? "OK" : "not a cluster key",
                                 "", ""};
    for (std::size_t i = 0; i < 6; ++i)
      zmq_send(zap, reply[i].data(), reply[i].size(), i + 1 < 6 ? ZMQ_SNDMORE : 0);
  }
};

namespace {

std::mutex process_mutex;
data_plane* process_plane = nullptr; // never destroyed: actors detach until the process ends

} // namespace

data_plane::data_plane(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
data_plane::~data_plane() = default;

std::string data_plane::start(const std::string& host, bool curve) {
  std::lock_guard<std::mutex> lock(process_mutex);
  if (process_plane != nullptr)
    return "the data plane is already running";
  auto p = std::make_unique<impl>();
  p->curve = curve;
  p->context = zmq_ctx_new();
  auto fail = [&](const std::string& what) {
    std::string text = what + ": " + zmq_error();
    for (void* s : {p->pull, p->zap})
      if (s != nullptr)
        zmq_close(s);
    zmq_ctx_term(p->context);
    return text;
  };
  if (curve) {
    if (zmq_has("curve") == 0)
      return "this libzmq has no CurveZMQ: the data plane of a TLS cluster needs it";
    p->server = make_curve_pair();
    p->client = make_curve_pair();
    // The handler first: a CURVE socket without one admits every client.
    p->zap = zmq_socket(p->context, ZMQ_REP);
    zmq_setsockopt(p->zap, ZMQ_RCVTIMEO, &poll_ms, sizeof poll_ms);
    if (zmq_bind(p->zap, zap_endpoint) != 0)
      return fail("cannot start the data plane's CurveZMQ handler");
  }
  p->pull = zmq_socket(p->context, ZMQ_PULL);
  int unlimited = 0; // credits bound what is in flight on every edge
  zmq_setsockopt(p->pull, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
  zmq_setsockopt(p->pull, ZMQ_RCVTIMEO, &poll_ms, sizeof poll_ms);
  if (curve) {
    int on = 1;
    zmq_setsockopt(p->pull, ZMQ_CURVE_SERVER, &on, sizeof on);
    zmq_setsockopt(p->pull, ZMQ_CURVE_SECRETKEY, p->server.secret_key.c_str(), 40);
    zmq_setsockopt(p->pull, ZMQ_ZAP_DOMAIN, "conveyor", 8);
  }
  const bool wildcard = host == "0.0.0.0" || host == "::" || host == "*";
  if (host.find(':') != std::string::npos) {
    int on = 1;
    zmq_setsockopt(p->pull, ZMQ_IPV6, &on, sizeof on);
  }
  std::string bind_to = "tcp://" + (wildcard ? std::string("*") : bracketed(host)) + ":0";
  if (zmq_bind(p->pull, bind_to.c_str()) != 0)
    return fail("cannot bind the data plane on " + bind_to);
  char last[256] = {};
  std::size_t size = sizeof last;
  zmq_getsockopt(p->pull, ZMQ_LAST_ENDPOINT, last, &size);
  std::string bound = last;
  auto port = bound.substr(bound.rfind(':') + 1);
  std::string advertised = host;
  if (wildcard) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    advertised = name;
  }
  p->address = "tcp://" + bracketed(advertised) + ":" + port;
  auto* raw = p.get();
  process_plane = new data_plane(std::move(p));
  raw->receiver = std::thread([raw] { raw->run(); });
  if (raw->zap != nullptr)
    raw->zap_thread = std::thread([raw] { raw->serve_zap(); });
  return {};
}

void data_plane::stop() {
  std::lock_guard<std::mutex> lock(process_mutex);
  if (process_plane == nullptr)
    return;
  auto& p = *process_plane->impl_;
  p.stopping = true;
  if (p.receiver.joinable())
    p.receiver.join();
  if (p.zap_thread.joinable())
    p.zap_thread.join();
  std::lock_guard<std::mutex> actors_lock(p.mutex);
  p.actors.clear();
}

data_plane* data_plane::get() {
  std::lock_guard<std::mutex> lock(process_mutex);
  return process_plane;
}

data_endpoint data_plane::advertise(std::uint64_t consumer) const {
  data_endpoint e;
  e.address = impl_->address;
  e.consumer = consumer;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    do
      e.token = impl_->tokens();
    while (e.token == 0);
  }
  if (impl_->curve) {
    e.server_key = impl_->server.public_key;
    e.client_public = impl_->client.public_key;
    e.client_secret = impl_->client.secret_key;
  }
  return e;
}

void data_plane::attach(std::uint64_t id, const caf::actor& handle) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->stopping)
    impl_->actors[id] = handle;
}

void data_plane::detach(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->actors.erase(id);
}

const std::string& data_plane::address() const { return impl_->address; }
bool data_plane::curve() const { return impl_->curve; }
data_plane_counters& data_plane::counters() { return impl_->counters; }
void* data_plane::context() const { return impl_->context; }

namespace {

/// Sends `msg` as the last part, or as one before more with `more`; closes it on failure.
/// The socket queues without bound (credits bound it), so a part is never refused for a
/// full queue; and ZeroMQ sends the parts of a message all or none.
bool send_part(zmq_msg_t& msg, void* socket, bool more) {
  if (zmq_msg_send(&msg, socket, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) >= 0)
    return true;
  zmq_msg_close(&msg);
  return false;
}

/// ZeroMQ's free function for a zero-copy part: releases the frame's owner (called on
/// its I/O thread once the bytes are written).
void release_owner(void*, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); }

} // namespace

/// Sends `frame` in the layout that copies least (runtime/data_plane_codec.hpp): small
/// frames copied into one part; a payload with room for the header after it as one part
/// from where it is; anything else as two parts, the payload from where it is.
bool data_sender::send_parts(encoded_frame& frame, void* socket) {
  const auto trailer = trailer_size(frame);
  const auto total = frame.payload.size() + trailer;
  zmq_msg_t msg;
  if (total <= copied_frame_bytes) {
    zmq_msg_init_size(&msg, total);
    auto* at = static_cast<char*>(zmq_msg_data(&msg));
    if (!frame.payload.empty())
      std::memcpy(at, frame.payload.data(), frame.payload.size());
    write_trailer(frame, at + frame.payload.size());
    return send_part(msg, socket, false);
  }
  if (frame.room >= trailer) {
    // The room is the frame's to write (encoded_frame::room).
    auto* payload = const_cast<char*>(frame.payload.data());
    write_trailer(frame, payload + frame.payload.size());
    zmq_msg_init_data(&msg, payload, total, release_owner,
                      new std::shared_ptr<const void>(std::move(frame.owner)));
    return send_part(msg, socket, false);
  }
  auto* header = new std::string(std::move(frame.header));
  zmq_msg_init_data(
    &msg, header->data(), header->size(),
    [](void*, void* hint) { delete static_cast<std::string*>(hint); }, header);
  zmq_msg_t payload;
  if (frame.payload.empty()) // a header over copied_frame_bytes alone
    zmq_msg_init(&payload);
  else
    zmq_msg_init_data(&payload, const_cast<char*>(frame.payload.data()), frame.payload.size(),
                      release_owner, new std::shared_ptr<const void>(std::move(frame.owner)));
  if (!send_part(msg, socket, true)) {
    zmq_msg_close(&payload);
    return false;
  }
  return send_part(payload, socket, false);
}

data_sender::~data_sender() {
  for (auto& [key, socket] : sockets_)
    zmq_close(socket);
}

bool data_sender::send(const data_endpoint& to, encoded_frame frame, std::string& error) {
  const auto key = to.address + "|" + to.client_public;
  auto i = sockets_.find(key);
  if (i == sockets_.end()) {
    void* s = zmq_socket(plane_.context(), ZMQ_PUSH);
    int unlimited = 0; // bounded by credits, not by the socket
    int linger = 0;    // frames still queued when a producer ends are replayed if needed
    zmq_setsockopt(s, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (!to.server_key.empty()) {
      zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, to.server_key.c_str(), to.server_key.size());
      zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, to.client_public.c_str(), to.client_public.size());
      zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, to.client_secret.c_str(), to.client_secret.size());
    }
    if (to.address.find('[') != std::string::npos) {
      int on = 1;
      zmq_setsockopt(s, ZMQ_IPV6, &on, sizeof on);
    }
    if (zmq_connect(s, to.address.c_str()) != 0) {
      error = "cannot connect to " + to.address + ": " + zmq_error();
      zmq_close(s);
      return false;
    }
    i = sockets_.emplace(key, s).first;
  }
  const auto size = frame.header.size() + frame.payload.size();
  if (!send_parts(frame, i->second)) {
    error = "cannot send to " + to.address + ": " + zmq_error();
    return false;
  }
  plane_.counters().frames_out.fetch_add(1, std::memory_order_relaxed);
  plane_.counters().bytes_out.fetch_add(size, std::memory_order_relaxed);
  return true;
}

} // namespace conveyor
