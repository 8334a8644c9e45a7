// The inference server against real ZeroMQ peers on 127.0.0.1.
#include "serving/server.hpp"

#include "serving/registry.hpp"
#include "serving_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <malloc.h>

using namespace conveyor;
using namespace conveyor::serving;
using namespace conveyor::wire;
using namespace conveyor::serving::testing;
namespace fs = std::filesystem;

namespace {

struct running_server {
  explicit running_server(server_options o = {}, std::string registry_root = {})
      : catalog(std::make_shared<model_catalog>(std::move(registry_root))) {
    o.endpoint = "tcp://127.0.0.1:*";
    srv = std::make_unique<server>(o, catalog);
  }
  std::string start() {
    srv->start();
    return srv->endpoint();
  }
  zmq::context_t ctx;
  std::shared_ptr<model_catalog> catalog;
  std::unique_ptr<server> srv;
};

const std::vector<std::vector<float>> two_rows{{2, 3, -1, 0.5f}, {0, 1, 4, -2}};

void check_close(const std::vector<std::vector<float>>& got, const std::vector<float>& want) {
  BOOST_REQUIRE_EQUAL(got.size() * 3, want.size());
  for (std::size_t r = 0; r < got.size(); ++r)
    for (std::size_t c = 0; c < 3; ++c)
      BOOST_TEST(got[r][c] == want[r * 3 + c], boost::test_tools::tolerance(1e-6f));
}

struct temp_dir {
  temp_dir() {
    path = fs::temp_directory_path() /
           ("conveyor_server_test_" + std::to_string(::getpid()) + "_" + std::to_string(++count));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
  static inline int count = 0;
};

/// One worker that holds a batch open (max_delay 8 s: two seconds without arrivals
/// before it closes), so that what comes meanwhile for another model waits in the queue.
/// Tests send requests of five rows (small ones finding the server idle would be
/// computed at once by the front end) and wait until stats().computing says the worker
/// holds one.
server_options holding_options(std::size_t max_queue) {
  server_options o;
  o.workers = 1;
  o.max_batch = 1000;
  o.max_delay = std::chrono::seconds(8);
  o.max_queue = max_queue;
  return o;
}

/// An mlp 4 -> 512 -> 512 -> 3 over x0..x3: a batch of a few rows takes a worker about a
/// millisecond, so that a flood keeps the queue full.
compute::model_artifact heavy_classifier() {
  compute::model_spec spec;
  spec.kind = "mlp";
  spec.layers = {4, 512, 512, 3};
  compute::model m(compute::validate(spec));
  auto a = compute::make_artifact(m);
  a.input_columns = a.feature_columns = {"x0", "x1", "x2", "x3"};
  return a;
}

/// The process's resident memory now, in bytes (Linux).
std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

void add_a_and_b(running_server& s) {
  s.catalog->add("a", 1, encoded(tiny_classifier(1)));
  s.catalog->add("b", 1, encoded(tiny_classifier(2)));
}

} // namespace

BOOST_AUTO_TEST_SUITE(inference_server)

BOOST_AUTO_TEST_CASE(answers_health_models_and_predictions_made_with_the_models_own_preprocessing) {
  running_server s;
  auto a = tiny_classifier();
  s.catalog->add("tiny", 3, encoded(a));
  auto endpoint = s.start();
  peer p(s.ctx, endpoint);

  auto health = p.call(request_builder().str("op", "health").uint("id", 1).bytes());
  BOOST_TEST(health.ok);
  BOOST_TEST(health.id == 1u);
  BOOST_TEST(health.status == "serving");

  auto models = p.call(request_builder().str("op", "models").uint("id", 2).bytes());
  BOOST_TEST(models.ok);
  BOOST_TEST(models.model_names == std::vector<std::string>{"tiny:3"});

  auto r = p.call(predict_request(3, "tiny", two_rows));
  BOOST_REQUIRE(r.ok);
  BOOST_TEST(r.id == 3u);
  BOOST_TEST(r.model == "tiny");
  BOOST_TEST(r.version == 3u);
  auto want = expected_outputs(a, {2, 3, -1, 0.5f, 0, 1, 4, -2}, 2);
  check_close(r.outputs, want);
  BOOST_REQUIRE_EQUAL(r.labels.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    auto best = std::max_element(want.begin() + static_cast<long>(i * 3),
                                 want.begin() + static_cast<long>(i * 3 + 3)) -
                (want.begin() + static_cast<long>(i * 3));
    BOOST_TEST(r.labels[i] == best);
  }
}

BOOST_AUTO_TEST_CASE(a_tensor_request_gets_the_same_answer_as_inputs) {
  running_server s;
  s.catalog->add("tiny", 1, encoded(tiny_classifier()));
  peer p(s.ctx, s.start());
  std::vector<float> flat{2, 3, -1, 0.5f, 0, 1, 4, -2};
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(5);
  pk.pack(std::string("op"));
  pk.pack(std::string("predict"));
  pk.pack(std::string("id"));
  pk.pack_uint64(9);
  pk.pack(std::string("model"));
  pk.pack(std::string("tiny"));
  pk.pack(std::string("tensor"));
  pk.pack_bin(static_cast<std::uint32_t>(flat.size() * 4));
  pk.pack_bin_body(reinterpret_cast<const char*>(flat.data()), static_cast<std::uint32_t>(flat.size() * 4));
  pk.pack(std::string("shape"));
  pk.pack(std::vector<std::uint32_t>{2, 4});
  auto tensor = p.call(std::string(buf.data(), buf.size()));
  auto rows = p.call(predict_request(10, "tiny", two_rows));
  BOOST_REQUIRE(tensor.ok);
  BOOST_REQUIRE(rows.ok);
  BOOST_TEST(tensor.outputs == rows.outputs);
}

BOOST_AUTO_TEST_CASE(every_error_code_is_answered_with_the_request_id) {
  temp_dir dir;
  registry reg(dir.path.string());
  reg.publish("tiny", encoded(tiny_classifier(1)));
  reg.publish("tiny", encoded(tiny_classifier(2)));
  // Version 2 exists but is damaged: a pinned request for it is the server's fault.
  {
    std::fstream f(reg.path_of("tiny", 2), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  reg.publish("tiny", encoded(tiny_classifier(3)));
  server_options o;
  o.limits.max_rows = 3;
  o.limits.max_bytes = 2048;
  running_server s(o, dir.path.string());
  BOOST_REQUIRE(s.catalog->load_latest().empty());
  peer p(s.ctx, s.start());

  auto junk = p.call("\xc1 not msgpack");
  BOOST_TEST(!junk.ok);
  BOOST_TEST(junk.code == "bad_request");
  BOOST_TEST(junk.id == 0u);

  auto no_op = p.call(request_builder().uint("id", 11).bytes());
  BOOST_TEST(no_op.code == "bad_request");
  BOOST_TEST(no_op.id == 11u);

  auto unknown = p.call(predict_request(12, "nope", two_rows));
  BOOST_TEST(unknown.code == "unknown_model");
  BOOST_TEST(unknown.message.find("nope") != std::string::npos);

  auto version = p.call(predict_request(13, "tiny", two_rows, 99));
  BOOST_TEST(version.code == "unknown_version");
  BOOST_TEST(version.message.find("latest 3") != std::string::npos);

  auto pinned_old = p.call(predict_request(14, "tiny", two_rows, 1));
  BOOST_TEST(pinned_old.ok);
  BOOST_TEST(pinned_old.version == 1u);

  auto damaged = p.call(predict_request(15, "tiny", two_rows, 2));
  BOOST_TEST(damaged.code == "internal");
  BOOST_TEST(damaged.id == 15u);

  auto shape = p.call(predict_request(16, "tiny", {{1, 2, 3}}));
  BOOST_TEST(shape.code == "shape_mismatch");
  BOOST_TEST(shape.message.find("4 values") != std::string::npos);

  auto rows = p.call(predict_request(17, "tiny", {{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}}));
  BOOST_TEST(rows.code == "too_large");
  BOOST_TEST(rows.id == 17u);

  auto big = request_builder().str("op", "health").uint("id", 18).str("padding", std::string(3000, 'x')).bytes();
  auto bytes = p.call(big);
  BOOST_TEST(bytes.code == "too_large");
  BOOST_TEST(bytes.id == 18u);

  auto latest = p.call(predict_request(19, "tiny", two_rows));
  BOOST_TEST(latest.ok);
  BOOST_TEST(latest.version == 3u);
}

BOOST_AUTO_TEST_CASE(nan_or_infinite_inputs_are_bad_requests_naming_row_and_column_unless_imputed) {
  running_server s;
  s.catalog->add("tiny", 1, encoded(tiny_classifier()));
  auto imputing = tiny_classifier();
  column_op impute;
  impute.op = column_op::kind::impute;
  impute.column = "x2";
  impute.a = 0.25;
  imputing.preprocessing.ops.push_back(impute);
  s.catalog->add("imputing", 1, encoded(imputing));
  peer p(s.ctx, s.start());
  const float nan = std::nanf(""), inf = std::numeric_limits<float>::infinity();

  auto missing = p.call(predict_request(1, "tiny", {{1, 2, 3, 4}, {1, 2, nan, 4}}));
  BOOST_TEST(missing.code == "bad_request");
  BOOST_TEST(missing.message.find("row 1, column 2 ('x2'): NaN") != std::string::npos, missing.message);
  auto infinite = p.call(predict_request(2, "tiny", {{1, -inf, 3, 4}}));
  BOOST_TEST(infinite.code == "bad_request");
  BOOST_TEST(infinite.message.find("row 0, column 1 ('x1'): -infinity") != std::string::npos,
             infinite.message);

  // Imputed: answered as if the fitted value had been sent.
  auto imputed = p.call(predict_request(3, "imputing", {{1, 2, nan, 4}}));
  auto filled = p.call(predict_request(4, "imputing", {{1, 2, 0.25f, 4}}));
  BOOST_REQUIRE(imputed.ok);
  BOOST_TEST(imputed.outputs == filled.outputs);

  // In one batch with good requests, only the bad one is refused.
  peer batch(s.ctx, s.srv->endpoint());
  for (std::uint64_t id = 10; id < 20; ++id)
    batch.send(predict_request(id, "tiny", {{1, 2, 3, id == 15 ? nan : 4.0f}}));
  for (int i = 0; i < 10; ++i) {
    auto r = batch.receive();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->ok == (r->id != 15), r->id << ": " << r->code);
  }
  BOOST_TEST(s.srv->stats().errors[static_cast<std::size_t>(error_code::bad_request)] == 3u);
}

BOOST_AUTO_TEST_CASE(a_full_queue_answers_overloaded_and_a_waiting_request_past_its_deadline_is_not_computed) {
  // Requests for model b wait in a queue of two while the worker holds a's batch.
  running_server s(holding_options(2));
  add_a_and_b(s);
  peer first(s.ctx, s.start());
  peer second(s.ctx, s.srv->endpoint());
  const std::vector<std::vector<float>> five_rows(5, std::vector<float>{1, 2, 3, 4});
  first.send(predict_request(1, "a", five_rows));
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().computing == 1; })); // the worker holds it
  request_builder late;
  late.str("op", "predict").uint("id", 2).str("model", "b").rows("inputs", five_rows).uint("deadline_ms", 20);
  second.send(late.bytes());
  for (std::uint64_t id = 3; id < 8; ++id)
    second.send(predict_request(id, "b", five_rows));
  std::map<std::uint64_t, reply> replies;
  for (int i = 0; i < 6; ++i) {
    auto r = second.receive();
    BOOST_REQUIRE(r);
    replies[r->id] = *r;
  }
  BOOST_TEST(replies.at(2).code == "deadline_exceeded");
  int overloaded = 0, served = 0;
  for (std::uint64_t id = 3; id < 8; ++id) {
    overloaded += replies.at(id).code == "overloaded";
    served += replies.at(id).ok;
  }
  BOOST_TEST(overloaded == 4); // the queue holds two
  BOOST_TEST(served == 1);
  auto a = first.receive();
  BOOST_REQUIRE(a);
  BOOST_TEST(a->ok);
  auto stats = s.srv->stats();
  BOOST_TEST(stats.errors[static_cast<std::size_t>(error_code::overloaded)] == static_cast<std::uint64_t>(overloaded));
  BOOST_TEST(stats.errors[static_cast<std::size_t>(error_code::deadline_exceeded)] == 1u);
}

