#include "serving/server.hpp"

#include <zmq.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <csignal>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace conveyor::serving {

namespace {

using clock_type = std::chrono::steady_clock;

/// Routing frames: the client identity (and REQ's empty delimiter).
using envelope = std::vector<zmq::message_t>;

/// Frames a message may have before it is dropped unread (a ROUTER adds one).
constexpr std::size_t max_frames = 8;
/// Messages the front end moves per socket before looking at the other one.
constexpr int front_end_burst = 256;
constexpr auto poll_interval = std::chrono::milliseconds(50);
/// Requests of at most this many rows that find every worker idle and nothing queued
/// are computed by the front end itself (see receive_request).
constexpr std::uint32_t inline_rows = 4;
/// Deadlines from this many milliseconds on (about 11.6 days) are treated as none.
constexpr std::uint64_t max_deadline_ms = 1'000'000'000;

/// An accepted predict request.
struct job {
  envelope route;
  std::string client; ///< the identity frame, for the per-client cap
  std::uint64_t id = 0;
  std::shared_ptr<const served_model> model;
  std::uint32_t rows = 0;
  std::vector<float> values;
  clock_type::time_point accepted;
  std::optional<clock_type::time_point> deadline;
};

/// A reply on its way out: the routing frames and the encoded map.
struct outgoing {
  envelope route;
  std::string body;
};

/// A worker's scratch, reused batch after batch.
struct worker_buffers {
  std::vector<float> raw, features, outputs;
  std::vector<std::int32_t> labels;
  std::vector<std::optional<std::string>> unusable; ///< per job; empty: all usable
  std::vector<outgoing> done;
};

/// Latency histogram with 5% wide buckets from 1 us to ~5 minutes.
class latency_histogram {
public:
  void add(std::chrono::nanoseconds d) {
    const double us = std::max(1.0, static_cast<double>(d.count()) / 1e3);
    auto i = static_cast<std::size_t>(std::log(us) / std::log(growth));
    ++counts_[std::min(i, counts_.size() - 1)];
    ++total_;
  }
  /// Upper bound of the bucket holding quantile q, in milliseconds.
  double quantile_ms(double q) const {
    if (total_ == 0)
      return 0;
    const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want)
        return std::pow(growth, static_cast<double>(i + 1)) / 1e3;
    }
    return std::pow(growth, static_cast<double>(counts_.size())) / 1e3;
  }

private:
  static constexpr double growth = 1.05;
  std::array<std::uint64_t, 400> counts_{};
  std::uint64_t total_ = 0;
};

