#include "serving/server.hpp"

#include "serving/thread_signals.hpp"
#include "serving/zap_handler.hpp"

#include <zmq.hpp>

#include <algorithm>
#include <cerrno>
#include <new>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

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
/// How often the front end forgets clients that have nothing waiting or unread.
constexpr auto sweep_interval = std::chrono::seconds(1);
/// Requests of at most this many rows that find nothing queued and no batch forming are
/// computed by the front end itself (see enqueue).
constexpr std::uint32_t inline_rows = 4;
/// Batches are computed in chunks of at most about this many rows, each chunk's replies
/// sent (or handed to the front end) before the next is computed, so that the first
/// replies of a large batch do not wait for all of it, and each forward pass stays within
/// the predict kernel's range (compute/cpu/dense_kernel.hpp: up to 128 rows). Up to 64
/// rows, a batch's replies leave together: each hand-over of replies wakes ZeroMQ's I/O
/// thread and then the client's (one context switch each, several microseconds on a VM),
/// and a client that reads every reply waiting before it sends more answers one burst at
/// once. Measured on 2 cores at 32 and 128 requests in flight, nine alternating pairs
/// (medians): chunks of 12 rows (the earlier value) took 0.27 context switches and 17.6 us
/// of server CPU per request, one piece 0.16 and 14.6 us, with more req/s in 8 pairs.
constexpr std::uint32_t chunk_rows = 64;
/// Value buffers of requests the front end computed, kept to decode the next requests
/// into (no allocation, no zero-filling): at most this many, of at most spare_floats
/// floats each (1 MiB in all).
constexpr std::size_t max_spare_buffers = 64;
constexpr std::size_t spare_floats = 4096;
/// Deadlines from this many milliseconds on (about 11.6 days) are treated as none.
constexpr std::uint64_t max_deadline_ms = 1'000'000'000;

/// What a waiting request costs besides its values and its reply (the job, its routing
/// frames), so that many tiny requests count too.
constexpr std::size_t job_overhead_bytes = 256;

/// The most a waiting request will cost until it is answered: its values, then its reply
/// (an output is at most 5 bytes encoded; a row's array header and label at most 10; the
/// map around them about 100 besides the model's name), and the job itself.
std::size_t cost_of(std::size_t values, std::uint32_t rows, std::uint32_t outputs,
                    std::size_t name_bytes) {
  const std::size_t reply = std::size_t{rows} * (std::size_t{outputs} * 5 + 10) + 128 + name_bytes;
  return values * sizeof(float) + reply + job_overhead_bytes;
}

/// Reply bytes ZeroMQ holds for all clients together. Shared (not a member of the
/// server) because ZeroMQ's I/O thread gives bytes back until its context is gone.
struct unread_totals {
  std::atomic<std::int64_t> bytes{0};
  std::atomic<std::int64_t> clients{0}; ///< clients holding some (may dip below 0 briefly)
};

struct client_state;

/// An accepted predict request.
struct job {
  envelope route;
  std::shared_ptr<client_state> client;
  std::uint64_t id = 0;
  std::shared_ptr<const served_model> model;
  std::uint32_t rows = 0;
  std::vector<float> values;
  clock_type::time_point accepted;
  std::optional<clock_type::time_point> deadline;
  std::size_t cost = 0; ///< cost_of(...): what it counts for in the queue's byte bound
};

/// One connection (a ROUTER identity): its waiting requests, and the bytes of its replies
/// that ZeroMQ has not yet written to its socket. Kept by the front end's table, by the
/// jobs and replies of that client, and by the ring while it has requests waiting.
struct client_state {
  explicit client_state(std::shared_ptr<unread_totals> t) : totals(std::move(t)) {}

  /// Replies handed to ZeroMQ and not yet written out: what a client that does not read
  /// makes the server hold (the kernel's socket buffers come first, and are not counted).
  std::atomic<std::int64_t> unread{0};
  std::shared_ptr<unread_totals> totals;

  // Under the queue mutex:
  std::deque<job> waiting;
  std::size_t waiting_bytes = 0; ///< sum of the waiting jobs' cost
  bool in_ring = false;

  void charge(std::size_t n) {
    const auto bytes = static_cast<std::int64_t>(n);
    if (unread.fetch_add(bytes, std::memory_order_relaxed) == 0)
      totals->clients.fetch_add(1, std::memory_order_relaxed);
    totals->bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  void release(std::size_t n) {
    const auto bytes = static_cast<std::int64_t>(n);
    if (unread.fetch_sub(bytes, std::memory_order_relaxed) == bytes)
      totals->clients.fetch_sub(1, std::memory_order_relaxed);
    totals->bytes.fetch_sub(bytes, std::memory_order_relaxed);
  }
};

/// A reply's bytes as handed to ZeroMQ: one allocation with the client it is charged to,
/// made where the reply is encoded. The front end charges it to the client as it hands it
/// to ZeroMQ, which calls `release` (from its I/O thread, or from a failed send) once the
/// bytes are written to the socket or dropped; the client gets them back then.
struct reply_block {
  std::shared_ptr<client_state> client;
  std::size_t size = 0;

