// Shared by the serving tests: small models with preprocessing, and a raw ZeroMQ
// DEALER peer that speaks protocol v1 with hand-packed MessagePack (independent of
// the client library, so that these tests check the server against the protocol text).
#pragma once

#include "compute/model_file.hpp"
#include "tests/support/wait_until.hpp"

#include <msgpack.hpp>
#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace conveyor::serving::testing {

using conveyor::testing::wait_until;

/// A softmax 4 -> 3 classifier over raw columns x0..x3, with a fitted scale on x0 and a
/// standardize on x1 (so that serving must apply preprocessing to be right). `seed`
/// changes the weights (distinct versions).
inline compute::model_artifact tiny_classifier(std::uint64_t seed = 7) {
  compute::model_spec spec;
  spec.kind = "softmax";
  spec.layers = {4, 3};
  spec.seed = seed;
  compute::model m(compute::validate(spec));
  auto a = compute::make_artifact(m);
  a.input_columns = {"x0", "x1", "x2", "x3"};
  a.feature_columns = a.input_columns;
  column_op scale;
  scale.op = column_op::kind::scale;
  scale.column = "x0";
  scale.a = 0.5;
  column_op standardize;
  standardize.op = column_op::kind::standardize;
  standardize.column = "x1";
  standardize.a = 1.0;
  standardize.b = 2.0;
  a.preprocessing.ops = {scale, standardize};
  return a;
}

inline std::string encoded(const compute::model_artifact& a) {
  return compute::model_file::encode(a);
}

/// The expected outputs for raw rows: preprocessing by hand, then the model.
inline std::vector<float> expected_outputs(const compute::model_artifact& a,
                                           std::vector<float> rows, int n) {
  for (int r = 0; r < n; ++r) {
    rows[static_cast<std::size_t>(r) * 4] *= 0.5f;
    float& x1 = rows[static_cast<std::size_t>(r) * 4 + 1];
    x1 = (x1 - 1.0f) * static_cast<float>(1.0 / 2.0);
  }
  auto m = compute::instantiate(a);
  std::vector<float> out(static_cast<std::size_t>(n) * 3);
  m.predict(rows.data(), n, out.data());
  return out;
}

/// A packed request map built key by key.
class request_builder {
public:
  request_builder& str(const std::string& k, const std::string& v) {
    key(k);
    pk_.pack(v);
    return count();
  }
  request_builder& uint(const std::string& k, std::uint64_t v) {
    key(k);
    pk_.pack_uint64(v);
    return count();
  }
  request_builder& rows(const std::string& k, const std::vector<std::vector<float>>& rows) {
    key(k);
    pk_.pack_array(static_cast<std::uint32_t>(rows.size()));
    for (const auto& r : rows) {
      pk_.pack_array(static_cast<std::uint32_t>(r.size()));
      for (float v : r)
        pk_.pack_float(v);
    }
    return count();
  }
  /// The whole message: a map header with the count, then the pairs.
  std::string bytes() const {
    msgpack::sbuffer head;
    msgpack::packer<msgpack::sbuffer>(head).pack_map(pairs_);
    return std::string(head.data(), head.size()) + std::string(body_.data(), body_.size());
  }

private:
  void key(const std::string& k) { pk_.pack(k); }
  request_builder& count() {
    ++pairs_;
    return *this;
  }
  msgpack::sbuffer body_;
  msgpack::packer<msgpack::sbuffer> pk_{body_};
  std::uint32_t pairs_ = 0;
};

inline std::string predict_request(std::uint64_t id, const std::string& model,
                                   const std::vector<std::vector<float>>& rows,
                                   std::uint64_t version = 0) {
  request_builder b;
  b.str("op", "predict").uint("id", id).str("model", model).rows("inputs", rows);
  if (version != 0)
    b.uint("version", version);
  return b.bytes();
}

/// A decoded reply, with the fields the tests look at.
struct reply {
  std::uint64_t id = 0;
  bool ok = false;
  std::string code, message, model, status;
  std::uint64_t version = 0;
  std::vector<std::vector<float>> outputs;
  std::vector<std::int64_t> labels;
  std::vector<std::string> model_names;
};

inline reply parse_reply(const zmq::message_t& m) {
  reply r;
  auto handle = msgpack::unpack(static_cast<const char*>(m.data()), m.size());
  auto map = handle.get().as<std::map<std::string, msgpack::object>>();
  r.id = map.at("id").as<std::uint64_t>();
  r.ok = map.at("ok").as<bool>();
  if (!r.ok) {
    auto e = map.at("error").as<std::map<std::string, std::string>>();
    r.code = e.at("code");
    r.message = e.at("message");
    return r;
  }
  if (map.count("status"))
    r.status = map.at("status").as<std::string>();
  if (map.count("model"))
    r.model = map.at("model").as<std::string>();
  if (map.count("version"))
    r.version = map.at("version").as<std::uint64_t>();
  if (map.count("outputs"))
    r.outputs = map.at("outputs").as<std::vector<std::vector<float>>>();
  if (map.count("labels"))
    r.labels = map.at("labels").as<std::vector<std::int64_t>>();
  if (map.count("models"))
    for (const auto& entry : map.at("models").as<std::vector<std::map<std::string, msgpack::object>>>())
      r.model_names.push_back(entry.at("name").as<std::string>() + ":" +
                              std::to_string(entry.at("version").as<std::uint64_t>()));
  return r;
}

/// A CURVE client's keys, in Z85.
struct curve_client_keys {
  std::string server_public, public_key, secret_key;
};

/// A DEALER connected to the server under test (a CURVE client when given keys).
class peer {
public:
  peer(zmq::context_t& ctx, const std::string& endpoint,
       const std::optional<curve_client_keys>& curve = std::nullopt)
      : socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    if (curve) {
      socket_.set(zmq::sockopt::curve_serverkey, curve->server_public);
      socket_.set(zmq::sockopt::curve_publickey, curve->public_key);
      socket_.set(zmq::sockopt::curve_secretkey, curve->secret_key);
    }
    socket_.connect(endpoint);
  }
  void send(const std::string& bytes) { socket_.send(zmq::buffer(bytes), zmq::send_flags::none); }
  std::optional<reply> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) <= 0)
      return std::nullopt;
    zmq::message_t m;
    if (!socket_.recv(m, zmq::recv_flags::none))
      return std::nullopt;
    return parse_reply(m);
  }
  reply call(const std::string& bytes) {
    send(bytes);
    auto r = receive();
    if (!r)
      throw std::runtime_error("no reply within 5 s");
    return *r;
  }
  zmq::socket_t& socket() { return socket_; }

private:
  zmq::socket_t socket_;
};

} // namespace conveyor::serving::testing
