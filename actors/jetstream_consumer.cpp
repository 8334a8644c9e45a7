#include "actors/jetstream_consumer.hpp"

#include "step/step.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace conveyor {

namespace {

/// Messages stay unacknowledged while batches travel to the sinks; redelivery to a
/// running holder would only be skipped, so the wait is long (a restart does not wait
/// on it: opening recreates the consumer).
constexpr std::int64_t ack_wait_ns = 300'000'000'000LL;
/// What travels is bounded by the edges' credits, not by the server.
constexpr std::int64_t max_ack_pending = 1'000'000;
constexpr std::int64_t api_wait_ms = 5000;
constexpr std::int64_t ack_wait_ms = 1000;

} // namespace

namespace {

/// The leases of this process: held keys and how many wait on each.
struct lease_table {
  std::mutex mutex;
  std::condition_variable released;
  std::set<std::string> held;
  std::map<std::string, std::size_t> waiting;
};

lease_table& leases() {
  static lease_table table;
  return table;
}

} // namespace

std::string consumer_lease::key_of(const jetstream_target& target) {
  return target.url + " stream '" + target.stream + "' durable '" + target.durable + "'";
}

bool consumer_lease::acquire(const std::string& key, std::chrono::milliseconds patience,
                             const std::function<bool()>& stop) {
  auto& t = leases();
  std::unique_lock<std::mutex> lock(t.mutex);
  const auto deadline = std::chrono::steady_clock::now() + patience;
  ++t.waiting[key];
  while (t.held.count(key) > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || (stop && stop()))
      break;
    t.released.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(20)));
  }
  if (--t.waiting[key] == 0)
    t.waiting.erase(key);
  if (!t.held.insert(key).second)
    return false;
  key_ = key;
  return true;
}

void consumer_lease::release() {
  if (key_.empty())
    return;
  auto& t = leases();
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    t.held.erase(key_);
  }
  key_.clear();
  t.released.notify_all();
}

std::size_t consumer_lease::waiting(const std::string& key) {
  auto& t = leases();
  std::lock_guard<std::mutex> lock(t.mutex);
  const auto i = t.waiting.find(key);
  return i == t.waiting.end() ? 0 : i->second;
}

void jetstream_consumer::message_deleter::operator()(__natsMsg* m) const {
  natsMsg_Destroy(m);
}

jetstream_consumer::jetstream_consumer(jetstream_target target, std::int64_t connect_timeout_ms)
    : target_(std::move(target)), connect_timeout_ms_(connect_timeout_ms) {
  connect(connect_timeout_ms, true);
  bind();
}

jetstream_consumer::~jetstream_consumer() {
  unsubscribe();
  jsCtx_Destroy(js_);
  if (connection_ != nullptr) {
    natsConnection_FlushTimeout(connection_, 2000);
    natsConnection_Destroy(connection_);
  }
}

bool jetstream_consumer::connect(std::int64_t timeout_ms, bool throw_unreachable) {
  natsOptions* options = nullptr;
  auto s = natsOptions_Create(&options);
  if (s == NATS_OK)
    s = natsOptions_SetURL(options, target_.url.c_str());
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(options, std::max<std::int64_t>(timeout_ms, 1));
  if (s == NATS_OK)
    s = natsOptions_SetAllowReconnect(options, false);
  if (s == NATS_OK)
    s = natsConnection_Connect(&connection_, options);
  natsOptions_Destroy(options);
  if (s != NATS_OK) {
    connection_ = nullptr;
    if (throw_unreachable || s != NATS_NO_SERVER)
      fail("cannot connect", s, 0);
    return false;
  }
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = api_wait_ms;
  s = natsConnection_JetStream(&js_, connection_, &js_options);
  if (s != NATS_OK)
    fail("cannot open a JetStream context", s, 0);
  return true;
}

void jetstream_consumer::disconnect() {
  unsubscribe();
  jsCtx_Destroy(js_);
  js_ = nullptr;
  natsConnection_Destroy(connection_);
  connection_ = nullptr;
}

std::string jetstream_consumer::describe() const {
  return target_.url + " stream '" + target_.stream + "' durable '" + target_.durable + "'";
}

void jetstream_consumer::fail(const std::string& what, int status, int js_error) const {
  std::string text = natsStatus_GetText(static_cast<natsStatus>(status));
  if (js_error == JSStreamNotFoundErr)
    text = "no such stream";
  else if (js_error != 0)
    text += " (JetStream error " + std::to_string(js_error) + ")";
  throw step_failure("nats_source: " + what + " (" + describe() + "): " + text);
}

void jetstream_consumer::unsubscribe() {
  if (subscription_ == nullptr)
    return;
  natsSubscription_Unsubscribe(subscription_); // the durable consumer stays
  natsSubscription_Destroy(subscription_);
  subscription_ = nullptr;
}