  char* data() { return reinterpret_cast<char*>(this + 1); }

  static reply_block* create(std::shared_ptr<client_state> client, std::string_view body) {
    void* memory = ::operator new(sizeof(reply_block) + body.size());
    auto* block = new (memory) reply_block{std::move(client), body.size()};
    std::memcpy(block->data(), body.data(), body.size());
    return block;
  }
  static void release(void*, void* hint) {
    auto* block = static_cast<reply_block*>(hint);
    block->client->release(block->size);
    destroy(block);
  }
  static void destroy(reply_block* block) {
    block->~reply_block();
    ::operator delete(block);
  }
  /// For a reply never handed to ZeroMQ (the server stopped first): nothing was charged.
  struct discard {
    void operator()(reply_block* block) const { destroy(block); }
  };
};

/// A reply on its way out: the routing frames and the encoded reply with its client.
struct outgoing {
  envelope route;
  std::unique_ptr<reply_block, reply_block::discard> reply;
};

/// A worker's scratch, reused batch after batch.
struct worker_buffers {
  std::vector<job*> live; ///< the batch's jobs still within their deadline
  std::vector<float> features, outputs;
  std::vector<std::int32_t> labels;
  std::vector<std::optional<std::string>> unusable; ///< per job; empty: all usable
  std::string encoded;    ///< the reply being encoded
  std::vector<outgoing> done;
  /// The thread's own backend (server_options::compute_backend); null: the model's.
  std::unique_ptr<compute::backend> device;
  /// The metrics series of the model computed last (looked up again when it changes):
  /// no lock per chunk while one model is served.
  std::string metrics_model;
  metrics::counter* ok_metric = nullptr;
  metrics::histogram* latency_metric = nullptr;

  /// Files the reply just encoded (in `encoded`) for `j`, taking its route and client.
  void answer(job& j) {
    done.push_back({std::move(j.route),
                    std::unique_ptr<reply_block, reply_block::discard>(
                      reply_block::create(std::move(j.client), encoded))});
  }
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
bool send_frames(zmq::socket_t& socket, envelope& route, zmq::message_t& body) {
  try {
    for (auto& frame : route)
      if (!socket.send(frame, zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        return false;
    return socket.send(body, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH)
      return false;
    throw;
  }
}

} // namespace

struct server::impl {
  impl(server_options o, std::shared_ptr<model_catalog> c)
      : options(std::move(o)), catalog(std::move(c)) {
    options.workers = std::max(1, options.workers);
    options.max_batch = std::max<std::uint32_t>(1, options.max_batch);
    options.max_queue = std::max<std::size_t>(1, options.max_queue);
  }
  ~impl() {
    if (wake_fd >= 0)
      ::close(wake_fd);
  }

  server_options options;
  std::shared_ptr<model_catalog> catalog;
  server_metrics* metrics = options.metrics.get();
  conveyor::metrics::counter* unnamed_ok =
    metrics ? &metrics->requests.with({metrics->step, "", "ok"}) : nullptr;
  std::shared_ptr<unread_totals> unread = std::make_shared<unread_totals>();

  zmq::context_t context{1};
  std::unique_ptr<zap_handler> zap; ///< with options.curve
  std::optional<zmq::socket_t> router;
  std::string bound;
  std::thread front_end;
  std::vector<std::thread> workers;
  std::atomic<bool> running{false};

  /// Every client the front end has heard from and not yet forgotten (front end only).
  std::unordered_map<std::string, std::shared_ptr<client_state>> clients;
  clock_type::time_point last_sweep;

  // The queue: one per client, served round robin (the ring holds the clients with
  // requests waiting, in turn order; it may also hold clients emptied since the last
  // batch, which the forming worker drops). And the batch-forming role: one worker at a
  // time waits for a batch to fill; the others compute meanwhile. Idle workers wait on
  // `work_ready` and are woken one at a time (`worker_woken`: one is on its way to form
  // the next batch), the forming worker on `batch_ready`: a wake-up reaches only a thread
  // that has something to do (each costs a context switch).
  std::mutex queue_mutex;
  std::condition_variable work_ready, batch_ready;
  bool worker_woken = false;
  std::vector<std::shared_ptr<client_state>> ring, ring_scratch;
  std::size_t waiting_count = 0, waiting_bytes = 0;
  std::size_t active_clients = 0; ///< clients with requests waiting
  std::vector<job> shed;          ///< the front end's scratch: requests it sheds
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

  // The front end's own batch (see enqueue): small requests that found nothing queued and
  // no batch forming, gathered while it reads the socket and computed by it once nothing
  // more is waiting there; and its compute state.
  std::vector<job> front_end_batch;
  std::uint32_t front_end_rows = 0;
  std::size_t front_end_bytes = 0; ///< its jobs' cost: at most max_queue_bytes, as a worker's batch
  std::vector<std::vector<float>> spare_values; ///< see max_spare_buffers
  worker_buffers front_end_buffers;
  compute::predict_workspace front_end_workspace; // after: its memory is the buffers' device's

  // Counters (front end and workers); the histogram under its own lock.
  std::atomic<std::uint64_t> requests{0}, ok{0}, rows{0}, batches{0}, dropped{0}, unread_refused{0},
    shed_count{0};
  std::atomic<std::size_t> computing{0};
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
      last_sweep = clock_type::now();
      while (running.load(std::memory_order_relaxed)) {
        zmq::poll(items, 2, poll_interval);
        if (items[1].revents & ZMQ_POLLIN)
          send_replies(sending);
        if (items[0].revents & ZMQ_POLLIN) {
          for (int i = 0; i < front_end_burst && receive_request(req, reply); ++i) {
          }
          compute_front_end_batch();
        }
        sweep_clients();
      }
    } catch (const std::exception& e) {
      // Only the sockets themselves fail here (a request's own failure is answered
      // `internal` in receive_request); supervision restarts the step.
      fail(std::string("front end: ") + e.what());
    }
  }