BOOST_AUTO_TEST_CASE(a_new_version_swaps_in_under_load_without_failing_a_request) {
  server_options o;
  o.workers = 2;
  o.max_batch = 16;
  o.max_delay = std::chrono::microseconds(200);
  running_server s(o);
  s.catalog->add("m", 1, encoded(tiny_classifier(1)));
  auto endpoint = s.start();
  std::atomic<bool> swapped{false};
  std::atomic<int> failed{0};
  std::vector<std::vector<std::uint64_t>> versions(4);
  std::array<std::atomic<int>, 4> answered{};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      peer p(s.ctx, endpoint);
      std::uint64_t id = 0;
      int after_swap = 0;
      // 8 requests in flight per client until 200 replies have come after the swap.
      for (int k = 0; k < 8; ++k)
        p.send(predict_request(++id, "m", two_rows));
      while (after_swap < 200) {
        auto r = p.receive();
        if (!r || !r->ok) {
          ++failed;
          return;
        }
        versions[static_cast<std::size_t>(c)].push_back(r->version);
        ++answered[static_cast<std::size_t>(c)];
        if (swapped)
          ++after_swap;
        p.send(predict_request(++id, "m", two_rows));
      }
      for (int k = 0; k < 8; ++k)
        if (!p.receive())
          ++failed;
    });
  BOOST_REQUIRE(wait_until([&] { // every client is under way on version 1
    return std::all_of(answered.begin(), answered.end(), [](const auto& n) { return n >= 20; });
  }));
  s.catalog->add("m", 2, encoded(tiny_classifier(2)));
  swapped = true;
  for (auto& t : clients)
    t.join();
  BOOST_TEST(failed == 0);
  for (const auto& v : versions) {
    BOOST_REQUIRE(!v.empty());
    BOOST_TEST(v.front() == 1u);
    BOOST_TEST(v.back() == 2u);
    // Once a client has seen version 2, it never sees 1 again (requests accepted
    // after the swap resolve to 2; a reply out of order could only be in flight).
    auto first2 = std::find(v.begin(), v.end(), 2u);
    BOOST_TEST(std::count(first2 + std::min<long>(16, v.end() - first2), v.end(), 1u) == 0);
  }
  auto stats = s.srv->stats();
  BOOST_TEST(stats.errors[static_cast<std::size_t>(error_code::internal)] == 0u);
}