void jetstream_consumer::bind() {
  next_delivery_ = 1;
  ack_floor_ = 0;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  jsConsumerInfo* info = nullptr;
  auto s = js_GetConsumerInfo(&info, js_, target_.stream.c_str(), target_.durable.c_str(),
                              nullptr, &js_error);
  if (s == NATS_OK) {
    ack_floor_ = info->AckFloor.Stream;
    jsConsumerInfo_Destroy(info);
    s = js_DeleteConsumer(js_, target_.stream.c_str(), target_.durable.c_str(), nullptr,
                          &js_error);
    if (s != NATS_OK)
      fail("cannot reset the durable consumer to its acknowledged floor", s, js_error);
  } else if (s != NATS_NOT_FOUND || js_error == JSStreamNotFoundErr) {
    fail("cannot read the durable consumer", s, js_error);
  }
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = target_.durable.c_str();
  config.AckPolicy = js_AckAll;
  config.AckWait = ack_wait_ns;
  config.MaxAckPending = max_ack_pending;
  config.FilterSubject = target_.subject.c_str();
  if (ack_floor_ > 0) {
    config.DeliverPolicy = js_DeliverByStartSequence;
    config.OptStartSeq = ack_floor_ + 1;
  } else {
    config.DeliverPolicy = js_DeliverAll;
  }
  s = js_AddConsumer(&info, js_, target_.stream.c_str(), &config, nullptr, &js_error);
  if (s != NATS_OK)
    fail("cannot create the durable consumer", s, js_error);
  jsConsumerInfo_Destroy(info);
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = target_.stream.c_str();
  sub_options.Consumer = target_.durable.c_str();
  s = js_PullSubscribe(&subscription_, js_, target_.subject.c_str(), target_.durable.c_str(),
                       nullptr, &sub_options, &js_error);
  if (s != NATS_OK)
    fail("cannot subscribe to the durable consumer", s, js_error);
}

std::vector<jetstream_consumer::message> jetstream_consumer::fetch(int max,
                                                                   std::int64_t wait_ms) {
  std::vector<message> out;
  if (connection_ == nullptr) {
    // Lost earlier: one attempt per call, so the caller polls its drain flag between them.
    auto start = std::chrono::steady_clock::now();
    if (!connect(std::min(wait_ms, connect_timeout_ms_), false)) {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(wait_ms));
      return out;
    }
    ++reconnects_;
    confirm_acks_ = true;
    bind();
  }
  natsMsgList list{nullptr, 0};
  jsErrCode js_error = static_cast<jsErrCode>(0);
  auto s = natsSubscription_Fetch(&list, subscription_, max, wait_ms, &js_error);
  if (s == NATS_TIMEOUT)
    return out;
  if (s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED || s == NATS_IO_ERROR
      || s == NATS_NO_SERVER || natsConnection_IsClosed(connection_)) {
    natsMsgList_Destroy(&list);
    disconnect(); // the next call connects again
    return out;
  }
  if (s != NATS_OK)
    fail("cannot fetch messages", s, js_error);
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    message m;
    m.msg.reset(list.Msgs[i]);
    list.Msgs[i] = nullptr;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m.msg.get()) != NATS_OK)
      continue; // not a JetStream delivery (a status message): nothing to consume
    m.stream_sequence = meta->Sequence.Stream;
    auto delivery = meta->Sequence.Consumer;
    jsMsgMetaData_Destroy(meta);
    if (delivery != next_delivery_) {
      // Deliveries went elsewhere: read again from the floor (what is kept here is
      // contiguous, and comes again too).
      ++resets_;
      unsubscribe();
      bind();
      break;
    }
    ++next_delivery_;
    m.data = natsMsg_GetData(m.msg.get());
    m.size = static_cast<std::size_t>(natsMsg_GetDataLength(m.msg.get()));
    out.push_back(std::move(m));
  }
  natsMsgList_Destroy(&list);
  return out;
}

void jetstream_consumer::acknowledge_through(const message& m) {
  if (connection_ == nullptr)
    fail("cannot acknowledge stream sequence " + std::to_string(m.stream_sequence)
           + ": the connection is lost (the message comes again after reconnecting)",
         NATS_CONNECTION_CLOSED, 0);
  if (!confirm_acks_) {
    natsMsg_Ack(m.msg.get(), nullptr);
    return;
  }
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = ack_wait_ms;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  auto s = natsMsg_AckSync(m.msg.get(), &options, &js_error);
  if (s != NATS_OK) {
    // The server is slow or gone: later acknowledgements go out without waiting, so
    // that a drain is not held up by one wait per batch.
    confirm_acks_ = false;
    fail("cannot acknowledge stream sequence " + std::to_string(m.stream_sequence), s, js_error);
  }
}

} // namespace conveyor