  /// Forgets clients nothing refers to but this table: nothing waiting, nothing in a
  /// batch, no reply in ZeroMQ (each of those holds a reference). Nobody else can take
  /// a new reference meanwhile: only the front end looks clients up.
  void sweep_clients() {
    const auto now = clock_type::now();
    if (now - last_sweep < sweep_interval)
      return;
    last_sweep = now;
    for (auto it = clients.begin(); it != clients.end();)
      it = it->second.use_count() == 1 ? clients.erase(it) : std::next(it);
  }

  /// The state of the client whose identity frame is `identity` (front end only).
  const std::shared_ptr<client_state>& client_of(const zmq::message_t& identity) {
    auto [it, inserted] =
      clients.try_emplace(std::string(static_cast<const char*>(identity.data()), identity.size()));
    if (inserted)
      it->second = std::make_shared<client_state>(unread);
    return it->second;
  }

  /// False for a client that is not reading its replies: ZeroMQ holds more than
  /// max_unread_bytes of them, or more than its share of max_total_unread_bytes while
  /// all clients together hold more than that.
  bool reading(const client_state& c) const {
    const auto mine = c.unread.load(std::memory_order_relaxed);
    if (mine <= 0)
      return true;
    if (static_cast<std::uint64_t>(mine) > options.max_unread_bytes)
      return false;
    const auto total = unread->bytes.load(std::memory_order_relaxed);
    if (static_cast<std::uint64_t>(total) <= options.max_total_unread_bytes)
      return true;
    const auto holders = std::max<std::int64_t>(1, unread->clients.load(std::memory_order_relaxed));
    return static_cast<std::uint64_t>(mine) <= options.max_total_unread_bytes / static_cast<std::uint64_t>(holders);
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
      send(o.route, o.reply.release());
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
    const auto& client = client_of(route.front());
    if (!reading(*client)) {
      // Its replies would only pile up in the server: it gets none until it reads.
      unread_refused.fetch_add(1, std::memory_order_relaxed);
      if (metrics)
        metrics->unread_refused.add();
      return true;
    }
    const auto accepted = clock_type::now();
    std::string_view body(static_cast<const char*>(part.data()), part.size());
    if (req.values.capacity() == 0 && !spare_values.empty()) { // the last one went to a job
      req.values.swap(spare_values.back());
      spare_values.pop_back();
    }
    auto error = wire::decode_request(body, options.limits, req);
    if (error) {
      answer_error(route, client, error->id, error->code, error->message, reply);
      return true;
    }
    try {
      serve(route, client, accepted, req, reply);
    } catch (const zmq::error_t&) {
      throw; // the socket itself: not this request's fault
    } catch (const std::exception& e) {
      // Whatever went wrong (the registry unreadable, memory), it is this request's
      // answer, and the front end goes on serving the others.
      answer_error(route, client, req.id, wire::error_code::internal, e.what(), reply);
    }
    return true;
  }