BOOST_AUTO_TEST_CASE(a_flood_and_an_oversized_message_do_not_stop_other_clients) {
  server_options o;
  o.max_queue = 64;
  o.limits.max_bytes = 4096; // ZeroMQ drops connections sending over 8 KiB
  running_server s(o);
  s.catalog->add("m", 1, encoded(tiny_classifier()));
  auto endpoint = s.start();
  peer flooder(s.ctx, endpoint), huge(s.ctx, endpoint), polite(s.ctx, endpoint);
  flooder.socket().set(zmq::sockopt::rcvhwm, 0); // it reads its replies only at the end
  for (std::uint64_t id = 1; id <= 1500; ++id)
    flooder.send(id % 3 == 0 ? std::string("\x92\x01") : predict_request(id, "m", two_rows));
  huge.send(request_builder().str("op", "health").uint("id", 1).str("padding", std::string(20000, 'x')).bytes());
  for (std::uint64_t id = 1; id <= 20; ++id) {
    auto r = polite.call(predict_request(id, "m", two_rows));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.id == id);
  }
  BOOST_TEST(!huge.receive(std::chrono::milliseconds(200))); // its connection was dropped
  std::map<std::string, int> codes;
  for (int i = 0; i < 1500; ++i) {
    auto r = flooder.receive();
    BOOST_REQUIRE(r);
    codes[r->ok ? "ok" : r->code]++;
  }
  BOOST_TEST(codes["bad_request"] == 500);
  BOOST_TEST(codes["ok"] + codes["overloaded"] == 1000);
  BOOST_TEST(codes["ok"] > 0);
  // The server still answers the dropped client once it reconnects with a sane message.
  auto after = huge.call(request_builder().str("op", "health").uint("id", 2).bytes());
  BOOST_TEST(after.ok);
}

