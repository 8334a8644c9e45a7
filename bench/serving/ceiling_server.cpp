// ceiling_server: the ceiling for inference servers speaking protocol v1. One thread on a
// ROUTER socket decodes each request with wire::decode_request and answers at once
// without computing: predict gets zero outputs of the right shape (--classes per row) and
// label 0 through serving::encode_prediction, so the reply has the size a real one has;
// models and health are answered as a server would. What a real server achieves over the
// same sockets and codec can only be lower.
#include "wire/server_codec.hpp"

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include <csignal>
#include <iostream>
#include <vector>

namespace {

using namespace conveyor;

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

struct config {
  std::string endpoint = "tcp://127.0.0.1:5556";
  std::string model = "fashion";
  std::uint64_t version = 1;
  std::uint32_t inputs = 784;
  std::uint32_t classes = 10;
};

/// The reply to one request (decoded into `req`, reused), written into `out`.
void answer(std::string_view bytes, const config& cfg, wire::request& req,
            std::vector<float>& zeros, std::vector<std::int32_t>& labels, std::string& out) {
  static const wire::request_limits limits;
  if (auto error = wire::decode_request(bytes, limits, req)) {
    wire::encode_error_reply(error->id, error->code, error->message, out);
    return;
  }
  switch (req.op) {
    case wire::request_op::health:
      wire::encode_health_reply(req.id, out);
      return;
    case wire::request_op::models:
      wire::encode_models_reply(req.id, {{cfg.model, cfg.version, cfg.inputs, cfg.classes}}, out);
      return;
    case wire::request_op::predict:
      break;
  }
  if (req.model != cfg.model) {
    wire::encode_error_reply(req.id, wire::error_code::unknown_model,
                          "no model named '" + req.model + "'", out);
    return;
  }
  if (req.version != 0 && req.version != cfg.version) {
    wire::encode_error_reply(req.id, wire::error_code::unknown_version,
                          cfg.model + " has no version " + std::to_string(req.version), out);
    return;
  }
  if (req.columns != cfg.inputs) {
    wire::encode_error_reply(req.id, wire::error_code::shape_mismatch,
                          "rows of " + std::to_string(req.columns) + " values; " + cfg.model +
                            " takes " + std::to_string(cfg.inputs),
                          out);
    return;
  }
  const std::size_t n = std::size_t{req.rows} * cfg.classes;
  if (zeros.size() < n)
    zeros.resize(n, 0.0f);
  if (labels.size() < req.rows)
    labels.resize(req.rows, 0);
  wire::encode_prediction_reply(req.id, cfg.model, cfg.version, zeros.data(), req.rows,
                             cfg.classes, labels.data(), out);
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  CLI::App app{"ceiling_server: answers protocol v1 requests at once with zero outputs "
               "(the throughput ceiling for inference servers)"};
  app.add_option("--endpoint", cfg.endpoint, "endpoint to bind (tcp://127.0.0.1:* picks a port)")
    ->capture_default_str();
  app.add_option("--model", cfg.model, "the one model name it answers for")->capture_default_str();
  app.add_option("--version", cfg.version, "the version it reports")->capture_default_str();
  app.add_option("--inputs", cfg.inputs, "values per input row it accepts")->capture_default_str();
  app.add_option("--classes", cfg.classes, "outputs per row")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::sndhwm, 0);
  router.set(zmq::sockopt::rcvhwm, 0);
  try {
    router.bind(cfg.endpoint);
  } catch (const zmq::error_t& e) {
    std::cerr << "ceiling_server: cannot bind '" << cfg.endpoint << "': " << e.what() << '\n';
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::cerr << "ceiling_server: listening on " << router.get(zmq::sockopt::last_endpoint)
            << std::endl;

  wire::request req;
  std::vector<float> zeros;
  std::vector<std::int32_t> labels;
  std::string out;
  std::vector<zmq::message_t> parts;
  std::uint64_t served = 0;
  while (!stop_requested) {
    parts.clear();
    try {
      zmq_pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, 200) <= 0)
        continue;
      // Drain everything queued before polling again.
      for (;;) {
        parts.clear();
        do {
          zmq::message_t part;
          if (!router.recv(part, parts.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none))
            break;
          parts.push_back(std::move(part));
        } while (parts.back().more());
        if (parts.empty())
          break;
        if (parts.size() < 2)
          continue; // no routing envelope: nothing to answer to
        const auto& payload = parts.back();
        answer(std::string_view(payload.data<char>(), payload.size()), cfg, req, zeros, labels,
               out);
        // Echo the envelope (identity, and the empty delimiter of REQ clients).
        for (std::size_t i = 0; i + 1 < parts.size(); ++i)
          router.send(parts[i], zmq::send_flags::sndmore);
        router.send(zmq::buffer(out), zmq::send_flags::none);
        ++served;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        std::cerr << "ceiling_server: " << e.what() << '\n';
        return 1;
      }
    }
  }
  std::cerr << "ceiling_server: stopped after " << served << " requests\n";
  return 0;
}