  /// Answers or enqueues one decoded request.
  void serve(envelope& route, const std::shared_ptr<client_state>& client,
             clock_type::time_point accepted, wire::request& req, std::string& reply) {
    switch (req.op) {
      case wire::request_op::health:
        wire::encode_health_reply(req.id, reply);
        count_unnamed_ok();
        send(route, client, reply);
        return;
      case wire::request_op::models:
        wire::encode_models_reply(req.id, catalog->list(), reply);
        count_unnamed_ok();
        send(route, client, reply);
        return;
      case wire::request_op::predict:
        break;
    }
    auto found = select_by_key(catalog->find(req.model, req.version), req.key);
    if (!found.model) {
      answer_error(route, client, req.id, found.code, found.message, reply);
      return;
    }
    if (req.columns != found.model->input_width()) {
      answer_error(route, client, req.id, wire::error_code::shape_mismatch,
                   "model '" + req.model + "' version " + std::to_string(found.model->version) +
                     " takes rows of " + std::to_string(found.model->input_width()) +
                     " values; got " + std::to_string(req.columns),
                   reply, found.model->name);
      return;
    }
    job j;
    j.route = std::move(route);
    j.client = client;
    j.id = req.id;
    j.model = std::move(found.model);
    j.rows = req.rows;
    j.values.swap(req.values);
    j.cost = cost_of(j.values.size(), j.rows, j.model->output_width(), j.model->name.size());
    if (j.cost > options.max_queue_bytes) {
      // It could never be queued, whatever the load: its size is the problem.
      answer_error(j.route, client, j.id, wire::error_code::too_large,
                   "this request would hold " + std::to_string(j.cost) +
                     " bytes while it waits (its values and its reply); the server holds at "
                     "most " + std::to_string(options.max_queue_bytes),
                   reply, j.model->name);
      return;
    }
    j.accepted = accepted;
    // Beyond max_deadline_ms a deadline cannot expire in practice (and adding it to a
    // time point would overflow): clients use huge values to mean "none".
    if (req.deadline_ms && *req.deadline_ms < max_deadline_ms)
      j.deadline = accepted + std::chrono::milliseconds(*req.deadline_ms);
    if (!enqueue(j, reply)) { // the front end's own batch (see enqueue)
      front_end_rows += j.rows;
      front_end_bytes += j.cost;
      front_end_batch.push_back(std::move(j));
      computing.fetch_add(1, std::memory_order_relaxed);
    }
  }

  /// Computes and answers the front end's own batch, once the socket has nothing more
  /// waiting (or a burst's worth has been read).
  void compute_front_end_batch() {
    auto& b = front_end_buffers;
    compute_in_chunks(front_end_batch, front_end_workspace, b, [&](job* first, job* last) {
      for (auto& o : b.done)
        send(o.route, o.reply.release());
      b.done.clear();
      for (job* j = first; j != last; ++j)
        if (spare_values.size() < max_spare_buffers && j->values.capacity() <= spare_floats)
          spare_values.push_back(std::move(j->values));
      computing.fetch_sub(static_cast<std::size_t>(last - first), std::memory_order_relaxed);
    });
    front_end_batch.clear();
    front_end_rows = 0;
    front_end_bytes = 0;
  }

  /// Sends a reply (front-end thread only), its bytes charged to `client` until ZeroMQ
  /// has written them out. A reply ZeroMQ refuses (the client has left, or its queue is
  /// full: 10,000 replies unread) is dropped and counted, never blocking the others.
  void send(envelope& route, const std::shared_ptr<client_state>& client, std::string_view body) {
    send(route, reply_block::create(client, body));
  }
  void send(envelope& route, reply_block* block) {
    block->client->charge(block->size);
    zmq::message_t message(block->data(), block->size, &reply_block::release, block);
    if (!send_frames(*router, route, message))
    {
      dropped.fetch_add(1, std::memory_order_relaxed);
      if (metrics)
        metrics->dropped.add();
    }
  }