BOOST_AUTO_TEST_CASE(concurrent_requests_are_computed_in_batches) {
  server_options o;
  o.workers = 1;
  o.max_batch = 64;
  o.max_delay = std::chrono::milliseconds(5);
  running_server s(o);
  s.catalog->add("m", 1, encoded(tiny_classifier()));
  peer p(s.ctx, s.start());
  for (std::uint64_t id = 1; id <= 64; ++id)
    p.send(predict_request(id, "m", {{1, 2, 3, 4}}));
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 64; ++i) {
    auto r = p.receive();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->ok);
    ids.insert(r->id);
  }
  BOOST_TEST(ids.size() == 64u);
  auto stats = s.srv->stats();
  BOOST_TEST(stats.rows == 64u);
  BOOST_TEST(stats.batches < 16u);
}

BOOST_AUTO_TEST_CASE(a_burst_of_small_requests_for_two_models_gets_every_answer_from_its_own_model) {
  // Small requests that find the workers idle are gathered into the front end's own
  // batch (one model version, at most max_batch rows); what does not fit goes to the
  // workers. Whatever the mix, each request is computed with its own model.
  server_options o;
  o.workers = 2;
  o.max_batch = 5;
  running_server s(o);
  add_a_and_b(s);
  const std::map<std::string, compute::model_artifact> artifacts{{"a", tiny_classifier(1)},
                                                                 {"b", tiny_classifier(2)}};
  peer p(s.ctx, s.start());
  std::map<std::uint64_t, std::pair<std::string, std::vector<std::vector<float>>>> sent;
  std::uint64_t total_rows = 0;
  for (std::uint64_t id = 1; id <= 60; ++id) {
    const std::string model = id % 3 == 0 ? "b" : "a";
    std::vector<std::vector<float>> rows;
    for (std::uint64_t r = 0; r < 1 + id % 2; ++r)
      rows.push_back({static_cast<float>(id), 1.5f, -static_cast<float>(r), 0.25f * static_cast<float>(id % 7)});
    total_rows += rows.size();
    p.send(predict_request(id, model, rows));
    sent[id] = {model, rows};
  }
  for (int i = 0; i < 60; ++i) {
    auto r = p.receive();
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_MESSAGE(r->ok, r->code + ": " + r->message);
    const auto& [model, rows] = sent.at(r->id);
    BOOST_TEST(r->model == model);
    std::vector<float> flat;
    for (const auto& row : rows)
      flat.insert(flat.end(), row.begin(), row.end());
    check_close(r->outputs, expected_outputs(artifacts.at(model), flat, static_cast<int>(rows.size())));
  }
  const auto stats = s.srv->stats();
  BOOST_TEST(stats.rows == total_rows);
  BOOST_TEST(stats.batches * o.max_batch >= total_rows); // no batch over max_batch rows
  BOOST_TEST(stats.computing == 0u);
}

