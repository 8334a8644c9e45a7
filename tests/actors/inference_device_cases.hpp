// What `inference { device = ... }` must do on any device, written once: the CPU twin
// (tests/actors/inference_test.cpp, device "cpu") and the GPU (inference_gpu_test.cpp,
// "gpu:0") run the same checks through the same code path. An MLP's predictions over the
// socket, from several clients at once so that batches form, match the model computed
// directly on the CPU; a hot swap serves the new version while the old one stays
// pinnable; two models share the device and its memory is accounted (model_bytes).
#pragma once

#include "actors/inference.hpp"
#include "client/client.hpp"
#include "compute/model_file.hpp"
#include "step_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

namespace conveyor::test {

/// An MLP 6-16-3 (softmax) on columns c0..c5, weights from `seed`.
inline compute::model_artifact device_case_mlp(std::uint64_t seed) {
  compute::model_spec spec;
  spec.kind = "mlp";
  spec.layers = {6, 16, 3};
  spec.seed = seed;
  compute::model m(compute::validate(spec));
  auto a = compute::make_artifact(m);
  for (int c = 0; c < 6; ++c) {
    a.feature_columns.push_back("c" + std::to_string(c));
    a.input_columns.push_back("c" + std::to_string(c));
  }
  return a;
}

/// Row r of the requests: six values in [-1, 1).
inline std::vector<float> device_case_row(int r) {
  std::vector<float> row(6);
  for (int c = 0; c < 6; ++c)
    row[static_cast<std::size_t>(c)] = static_cast<float>(((r * 7 + c * 13) % 41) - 20) / 20.0f;
  return row;
}

/// The model's probabilities for `rows` rows, computed on the CPU without a server.
inline std::vector<float> device_case_expected(const compute::model_artifact& a, int rows) {
  auto m = compute::instantiate(a);
  std::vector<float> x, out(static_cast<std::size_t>(rows) * 3);
  for (int r = 0; r < rows; ++r) {
    auto row = device_case_row(r);
    x.insert(x.end(), row.begin(), row.end());
  }
  m.predict(x.data(), rows, out.data());
  return out;
}

inline void serve_on_device_and_compare(const std::string& device) {
  step_config c;
  c.name = "serve";
  c.replicas_attribute = 3; // workers: several computing threads on the device
  c.params = params_for(inference_kind(), {{"endpoint", std::string("tcp://127.0.0.1:*")},
                                           {"device", device},
                                           {"max_delay", dsl::value{dsl::duration_value{2'000'000}}}});
  auto s = inference_kind().factory(c);
  fake_context ctx;
  collector out;
  s->open(ctx);
  std::string endpoint;
  for (const auto& line : ctx.info)
    if (auto at = line.find("serving on "); at != std::string::npos) {
      endpoint = line.substr(at + 11, line.find(' ', at + 11) - at - 11);
      BOOST_TEST(line.find("computing on " + (device == "cpu" ? std::string("cpu") : "cuda:0")) !=
                     std::string::npos,
                 line);
    }
  BOOST_TEST_REQUIRE(!endpoint.empty());

  const auto v1 = device_case_mlp(1), v2 = device_case_mlp(2), other = device_case_mlp(3);
  model_message m1{"m", std::make_shared<const std::string>(compute::model_file::encode(v1))};
  m1.version = 1;
  s->consume_model(0, m1, out);
  model_message o1{"other", std::make_shared<const std::string>(compute::model_file::encode(other))};
  o1.version = 1;
  s->consume_model(0, o1, out);
  BOOST_TEST(ctx.rejected == 0u);

  constexpr int rows = 40;
  const auto want1 = device_case_expected(v1, rows);
  const auto want2 = device_case_expected(v2, rows);
  const auto want_other = device_case_expected(other, rows);
  // Eight clients at once, one row per request: the server batches them.
  auto ask_all = [&](const std::string& model, std::uint64_t version,
                     const std::vector<float>& want, std::uint64_t served_version) {
    std::vector<std::thread> clients;
    std::vector<std::string> failures(8);
    for (int t = 0; t < 8; ++t)
      clients.emplace_back([&, t] {
        client::client cl(endpoint);
        for (int r = t; r < rows; r += 8) {
          auto reply = cl.predict(model, {device_case_row(r)}, version);
          if (!reply.ok) {
            failures[static_cast<std::size_t>(t)] = reply.error.code + ": " + reply.error.message;
            return;
          }
          if (reply.version != served_version) {
            failures[static_cast<std::size_t>(t)] = "version " + std::to_string(reply.version);
            return;
          }
          for (int k = 0; k < 3; ++k) {
            const float got = reply.row(0)[k];
            const float w = want[static_cast<std::size_t>(r) * 3 + static_cast<std::size_t>(k)];
            if (std::fabs(got - w) > 1e-5f + 1e-5f * std::fabs(w)) {
              failures[static_cast<std::size_t>(t)] =
                "row " + std::to_string(r) + " class " + std::to_string(k) + ": " +
                std::to_string(got) + " against " + std::to_string(w);
              return;
            }
          }
        }
      });
    for (auto& th : clients)
      th.join();
    for (const auto& f : failures)
      BOOST_TEST(f.empty(), model << " v" << version << ": " << f);
  };
  ask_all("m", 0, want1, 1);
  ask_all("other", 0, want_other, 1);

  // Hot swap: v2 answers new requests; v1 stays pinnable.
  model_message m2{"m", std::make_shared<const std::string>(compute::model_file::encode(v2))};
  m2.version = 2;
  s->consume_model(0, m2, out);
  ask_all("m", 0, want2, 2);
  ask_all("m", 1, want1, 1);

  s->tick();
  BOOST_TEST(ctx.metrics.at("ok") == 4.0 * rows);
  // Three versions of two models held on the device, counted: each model's parameters
  // and nothing else (a served model never trains, so it holds no gradient buffer:
  // compute/model.hpp).
  const double params = 6 * 16 + 16 + 16 * 3 + 3;
  BOOST_TEST(ctx.metrics.at("model_bytes") == 3 * params * 4.0);
}

} // namespace conveyor::test