  /// Queues `j` (moving from it), or answers it `overloaded`. Returns false, leaving `j`
  /// as it was, when the front end should rather compute it itself: it has at most
  /// inline_rows rows, nothing is queued and no worker is forming a batch (workers may
  /// be computing theirs), and it fits the front end's own batch (same model version, at
  /// most max_batch rows and, like a worker's batch taken from the queue, at most
  /// max_queue_bytes of cost). That batch gathers the small requests read off the socket and
  /// is computed once nothing more is waiting there: nothing else could have joined it,
  /// and computing it on the front end saves two thread hand-offs (a wake-up of a worker,
  /// then of the front end for the replies). A request that finds others queued or a
  /// batch forming, or that does not fit, is queued: the workers take over.
  ///
  /// At the bounds (max_queue requests, max_queue_bytes) the request is refused when its
  /// client would then hold more than its share (the bound over the clients with requests
  /// waiting, this one included); within its share, it is admitted and the newest request
  /// of the client holding the most is shed instead (that client is over its share).
  bool enqueue(job& j, std::string& reply) {
    bool refused = false;
    {
      std::lock_guard<std::mutex> lock(queue_mutex);
      if (j.rows <= inline_rows && waiting_count == 0 && !forming &&
          (front_end_batch.empty() || (front_end_batch.front().model == j.model &&
                                       front_end_rows + j.rows <= options.max_batch &&
                                       front_end_bytes + j.cost <= options.max_queue_bytes)))
        return false;
      auto& c = *j.client;
      const std::size_t cost = j.cost;
      for (;;) {
        const bool by_count = waiting_count + 1 > options.max_queue;
        const bool by_bytes = waiting_bytes + cost > options.max_queue_bytes;
        if (!by_count && !by_bytes)
          break;
        const std::size_t active = active_clients + (c.waiting.empty() ? 1 : 0);
        const bool over_share = by_count ? (c.waiting.size() + 1) * active > options.max_queue
                                         : (c.waiting_bytes + cost) * active > options.max_queue_bytes;
        client_state* victim = over_share ? nullptr : heaviest(by_count);
        if (victim == nullptr || victim == &c) {
          refused = true;
          break;
        }
        shed.push_back(take_newest(*victim));
      }
      if (!refused) {
        if (c.waiting.empty())
          ++active_clients;
        if (!c.in_ring) {
          c.in_ring = true;
          ring.push_back(j.client);
        }
        ++waiting_count;
        waiting_bytes += cost;
        c.waiting_bytes += cost;
        c.waiting.push_back(std::move(j));
        last_arrival = clock_type::now();
        const auto& queued = c.waiting.back();
        // Wake someone only when it changes what a worker would do: a worker can start
        // a batch, or the batch being formed may now be full. A forming worker wakes
        // on its own when the arrivals pause (see next_batch).
        if (forming && queued.model.get() == forming_model)
          forming_rows += queued.rows;
        if (!forming)
          wake_idle_worker();
        else if (forming_rows >= options.max_batch)
          batch_ready.notify_one();
      }
    }
    shed_count.fetch_add(shed.size(), std::memory_order_relaxed);
    if (metrics && !shed.empty())
      metrics->shed.add(static_cast<double>(shed.size()));
    for (auto& victim : shed)
      answer_error(victim.route, victim.client, victim.id, wire::error_code::overloaded,
                   "shed: the server's queue filled up and this client held the most of it; "
                   "retry later",
                   reply, victim.model->name);
    shed.clear();
    if (refused)
      answer_error(j.route, j.client, j.id, wire::error_code::overloaded,
                   "the server's queue is full (" + std::to_string(options.max_queue) +
                     " requests, " + std::to_string(options.max_queue_bytes) +
                     " bytes) and this client holds its share of it; retry later",
                   reply, j.model->name);
    return true;
  }

  /// The client with the most waiting (requests or bytes); queue mutex held.
  client_state* heaviest(bool by_count) const {
    client_state* best = nullptr;
    std::size_t most = 0;
    for (const auto& c : ring) {
      const std::size_t held = by_count ? c->waiting.size() : c->waiting_bytes;
      if (held > most) {
        most = held;
        best = c.get();
      }
    }
    return best;
  }

  /// Removes and returns `c`'s newest waiting request; queue mutex held.
  job take_newest(client_state& c) {
    job j = std::move(c.waiting.back());
    c.waiting.pop_back();
    unqueue(c, j);
    if (forming && j.model.get() == forming_model)
      forming_rows -= std::min<std::uint64_t>(forming_rows, j.rows);
    return j;
  }

  /// Bookkeeping for a job that left `c`'s queue; queue mutex held.
  void unqueue(client_state& c, const job& j) {
    --waiting_count;
    waiting_bytes -= j.cost;
    c.waiting_bytes -= j.cost;
    if (c.waiting.empty())
      --active_clients;
  }

  /// Answers an error, counted under `model` (a served model's name; empty when the
  /// request resolved none).
  void answer_error(envelope& route, const std::shared_ptr<client_state>& client, std::uint64_t id,
                    wire::error_code code, const std::string& message, std::string& reply,
                    const std::string& model = {}) {
    count_error(model, code, 1);
    wire::encode_error_reply(id, code, message, reply);
    send(route, client, reply);
  }

  void count_error(const std::string& model, wire::error_code code, std::size_t n) {
    errors[static_cast<std::size_t>(code)].fetch_add(n, std::memory_order_relaxed);
    if (metrics)
      metrics->count(model, std::string(wire::to_string(code)), static_cast<double>(n));
  }

  /// `health` and `models` replies (counted under no model).
  void count_unnamed_ok() {
    ok.fetch_add(1, std::memory_order_relaxed);
    if (unnamed_ok)
      unnamed_ok->add();
  }


  // ---- workers -----------------------------------------------------------------------