BOOST_AUTO_TEST_CASE(batches_larger_than_a_chunk_answer_every_request_with_its_own_rows) {
  // max_batch 300: the front end's batch and the workers' batches hold more rows than a
  // chunk (64), so they are computed and answered chunk by chunk; requests of 1 to 3
  // rows, so chunk boundaries fall inside what a request would cross if it were split.
  server_options o;
  o.workers = 2;
  o.max_batch = 300;
  o.max_delay = std::chrono::milliseconds(20);
  running_server s(o);
  const auto artifact = tiny_classifier(3);
  s.catalog->add("m", 1, encoded(artifact));
  peer p(s.ctx, s.start());
  std::map<std::uint64_t, std::vector<float>> sent;
  std::uint64_t total_rows = 0;
  for (std::uint64_t id = 1; id <= 240; ++id) {
    std::vector<std::vector<float>> rows;
    for (std::uint64_t r = 0; r < 1 + id % 3; ++r)
      rows.push_back({static_cast<float>(id % 17), 0.5f * static_cast<float>(r), -1.25f,
                      static_cast<float>(id % 5)});
    total_rows += rows.size();
    p.send(predict_request(id, "m", rows));
    for (const auto& row : rows)
      sent[id].insert(sent[id].end(), row.begin(), row.end());
  }
  for (std::size_t i = 0; i < sent.size(); ++i) {
    auto r = p.receive();
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_MESSAGE(r->ok, r->code + ": " + r->message);
    const auto& flat = sent.at(r->id);
    check_close(r->outputs, expected_outputs(artifact, flat, static_cast<int>(flat.size() / 4)));
  }
  const auto stats = s.srv->stats();
  BOOST_TEST(stats.rows == total_rows);
  BOOST_TEST(stats.ok == sent.size());
  BOOST_TEST(stats.batches * o.max_batch >= total_rows); // no batch over max_batch rows
  BOOST_TEST(stats.computing == 0u);
}