/// Sends a routed reply without blocking; false when ZeroMQ refused it: its queue for the
/// peer is full (EAGAIN), or the peer has disconnected (EHOSTUNREACH; the ROUTER is in
/// mandatory mode, so both say so instead of dropping silently). A client leaving while
/// its request is computed is ordinary, never a failure of the server.
bool send_frames(zmq::socket_t& socket, envelope& route, const std::string& body) {
  try {
    for (auto& frame : route)
      if (!socket.send(frame, zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        return false;
    return socket.send(zmq::buffer(body), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH)
      return false;
    throw;
  }
}

/// Server threads take no asynchronous signals (the process's handlers run elsewhere),
/// so that a signal never interrupts a ZeroMQ call there. Faults stay deliverable.
void block_signals() {
  sigset_t set;
  sigfillset(&set);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    sigdelset(&set, fault);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

} // namespace

struct server::impl {
  impl(server_options o, std::shared_ptr<model_catalog> c)
      : options(std::move(o)), catalog(std::move(c)) {
    options.workers = std::max(1, options.workers);
    options.max_batch = std::max<std::uint32_t>(1, options.max_batch);
    options.max_queue = std::max<std::size_t>(1, options.max_queue);
    per_client_cap = std::max<std::size_t>(1, options.max_queue / 2);
  }
  ~impl() {
    if (wake_fd >= 0)
      ::close(wake_fd);
  }

  server_options options;
  std::shared_ptr<model_catalog> catalog;
  std::size_t per_client_cap = 1;

  zmq::context_t context{1};
  std::optional<zmq::socket_t> router;
  std::string bound;
  std::thread front_end;
  std::vector<std::thread> workers;
  std::atomic<bool> running{false};

  // The queue, and the batch-forming role (one worker at a time waits for a batch to
  // fill; the others compute meanwhile).
  std::mutex queue_mutex;
  std::condition_variable queue_changed;
  std::deque<job> queue;
  std::unordered_map<std::string, std::size_t> queued_by_client;
  bool forming = false;
  bool stopping = false;
  int idle_workers = 0; ///< workers waiting for a batch to form (not computing)
  /// The batch being formed: its model, and its rows plus those of that model queued
  /// since (so that the front end can tell when it is full).
  const served_model* forming_model = nullptr;
  std::uint64_t forming_rows = 0;
  clock_type::time_point last_arrival;

  // Replies from workers: appended here, then the front end is woken through an
  // eventfd it polls beside the ROUTER (one syscall per batch, no socket per worker).
  std::mutex outbox_mutex;
  std::vector<outgoing> outbox;
  int wake_fd = -1;

  // The front end's own compute state, for requests it computes inline.
  std::vector<job> front_end_batch;
  compute::predict_workspace front_end_workspace;
  worker_buffers front_end_buffers;

  // Counters (front end and workers); the histogram under its own lock.
  std::atomic<std::uint64_t> requests{0}, ok{0}, rows{0}, batches{0}, dropped{0};
  std::array<std::atomic<std::uint64_t>, wire::error_code_count> errors{};
  mutable std::mutex latency_mutex;
  latency_histogram latency;
  mutable std::mutex failure_mutex;
  std::optional<std::string> failure;

  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(failure_mutex);
    if (!failure)
      failure = what;
  }

  // ---- front end ---------------------------------------------------------------------

  void run_front_end() {
    block_signals();
    try {
      wire::request req;
      std::string reply;
      std::vector<outgoing> sending;
      zmq::pollitem_t items[] = {{router->handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, wake_fd, ZMQ_POLLIN, 0}};
      while (running.load(std::memory_order_relaxed)) {
        zmq::poll(items, 2, poll_interval);
        if (items[1].revents & ZMQ_POLLIN)
          send_replies(sending);
        if (items[0].revents & ZMQ_POLLIN)
          for (int i = 0; i < front_end_burst && receive_request(req, reply); ++i) {
          }
      }
    } catch (const std::exception& e) {
      // Only the sockets themselves fail here (a request's own failure is answered
      // `internal` in receive_request); supervision restarts the step.
      fail(std::string("front end: ") + e.what());
    }
  }

  /// Sends what the workers finished (front-end thread only).
  void send_replies(std::vector<outgoing>& sending) {
    std::uint64_t signals = 0;
    if (::read(wake_fd, &signals, sizeof signals) < 0 && errno != EAGAIN)
      throw std::runtime_error(std::string("reading the reply eventfd: ") + std::strerror(errno));
    {
      std::lock_guard<std::mutex> lock(outbox_mutex);
      sending.swap(outbox);
    }
    for (auto& o : sending)
      send(o.route, o.body);
    sending.clear();
  }

  /// Hands finished replies to the front end (any worker thread).
  void post_replies(std::vector<outgoing>& done) {
    if (done.empty())
      return;
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(outbox_mutex);
      was_empty = outbox.empty();
      for (auto& o : done)
        outbox.push_back(std::move(o));
    }
    done.clear();
    if (was_empty) { // otherwise a wake-up is already pending
      const std::uint64_t one = 1;
      if (::write(wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        throw std::runtime_error(std::string("writing the reply eventfd: ") + std::strerror(errno));
    }
  }

  /// Handles one message from the ROUTER; false when none was waiting.
  bool receive_request(wire::request& req, std::string& reply) {
    envelope route;
    zmq::message_t part;
    if (!router->recv(part, zmq::recv_flags::dontwait))
      return false;
    std::size_t frames = 1;
    while (part.more()) {
      route.push_back(std::move(part));
      part = zmq::message_t();
      if (!router->recv(part, zmq::recv_flags::none))
        return true;
      if (++frames > max_frames) { // not protocol v1: drain and drop
        while (part.more() && router->recv(part, zmq::recv_flags::none)) {
        }
        return true;
      }
    }
    if (route.empty())
      return true;
    requests.fetch_add(1, std::memory_order_relaxed);
    const auto accepted = clock_type::now();
    std::string_view body(static_cast<const char*>(part.data()), part.size());
    auto error = wire::decode_request(body, options.limits, req);
    if (error) {
      answer_error(route, error->id, error->code, error->message, reply);
      return true;
    }
    try {
      serve(route, accepted, req, reply);
    } catch (const zmq::error_t&) {
      throw; // the socket itself: not this request's fault
    } catch (const std::exception& e) {
      // Whatever went wrong (the registry unreadable, memory), it is this request's
      // answer, and the front end goes on serving the others.
      answer_error(route, req.id, wire::error_code::internal, e.what(), reply);
    }
    return true;
  }

  /// Answers or enqueues one decoded request.
  void serve(envelope& route, clock_type::time_point accepted, wire::request& req, std::string& reply) {
    switch (req.op) {
      case wire::request_op::health:
        wire::encode_health_reply(req.id, reply);
        ok.fetch_add(1, std::memory_order_relaxed);
        send(route, reply);
        return;
      case wire::request_op::models:
        wire::encode_models_reply(req.id, catalog->list(), reply);
        ok.fetch_add(1, std::memory_order_relaxed);
        send(route, reply);
        return;
      case wire::request_op::predict:
        break;
    }
    auto found = catalog->find(req.model, req.version);
    if (!found.model) {
      answer_error(route, req.id, found.code, found.message, reply);
      return;
    }
    if (req.columns != found.model->input_width()) {
      answer_error(route, req.id, wire::error_code::shape_mismatch,
                   "model '" + req.model + "' version " + std::to_string(found.model->version) +
                     " takes rows of " + std::to_string(found.model->input_width()) +
                     " values; got " + std::to_string(req.columns),
                   reply);
      return;
    }
    job j;
    j.client.assign(static_cast<const char*>(route.front().data()), route.front().size());
    j.route = std::move(route);
    j.id = req.id;
    j.model = std::move(found.model);
    j.rows = req.rows;
    j.values.swap(req.values);
    j.accepted = accepted;
    // Beyond max_deadline_ms a deadline cannot expire in practice (and adding it to a
    // time point would overflow): clients use huge values to mean "none".
    if (req.deadline_ms && *req.deadline_ms < max_deadline_ms)
      j.deadline = accepted + std::chrono::milliseconds(*req.deadline_ms);
    if (!enqueue(j, reply)) {
      // Nothing to batch it with and nobody busy (see enqueue): computing it here saves
      // the two thread hand-offs (about half the latency of a lone small request), and
      // keeps the front end from its socket only for a few microseconds.
      front_end_batch.clear();
      front_end_batch.push_back(std::move(j));
      compute(front_end_batch, front_end_workspace, front_end_buffers);
      for (auto& o : front_end_buffers.done)
        send(o.route, o.body);
      front_end_buffers.done.clear();
    }
  }

  /// Sends a reply (front-end thread only). A client whose ZeroMQ queue is full (it has
  /// not read 10,000 replies) loses it: counted as dropped, never blocking the others.
  void send(envelope& route, const std::string& body) {
    if (!send_frames(*router, route, body))
      dropped.fetch_add(1, std::memory_order_relaxed);
  }

  /// Another message has arrived on the ROUTER already.
  bool more_waiting() {
    return (router->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
  }

  /// Queues `j` (moving from it), or answers it `overloaded`. Returns false, leaving `j`
  /// as it was, when the front end should rather compute it at once: it has at most
  /// inline_rows rows, and nothing is queued, forming, computing or waiting on the
  /// socket (under load this never holds, and it costs no lock of its own).
  bool enqueue(job& j, std::string& reply) {
    {
      std::lock_guard<std::mutex> lock(queue_mutex);
      if (j.rows <= inline_rows && queue.empty() && !forming &&
          idle_workers == options.workers && !more_waiting())
        return false;
      auto& mine = queued_by_client[j.client];
      if (queue.size() < options.max_queue && mine < per_client_cap) {
        ++mine;
        queue.push_back(std::move(j));
        last_arrival = clock_type::now();
        // Wake someone only when it changes what a worker would do: a worker can start
        // a batch, or the batch being formed may now be full. A forming worker wakes
        // on its own when the arrivals pause (see next_batch).
        if (forming && queue.back().model.get() == forming_model)
          forming_rows += queue.back().rows;
        if ((!forming && idle_workers > 0) || (forming && forming_rows >= options.max_batch))
          queue_changed.notify_all();
        return true;
      }
      if (mine == 0)
        queued_by_client.erase(j.client);
    }
    answer_error(j.route, j.id, wire::error_code::overloaded,
                 "the server's queue is full (" + std::to_string(options.max_queue) +
                   " requests, at most " + std::to_string(per_client_cap) +
                   " per client); retry later",
                 reply);
    return true;
  }

  void answer_error(envelope& route, std::uint64_t id, wire::error_code code, const std::string& message,
                    std::string& reply) {
    errors[static_cast<std::size_t>(code)].fetch_add(1, std::memory_order_relaxed);
    wire::encode_error_reply(id, code, message, reply);
    send(route, reply);
  }

  // ---- workers -----------------------------------------------------------------------

  /// Takes the next batch: waiting jobs of one model version, up to max_batch rows,
  /// waiting for more until max_delay after the oldest was accepted. Empty: stop.
  std::vector<job> next_batch() {
    std::vector<job> batch;
    std::unique_lock<std::mutex> lock(queue_mutex);
    ++idle_workers;
    if (forming) // the forming worker stops waiting: this one can take what comes next
      queue_changed.notify_all();
    queue_changed.wait(lock, [&] { return stopping || (!forming && !queue.empty()); });
    --idle_workers;
    if (stopping)
      return batch;
    forming = true;
    const served_model* model = queue.front().model.get();
    std::uint32_t rows = 0;
    const auto until = queue.front().accepted + options.max_delay;
    // Waiting for more rows pays only while every other worker is busy: an idle one
    // would compute the next batch at once. And arrivals come in bursts (clients answer
    // replies with new requests): once no request has come for a quarter of max_delay,
    // the burst is over and waiting longer only adds latency.
    const auto gap = options.max_delay / 4;
    for (;;) {
      for (auto it = queue.begin(); it != queue.end() && rows < options.max_batch;) {
        if (it->model.get() == model && (rows == 0 || rows + it->rows <= options.max_batch)) {
          rows += it->rows;
          release_client_slot(it->client);
          batch.push_back(std::move(*it));
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      forming_model = model;
      forming_rows = rows; // the front end adds what it queues for this model from here
      const auto now = clock_type::now();
      const auto wake = std::min(until, last_arrival + gap);
      if (rows >= options.max_batch || options.max_delay.count() == 0 || stopping ||
          idle_workers > 0 || now >= wake)
        break;
      queue_changed.wait_until(lock, wake);
    }
    forming = false;
    forming_model = nullptr;
    forming_rows = 0;
    if (!queue.empty() && idle_workers > 0)
      queue_changed.notify_all();
    return batch;
  }

  void release_client_slot(const std::string& client) {
    auto c = queued_by_client.find(client);
    if (c != queued_by_client.end() && --c->second == 0)
      queued_by_client.erase(c);
  }

  void run_worker() {
    block_signals();
    compute::predict_workspace workspace;
    worker_buffers buffers;
    try {
      for (;;) {
        auto batch = next_batch();
        if (batch.empty())
          return;
        compute(batch, workspace, buffers);
        post_replies(buffers.done);
      }
    } catch (const std::exception& e) {
      fail(std::string("worker: ") + e.what());
    }
  }

  /// Computes one batch; its replies go to `b.done`.
  void compute(std::vector<job>& batch, compute::predict_workspace& ws, worker_buffers& b) {
    const auto now = clock_type::now();
    std::vector<job*> live;
    live.reserve(batch.size());
    for (auto& j : batch) {
      if (j.deadline && now > *j.deadline) {
        errors[static_cast<std::size_t>(wire::error_code::deadline_exceeded)].fetch_add(1);
        const auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - j.accepted).count();
        b.done.push_back({std::move(j.route), {}});
        wire::encode_error_reply(j.id, wire::error_code::deadline_exceeded,
                     "waited " + std::to_string(waited) + " ms, past its deadline",
                     b.done.back().body);
      } else {
        live.push_back(&j);
      }
    }
    if (live.empty())
      return;
    const served_model& m = *live.front()->model;
    const std::uint32_t in = m.input_width(), width = m.output_width();
    std::uint32_t total = 0;
    for (auto* j : live)
      total += j->rows;
    try {
      b.raw.resize(static_cast<std::size_t>(total) * in);
      std::size_t at = 0;
      for (auto* j : live) {
        std::copy(j->values.begin(), j->values.end(), b.raw.begin() + static_cast<std::ptrdiff_t>(at));
        at += j->values.size();
      }
      m.features.build(b.raw.data(), total, b.features);
      find_unusable(m, live, total, b);
      b.outputs.resize(static_cast<std::size_t>(total) * width);
      m.net.predict(b.features.data(), static_cast<int>(total), b.outputs.data(), ws);
      if (m.classifier) {
        b.labels.resize(total);
        for (std::uint32_t r = 0; r < total; ++r)
          b.labels[r] = label_of(b.outputs.data() + static_cast<std::size_t>(r) * width, width);
      }
    } catch (const std::exception& e) {
      for (auto* j : live) {
        errors[static_cast<std::size_t>(wire::error_code::internal)].fetch_add(1);
        b.done.push_back({std::move(j->route), {}});
        wire::encode_error_reply(j->id, wire::error_code::internal, std::string("computing failed: ") + e.what(),
                     b.done.back().body);
      }
      return;
    }
    batches.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t first = 0, computed = 0;
    std::size_t answered = 0;
    for (std::size_t k = 0; k < live.size(); ++k) {
      auto* j = live[k];
      b.done.push_back({std::move(j->route), {}});
      if (!b.unusable.empty() && b.unusable[k]) {
        // Its rows were computed with the others (rows never mix), but are garbage.
        errors[static_cast<std::size_t>(wire::error_code::bad_request)].fetch_add(1);
        wire::encode_error_reply(j->id, wire::error_code::bad_request, *b.unusable[k],
                                 b.done.back().body);
      } else {
        wire::encode_prediction_reply(j->id, m.name, m.version,
                          b.outputs.data() + static_cast<std::size_t>(first) * width, j->rows, width,
                          m.classifier ? b.labels.data() + first : nullptr, b.done.back().body);
        computed += j->rows;
        ++answered;
      }
      first += j->rows;
    }
    rows.fetch_add(computed, std::memory_order_relaxed);
    ok.fetch_add(answered, std::memory_order_relaxed);
    const auto done = clock_type::now();
    std::lock_guard<std::mutex> lock(latency_mutex);
    for (std::size_t k = 0; k < live.size(); ++k)
      if (b.unusable.empty() || !b.unusable[k])
        latency.add(done - live[k]->accepted);
  }

  /// Fills `b.unusable` (one entry per live job, the reason its rows cannot be computed)
  /// when some value of the batch is NaN or infinite and the model cannot use it; leaves
  /// it empty when every value is usable (one pass over the batch: the common case).
  static void find_unusable(const served_model& m, const std::vector<job*>& live,
                            std::uint32_t total, worker_buffers& b) {
    b.unusable.clear();
    if (!m.features.find_unusable(b.raw.data(), b.features.data(), total))
      return;
    b.unusable.resize(live.size());
    std::size_t first = 0;
    for (std::size_t k = 0; k < live.size(); ++k) {
      b.unusable[k] = m.features.find_unusable(b.raw.data() + first * m.input_width(),
                                               b.features.data() + first * m.features.feature_width(),
                                               live[k]->rows);
      first += live[k]->rows;
    }
  }

  /// Binary classifiers answer P(class 1) in one column: label 1 from 0.5 up.
  static std::int32_t label_of(const float* p, std::uint32_t width) {
    if (width == 1)
      return p[0] >= 0.5f ? 1 : 0;
    return static_cast<std::int32_t>(std::max_element(p, p + width) - p);
  }
};

server::server(server_options options, std::shared_ptr<model_catalog> catalog)
    : impl_(std::make_unique<impl>(std::move(options), std::move(catalog))) {}

server::~server() { stop(); }

void server::start() {
  auto& s = *impl_;
  if (s.running)
    return;
  if (s.options.endpoint.rfind("inproc://", 0) == 0)
    throw std::runtime_error("cannot bind " + s.options.endpoint +
                             ": the server has its own ZeroMQ context, which no client can "
                             "share; use tcp:// or ipc://");
  s.router.emplace(s.context, zmq::socket_type::router);
  s.router->set(zmq::sockopt::linger, 0);
  // Replies queued per client before ZeroMQ refuses more: enough for a client that sends
  // a burst before reading. Mandatory routing makes a refusal visible (counted as
  // dropped) instead of silent.
  s.router->set(zmq::sockopt::sndhwm, 10000);
  s.router->set(zmq::sockopt::router_mandatory, 1);
  s.router->set(zmq::sockopt::maxmsgsize,
                static_cast<std::int64_t>(s.options.limits.max_bytes) * 2);
  try {
    s.router->bind(s.options.endpoint);
  } catch (const zmq::error_t& e) {
    s.router.reset();
    throw std::runtime_error("cannot bind " + s.options.endpoint + ": " + e.what());
  }
  s.bound = s.router->get(zmq::sockopt::last_endpoint);
  if (s.wake_fd < 0) {
    s.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s.wake_fd < 0) {
      s.router.reset();
      throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    }
  }
  s.stopping = false;
  s.running = true;
  for (int i = 0; i < s.options.workers; ++i)
    s.workers.emplace_back([&s] { s.run_worker(); });
  s.front_end = std::thread([&s] { s.run_front_end(); });
}

void server::stop() {
  auto& s = *impl_;
  if (!s.running.exchange(false))
    return;
  // The front end first (nothing is enqueued after it), then the workers; whatever is
  // still queued is dropped unanswered (the server is going away).
  if (s.front_end.joinable())
    s.front_end.join();
  {
    std::lock_guard<std::mutex> lock(s.queue_mutex);
    s.stopping = true;
  }
  s.queue_changed.notify_all();
  for (auto& w : s.workers)
    w.join();
  s.workers.clear();
  s.queue.clear();
  s.queued_by_client.clear();
  s.forming = false;
  s.forming_rows = 0;
  s.router.reset();
  s.outbox.clear();
}

std::string server::endpoint() const { return impl_->bound; }

server_stats server::stats() const {
  auto& s = *impl_;
  server_stats out;
  out.requests = s.requests.load();
  out.ok = s.ok.load();
  for (std::size_t i = 0; i < out.errors.size(); ++i)
    out.errors[i] = s.errors[i].load();
  out.rows = s.rows.load();
  out.batches = s.batches.load();
  out.dropped = s.dropped.load();
  {
    std::lock_guard<std::mutex> lock(s.queue_mutex);
    out.queued = s.queue.size();
  }
  std::lock_guard<std::mutex> lock(s.latency_mutex);
  out.latency_p50_ms = s.latency.quantile_ms(0.50);
  out.latency_p99_ms = s.latency.quantile_ms(0.99);
  return out;
}

std::optional<std::string> server::failure() const {
  std::lock_guard<std::mutex> lock(impl_->failure_mutex);
  return impl_->failure;
}

} // namespace conveyor::serving