  /// Takes the next batch: waiting jobs of one model version, up to max_batch rows,
  /// taken round robin across clients (one request per client per round), starting with
  /// the client whose turn it is; waits for more until max_delay after the first was
  /// accepted. Empty: stop.
  std::vector<job> next_batch() {
    std::vector<job> batch;
    std::unique_lock<std::mutex> lock(queue_mutex);
    ++idle_workers;
    if (forming) // the forming worker stops waiting: this one can take what comes next
      batch_ready.notify_one();
    work_ready.wait(lock, [&] { return stopping || (!forming && waiting_count > 0); });
    --idle_workers;
    if (stopping)
      return batch;
    forming = true;
    worker_woken = false;
    std::size_t first = 0;
    while (ring[first]->waiting.empty()) // emptied by shedding since the last batch
      ++first;
    const job& oldest = ring[first]->waiting.front();
    const served_model* model = oldest.model.get();
    const auto until = oldest.accepted + options.max_delay;
    std::uint32_t rows = 0;
    std::size_t last = first;
    // Waiting for more rows pays only while every other worker is busy: an idle one
    // would compute the next batch at once. And arrivals come in bursts (clients answer
    // replies with new requests): once no request has come for a quarter of max_delay,
    // the burst is over and waiting longer only adds latency.
    const auto gap = options.max_delay / 4;
    for (;;) {
      take_round_robin(model, first, rows, last, batch);
      forming_model = model;
      forming_rows = rows; // the front end adds what it queues for this model from here
      const auto now = clock_type::now();
      const auto wake = std::min(until, last_arrival + gap);
      if (rows >= options.max_batch || options.max_delay.count() == 0 || stopping ||
          idle_workers > 0 || now >= wake)
        break;
      batch_ready.wait_until(lock, wake);
    }
    forming = false;
    forming_model = nullptr;
    forming_rows = 0;
    next_turn(last + 1);
    if (waiting_count > 0)
      wake_idle_worker();
    return batch;
  }

  /// Wakes one idle worker to form the next batch, unless one is already on its way (or
  /// none is idle: the next to finish will find the queue). Queue mutex held, not forming.
  void wake_idle_worker() {
    if (idle_workers > 0 && !worker_woken) {
      worker_woken = true;
      work_ready.notify_one();
    }
  }

  /// Adds to `batch` the waiting requests for `model` at the heads of the clients' queues,
  /// in rounds over the ring from `first`, one per client per round, until max_batch rows
  /// or a round takes nothing; `last` becomes the index of the last client taken from.
  /// Queue mutex held.
  void take_round_robin(const served_model* model, std::size_t first, std::uint32_t& rows,
                        std::size_t& last, std::vector<job>& batch) {
    for (bool took = true; took && rows < options.max_batch;) {
      took = false;
      const std::size_t n = ring.size(); // the front end may have appended clients
      for (std::size_t k = 0; k < n && rows < options.max_batch; ++k) {
        const std::size_t i = (first + k) % n;
        auto& c = *ring[i];
        if (c.waiting.empty())
          continue;
        auto& head = c.waiting.front();
        if (head.model.get() != model || (rows > 0 && rows + head.rows > options.max_batch))
          continue;
        rows += head.rows;
        batch.push_back(std::move(head));
        c.waiting.pop_front();
        unqueue(c, batch.back());
        computing.fetch_add(1, std::memory_order_relaxed);
        last = i;
        took = true;
      }
    }
  }

  /// Rotates the ring so that the client at `next` (modulo its size) has the next turn,
  /// and drops the clients with nothing waiting. Queue mutex held.
  void next_turn(std::size_t next) {
    const std::size_t n = ring.size();
    ring_scratch.clear();
    for (std::size_t k = 0; k < n; ++k) {
      auto& c = ring[(next + k) % n];
      if (c->waiting.empty())
        c->in_ring = false;
      else
        ring_scratch.push_back(std::move(c));
    }
    ring.swap(ring_scratch);
    ring_scratch.clear();
  }

  void run_worker(std::unique_ptr<compute::backend> device) {
    block_signals();
    worker_buffers buffers;
    buffers.device = std::move(device);
    compute::predict_workspace workspace; // after: its memory is the device's
    try {
      for (;;) {
        auto batch = next_batch();
        if (batch.empty())
          return;
        compute_in_chunks(batch, workspace, buffers, [&](job* first, job* last) {
          post_replies(buffers.done);
          computing.fetch_sub(static_cast<std::size_t>(last - first), std::memory_order_relaxed);
        });
      }
    } catch (const std::exception& e) {
      fail(std::string("worker: ") + e.what());
    }
  }