BOOST_AUTO_TEST_CASE(a_batch_closes_as_soon_as_it_holds_max_batch_rows) {
  // max_delay 10 minutes (a quarter without arrivals: 2.5 minutes): only the full batch
  // can close it within the replies' 20 s.
  server_options o;
  o.workers = 1;
  o.max_batch = 10;
  o.max_delay = std::chrono::minutes(10);
  running_server s(o);
  s.catalog->add("m", 1, encoded(tiny_classifier()));
  peer p(s.ctx, s.start());
  const std::vector<std::vector<float>> five(5, std::vector<float>{1, 2, 3, 4});
  p.send(predict_request(1, "m", five));
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().computing == 1; })); // a batch forms
  p.send(predict_request(2, "m", five));
  for (int i = 0; i < 2; ++i) {
    auto r = p.receive(std::chrono::seconds(20));
    BOOST_REQUIRE(r);
    BOOST_TEST(r->ok);
  }
  BOOST_TEST(s.srv->stats().batches == 1u);
}

BOOST_AUTO_TEST_CASE(a_full_queue_refuses_a_client_over_its_share_and_sheds_the_heaviest_for_one_within_it) {
  // A queue of four fills with model b's requests while the only worker holds a's batch.
  running_server s(holding_options(4));
  add_a_and_b(s);
  auto endpoint = s.start();
  peer holder(s.ctx, endpoint), one(s.ctx, endpoint), two(s.ctx, endpoint), third(s.ctx, endpoint);
  const std::vector<std::vector<float>> five(5, std::vector<float>{1, 2, 3, 4});
  holder.send(predict_request(1, "a", five));
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().computing == 1; })); // the worker holds it
  for (std::uint64_t id = 1; id <= 3; ++id) // alone, one may take the whole queue
    one.send(predict_request(id, "b", five));
  two.send(predict_request(1, "b", five));
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().queued == 4; }));

  // Full. Two holds one of four, within its share of two: its request is admitted and
  // one's newest is shed.
  two.send(predict_request(2, "b", five));
  auto shed = one.receive();
  BOOST_REQUIRE(shed);
  BOOST_TEST(shed->id == 3u);
  BOOST_TEST(shed->code == "overloaded");
  BOOST_TEST(shed->message.find("shed") != std::string::npos, shed->message);
  // One now holds its share (two of four): another request of its own is refused.
  auto refused = one.call(predict_request(4, "b", five));
  BOOST_TEST(refused.code == "overloaded");
  BOOST_TEST(refused.message.find("queue is full") != std::string::npos, refused.message);
  BOOST_TEST(s.srv->stats().queued == 4u);

  // A third client's first request is within its share too (4 / 3): admitted, shedding
  // the newest request of one of the two holding the most. A huge deadline is none.
  request_builder forever;
  forever.str("op", "predict").uint("id", 9).str("model", "b").rows("inputs", five)
    .uint("deadline_ms", UINT64_MAX);
  third.send(forever.bytes());
  std::map<std::string, int> codes;
  for (peer* p : {&one, &two})
    for (int i = 0; i < 2; ++i) {
      auto r = p->receive(std::chrono::seconds(20));
      BOOST_REQUIRE(r);
      ++codes[r->ok ? "ok" : r->code];
    }
  BOOST_TEST(codes["overloaded"] == 1);
  BOOST_TEST(codes["ok"] == 3);
  auto admitted = third.receive(std::chrono::seconds(20));
  BOOST_REQUIRE(admitted);
  BOOST_TEST(admitted->ok, admitted->code + ": " + admitted->message);
  BOOST_TEST(holder.receive()->ok);
  BOOST_TEST(s.srv->stats().errors[static_cast<std::size_t>(error_code::overloaded)] == 3u);
  BOOST_TEST(s.srv->stats().shed == 2u); // of the three, one was refused, not shed
}