  /// Computes `batch` (one model version) chunk by chunk (chunk_rows rows each), calling
  /// `deliver(first, last)` with each chunk's jobs once its replies are in `b.done`.
  /// Counts one batch (the `batches` metric) if any of it was computed.
  template <class Deliver>
  void compute_in_chunks(std::vector<job>& batch, compute::predict_workspace& ws,
                         worker_buffers& b, Deliver&& deliver) {
    bool computed = false;
    for (std::size_t from = 0; from < batch.size();) {
      std::size_t to = from;
      for (std::uint32_t rows = 0; to < batch.size() && rows < chunk_rows; ++to)
        rows += batch[to].rows;
      computed |= compute(batch.data() + from, batch.data() + to, ws, b);
      deliver(batch.data() + from, batch.data() + to);
      from = to;
    }
    if (computed)
      batches.fetch_add(1, std::memory_order_relaxed);
  }

  /// Computes the jobs [first, last) (one model version) in one forward pass; their
  /// replies go to `b.done`, taking the jobs' routes and clients. False when none was
  /// computed (all past their deadlines, or computing failed).
  bool compute(job* first, job* last, compute::predict_workspace& ws, worker_buffers& b) {
    const auto now = clock_type::now();
    auto& live = b.live;
    live.clear();
    for (job* it = first; it != last; ++it) {
      job& j = *it;
      if (j.deadline && now > *j.deadline) {
        count_error(j.model->name, wire::error_code::deadline_exceeded, 1);
        const auto waited =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - j.accepted).count();
        wire::encode_error_reply(j.id, wire::error_code::deadline_exceeded,
                     "waited " + std::to_string(waited) + " ms, past its deadline",
                     b.encoded);
        b.answer(j);
      } else {
        live.push_back(&j);
      }
    }
    if (live.empty())
      return false;
    const served_model& m = *live.front()->model;
    const std::uint32_t width = m.output_width();
    std::uint32_t total = 0;
    for (auto* j : live)
      total += j->rows;
    try {
      // Each request's rows go straight from its values to the batch's features.
      const std::size_t feature_width = m.features.feature_width();
      b.features.resize(static_cast<std::size_t>(total) * feature_width);
      std::size_t at = 0;
      for (auto* j : live) {
        m.features.build(j->values.data(), j->rows, b.features.data() + at * feature_width);
        at += j->rows;
      }
      find_unusable(m, live, b);
      b.outputs.resize(static_cast<std::size_t>(total) * width);
      if (b.device)
        m.net.predict(b.features.data(), static_cast<int>(total), b.outputs.data(), ws, *b.device);
      else
        m.net.predict(b.features.data(), static_cast<int>(total), b.outputs.data(), ws);
      if (m.classifier) {
        b.labels.resize(total);
        for (std::uint32_t r = 0; r < total; ++r)
          b.labels[r] = label_of(b.outputs.data() + static_cast<std::size_t>(r) * width, width);
      }
    } catch (const std::exception& e) {
      for (auto* j : live) {
        count_error(m.name, wire::error_code::internal, 1);
        wire::encode_error_reply(j->id, wire::error_code::internal, std::string("computing failed: ") + e.what(),
                     b.encoded);
        b.answer(*j);
      }
      return false;
    }
    std::uint32_t row = 0, computed = 0; // row: the job's first in the batch
    std::size_t answered = 0;
    for (std::size_t k = 0; k < live.size(); ++k) {
      auto* j = live[k];
      if (!b.unusable.empty() && b.unusable[k]) {
        // Its rows were computed with the others (rows never mix), but are garbage.
        count_error(m.name, wire::error_code::bad_request, 1);
        wire::encode_error_reply(j->id, wire::error_code::bad_request, *b.unusable[k], b.encoded);
      } else {
        wire::encode_prediction_reply(j->id, m.name, m.version,
                          b.outputs.data() + static_cast<std::size_t>(row) * width, j->rows, width,
                          m.classifier ? b.labels.data() + row : nullptr, b.encoded);
        computed += j->rows;
        ++answered;
      }
      b.answer(*j);
      row += j->rows;
    }
    rows.fetch_add(computed, std::memory_order_relaxed);
    ok.fetch_add(answered, std::memory_order_relaxed);
    const auto done = clock_type::now();
    if (metrics) {
      if (!b.ok_metric || b.metrics_model != m.name) {
        b.metrics_model = m.name;
        b.ok_metric = &metrics->requests.with({metrics->step, m.name, "ok"});
        b.latency_metric = &metrics->latency_of(m.name);
      }
      b.ok_metric->add(static_cast<double>(answered));
      for (std::size_t k = 0; k < live.size(); ++k)
        if (b.unusable.empty() || !b.unusable[k])
          b.latency_metric->observe(std::chrono::duration<double>(done - live[k]->accepted).count());
    }
    std::lock_guard<std::mutex> lock(latency_mutex);
    for (std::size_t k = 0; k < live.size(); ++k)
      if (b.unusable.empty() || !b.unusable[k])
        latency.add(done - live[k]->accepted);
    return true;
  }