BOOST_AUTO_TEST_CASE(a_stopped_server_starts_again_with_nothing_left_over) {
  running_server s;
  s.catalog->add("m", 1, encoded(tiny_classifier()));
  auto endpoint = s.start();
  {
    peer p(s.ctx, endpoint);
    for (std::uint64_t id = 1; id <= 200; ++id)
      p.send(predict_request(id, "m", two_rows));
    BOOST_REQUIRE(wait_until([&] { return s.srv->stats().requests > 0; }));
  }
  s.srv->stop();
  BOOST_TEST(s.srv->stats().queued == 0u);
  s.srv->start();
  peer p(s.ctx, s.srv->endpoint());
  auto r = p.call(predict_request(1, "m", two_rows));
  BOOST_TEST(r.ok);
  BOOST_TEST(!s.srv->failure());
}

BOOST_AUTO_TEST_CASE(a_reply_to_a_client_that_has_left_is_counted_as_dropped_and_serving_goes_on) {
  // The only worker holds a batch open while four clients (more than a restart window
  // would allow) add a request to it and close; their replies then find no one.
  running_server s(holding_options(16));
  add_a_and_b(s);
  auto endpoint = s.start();
  const std::vector<std::vector<float>> five(5, std::vector<float>{1, 2, 3, 4});
  for (std::uint64_t id = 1; id <= 4; ++id) {
    peer leaving(s.ctx, endpoint);
    leaving.send(predict_request(id, "a", five));
    BOOST_REQUIRE(wait_until([&] { // accepted, not answered
      auto st = s.srv->stats();
      return st.queued + st.computing == id;
    }));
  }
  BOOST_REQUIRE(wait_until([&] { return s.srv->stats().dropped == 4 || s.srv->failure(); }));
  BOOST_TEST(!s.srv->failure(), s.srv->failure().value_or(""));
  peer staying(s.ctx, endpoint);
  auto r = staying.call(predict_request(9, "a", two_rows));
  BOOST_TEST(r.ok);
  BOOST_TEST(s.srv->stats().dropped == 4u);
}

BOOST_AUTO_TEST_CASE(a_client_within_its_share_is_never_shed_while_a_flood_from_many_connections_is) {
  // Eight connections keep 32 requests each in flight against a queue of 16 (the share
  // of one client among nine is under two); a client with one request in flight at a
  // time is always admitted and answered, and every flood request gets one reply.
  server_options o;
  o.workers = 1;
  o.max_batch = 8;
  o.max_queue = 16;
  running_server s(o);
  s.catalog->add("heavy", 1, encoded(heavy_classifier()));
  const auto endpoint = s.start();
  const std::vector<std::vector<float>> one_row{{1, 2, 3, 4}};
  std::atomic<bool> done{false};
  std::atomic<int> flood_ok{0}, flood_overloaded{0}, flood_other{0}, flood_lost{0};
  std::vector<std::thread> flood;
  for (int f = 0; f < 8; ++f)
    flood.emplace_back([&] {
      peer p(s.ctx, endpoint);
      std::uint64_t id = 0;
      int in_flight = 0;
      for (; in_flight < 32; ++in_flight)
        p.send(predict_request(++id, "heavy", one_row));
      while (in_flight > 0) {
        auto r = p.receive(std::chrono::seconds(20));
        if (!r)
          break;
        --in_flight;
        ++(r->ok ? flood_ok : r->code == "overloaded" ? flood_overloaded : flood_other);
        if (!done) {
          p.send(predict_request(++id, "heavy", one_row));
          ++in_flight;
        }
      }
      flood_lost += in_flight;
    });
  BOOST_REQUIRE(wait_until([&] { return flood_overloaded > 100; })); // the queue is full
  peer polite(s.ctx, endpoint);
  int polite_ok = 0;
  for (std::uint64_t id = 1; id <= 30; ++id) {
    auto r = polite.call(predict_request(id, "heavy", one_row));
    BOOST_TEST(r.ok, "request " << id << ": " << r.code << ": " << r.message);
    polite_ok += r.ok;
  }
  const int shed_meanwhile = flood_overloaded;
  done = true;
  for (auto& t : flood)
    t.join();
  BOOST_TEST(polite_ok == 30);
  BOOST_TEST(shed_meanwhile > 100);
  BOOST_TEST(flood_ok > 0);
  BOOST_TEST(flood_other == 0);
  BOOST_TEST(flood_lost == 0);
}

BOOST_AUTO_TEST_CASE(clients_that_never_read_their_replies_cost_the_server_bounded_memory) {
  // Twenty connections send 3,000 requests of 256 rows each (replies of about 4.4 KB,
  // 260 MB in all) and read nothing; their own queues are tiny, so what grows is the
  // server. It holds at most 2 MiB of unread replies (256 KiB per client) plus the
  // replies of the requests waiting when a client stopped reading (within the queue's
  // 4 MiB): once a client's socket buffers and its share are full, its requests are
  // discarded. Resident memory is measured after handing freed memory back to the
  // system, so that it counts what the server holds, not what the allocator keeps.
  server_options o;
  o.workers = 2;
  o.max_queue_bytes = 4 << 20;
  o.max_unread_bytes = 256 << 10;
  o.max_total_unread_bytes = 2 << 20;
  running_server s(o);
  s.catalog->add("tiny", 1, encoded(tiny_classifier()));
  const auto endpoint = s.start();
  const auto request = predict_request(1, "tiny", std::vector<std::vector<float>>(256, {1, 2, 3, 4}));
  ::malloc_trim(0);
  const auto before = rss_bytes();
  std::vector<std::unique_ptr<peer>> silent;
  for (int i = 0; i < 20; ++i) {
    silent.push_back(std::make_unique<peer>(s.ctx, endpoint));
    auto& sock = silent.back()->socket();
    sock.set(zmq::sockopt::rcvhwm, 1);
    sock.set(zmq::sockopt::rcvbuf, 4096);
    sock.set(zmq::sockopt::sndhwm, 16);
  }
  for (int round = 0; round < 3000; ++round)
    for (auto& p : silent)
      p->send(request);
  BOOST_REQUIRE(wait_until([&] {
    auto st = s.srv->stats();
    return st.requests == 60000u && st.queued == 0;
  }, std::chrono::seconds(120)));
  ::malloc_trim(0);
  const auto growth = rss_bytes() - before;
  BOOST_TEST_MESSAGE("resident memory grew by " << growth / (1 << 20) << " MiB");
  BOOST_TEST(growth < (std::uint64_t{48} << 20));
  const auto st = s.srv->stats();
  BOOST_TEST(st.unread_refused > 0u);
  BOOST_TEST(st.unread_bytes <= (std::size_t{2} + 4 + 1) << 20, st.unread_bytes);
  peer reading(s.ctx, endpoint);
  BOOST_TEST(reading.call(request).ok);
  silent.clear(); // gone: what ZeroMQ held for them is given back
  BOOST_TEST(wait_until([&] { return s.srv->stats().unread_bytes == 0; }));
}

BOOST_AUTO_TEST_CASE(a_request_larger_than_the_whole_queue_bound_is_too_large_not_overloaded) {
  server_options o;
  o.max_queue_bytes = 64 << 10;
  running_server s(o);
  s.catalog->add("tiny", 1, encoded(tiny_classifier()));
  peer p(s.ctx, s.start());
  auto big = p.call(predict_request(1, "tiny", std::vector<std::vector<float>>(4000, {1, 2, 3, 4})));
  BOOST_TEST(big.code == "too_large");
  BOOST_TEST(big.message.find("the server holds at most 65536") != std::string::npos, big.message);
  BOOST_TEST(p.call(predict_request(2, "tiny", two_rows)).ok);
}

BOOST_AUTO_TEST_CASE(an_inproc_endpoint_is_refused_with_the_reason) {
  server_options o;
  o.endpoint = "inproc://x";
  server srv(o, std::make_shared<model_catalog>());
  BOOST_CHECK_EXCEPTION(srv.start(), std::runtime_error, [](const std::runtime_error& e) {
    return std::string(e.what()).find("tcp:// or ipc://") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(binding_a_taken_endpoint_is_an_error_naming_it) {
  running_server first;
  auto endpoint = first.start();
  server_options o;
  o.endpoint = endpoint;
  server second(o, std::make_shared<model_catalog>());
  try {
    second.start();
    BOOST_FAIL("bound twice");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(endpoint) != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