  /// Fills `b.unusable` (one entry per live job, the reason its rows cannot be computed)
  /// when some value of the batch is NaN or infinite and the model cannot use it; leaves
  /// it empty when every value is usable (one pass over the batch: the common case).
  static void find_unusable(const served_model& m, const std::vector<job*>& live,
                            worker_buffers& b) {
    b.unusable.clear();
    std::size_t first = 0;
    for (std::size_t k = 0; k < live.size(); ++k) {
      auto why = m.features.find_unusable(live[k]->values.data(),
                                          b.features.data() + first * m.features.feature_width(),
                                          live[k]->rows);
      if (why) {
        b.unusable.resize(live.size());
        b.unusable[k] = std::move(why);
      }
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
  if (s.options.curve && !s.zap) {
    // The handler first: a CURVE socket without one admits every client.
    auto zap = std::make_unique<zap_handler>(s.context, s.options.curve->allowed_clients,
                                             s.metrics ? &s.metrics->refused_handshakes : nullptr);
    zap->start();
    s.zap = std::move(zap);
  }
  s.router.emplace(s.context, zmq::socket_type::router);
  s.router->set(zmq::sockopt::linger, 0);
  if (s.options.curve) {
    const auto& secret = s.options.curve->secret_key;
    s.router->set(zmq::sockopt::curve_server, 1);
    s.router->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret.data(), secret.size()));
    s.router->set(zmq::sockopt::zap_domain, "conveyor");
  }
  // Replies queued per client before ZeroMQ refuses more: a backstop in messages (a
  // client that does not read is stopped by max_unread_bytes first, unless its replies
  // are tiny). Mandatory routing makes a refusal visible (counted as dropped) instead of
  // silent.
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
  // Every computing thread's backend before any thread starts (making one may fail).
  std::vector<std::unique_ptr<compute::backend>> devices(static_cast<std::size_t>(s.options.workers));
  if (s.options.compute_backend) {
    try {
      if (!s.front_end_buffers.device)
        s.front_end_buffers.device = s.options.compute_backend();
      for (auto& d : devices)
        d = s.options.compute_backend();
    } catch (...) {
      s.router.reset();
      throw;
    }
  }
  s.stopping = false;
  s.running = true;
  for (int i = 0; i < s.options.workers; ++i)
    s.workers.emplace_back(
      [&s, d = std::move(devices[static_cast<std::size_t>(i)])]() mutable { s.run_worker(std::move(d)); });
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
  s.work_ready.notify_all();
  s.batch_ready.notify_all();
  for (auto& w : s.workers)
    w.join();
  s.workers.clear();
  for (auto& c : s.ring)
    c->waiting.clear(); // (its jobs refer to it)
  for (auto& [identity, c] : s.clients)
    c->waiting.clear();
  s.ring.clear();
  s.clients.clear();
  s.waiting_count = s.waiting_bytes = s.active_clients = 0;
  s.forming = s.worker_woken = false;
  s.forming_rows = 0;
  s.computing.fetch_sub(s.front_end_batch.size()); // left by a front end that failed
  s.front_end_batch.clear();
  s.front_end_rows = 0;
  s.front_end_bytes = 0;
  s.spare_values.clear();
  s.outbox.clear();
  s.router.reset();
  if (s.zap) {
    s.zap->stop();
    s.zap.reset();
  }
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
  out.unread_refused = s.unread_refused.load();
  out.shed = s.shed_count.load();
  out.refused_handshakes = s.zap ? s.zap->refused() : 0;
  out.unread_bytes = static_cast<std::size_t>(std::max<std::int64_t>(0, s.unread->bytes.load()));
  {
    // computing grows under the lock as the queue shrinks: read together, they add up.
    std::lock_guard<std::mutex> lock(s.queue_mutex);
    out.queued = s.waiting_count;
    out.queued_bytes = s.waiting_bytes;
    out.computing = s.computing.load();
  }
  std::lock_guard<std::mutex> lock(s.latency_mutex);
  out.latency_p50_ms = s.latency.quantile_ms(0.50);
  out.latency_p99_ms = s.latency.quantile_ms(0.99);
  return out;
}

std::vector<std::string> server::take_newly_refused() {
  return impl_->zap ? impl_->zap->take_newly_refused() : std::vector<std::string>{};
}

std::optional<std::string> server::failure() const {
  if (impl_->zap)
    if (auto f = impl_->zap->failure())
      return f;
  std::lock_guard<std::mutex> lock(impl_->failure_mutex);
  return impl_->failure;
}

} // namespace conveyor::serving
