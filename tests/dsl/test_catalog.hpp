// A fixed schema_catalog for the dsl tests and the fuzzer: kinds shaped like the real ones
// (readers, cleaner, trainer, evaluator, publisher, inference, a counting sink, a CSV
// writer), with the same file roles.
#pragma once

#include "dsl/front_end.hpp"
#include "dsl/schema.hpp"

#include <map>
#include <string>
#include <vector>

namespace conveyor::dsl::testing {

inline param_schema required(std::string name, param_type t) {
  param_schema p;
  p.name = std::move(name);
  p.type = t;
  p.required = true;
  return p;
}

inline param_schema optional(std::string name, param_type t, value def,
                             std::vector<std::string> choices = {}) {
  param_schema p;
  p.name = std::move(name);
  p.type = t;
  p.default_value = std::move(def);
  p.choices = std::move(choices);
  return p;
}

class test_catalog : public schema_catalog {
public:
  test_catalog() {
    const port_schema batch_out{"out", "batch"};
    const port_schema batch_in{"in", "batch"};
    add({"idx_reader", "reads IDX image/label files",
         {reads_file(required("images", param_type::string)),
          reads_file(required("labels", param_type::string)),
          optional("batch", param_type::integer, 256),
          optional("shuffle", param_type::boolean, true)},
         {},
         {batch_out}});
    add({"csv_reader", "reads CSV rows",
         {reads_file(required("path", param_type::string)),
          optional("batch", param_type::integer, 256),
          optional("delimiter", param_type::string, ","),
          optional("columns", param_type::list_of_string, list_value{}),
          writes_file(optional("quarantine", param_type::string, ""))},
         {},
         {batch_out}});
    add({"csv_writer", "writes CSV rows", {writes_file(required("path", param_type::string))},
         {batch_in},
         {}});
    add({"cleaner", "scales and filters rows",
         {optional("scale", param_type::number, 1.0),
          optional("weights", param_type::list_of_number, list_value{}),
          optional("drop_nulls", param_type::boolean, true)},
         {batch_in},
         {batch_out}});
    add({"trainer", "trains a model",
         {required("model", param_type::string),
          optional("layers", param_type::list_of_integer, list_value{}),
          optional("activation", param_type::string, "relu", {"relu", "tanh", "sigmoid"}),
          optional("optimizer", param_type::string, "sgd", {"sgd", "adam"}),
          optional("lr", param_type::number, 0.01), optional("momentum", param_type::number, 0.0),
          optional("batch", param_type::integer, 128), optional("epochs", param_type::integer, 1),
          optional("devices", param_type::string, "cpu:1"),
          optional("checkpoint_every", param_type::integer, 0),
          optional("extra", param_type::any, false)},
         {batch_in},
         {{"model", "model"}}});
    add({"evaluator", "scores models on held-out data",
         {optional("metric", param_type::string, "accuracy", {"accuracy", "loss"}),
          optional("min", param_type::number, 0.0)},
         {{"model", "model"}, {"data", "batch"}},
         {{"out", "model"}}});
    add({"publisher", "writes versioned models to a registry",
         {required("registry", param_type::string), required("name", param_type::string),
          optional("keep", param_type::integer, 3)},
         {{"in", "model"}},
         {{"out", "model"}}});
    add({"inference", "serves a model over ZeroMQ",
         {required("endpoint", param_type::string), optional("max_batch", param_type::integer, 32),
          optional("max_delay", param_type::duration, duration_value{1'000'000}),
          optional("max_memory", param_type::size, size_value{64u << 20})},
         {{"in", "model"}},
         {}});
    add({"counter", "counts rows", {optional("every", param_type::duration, duration_value{1'000'000'000})},
         {batch_in},
         {}});
  }

  const kind_schema* find_kind(std::string_view name) const override {
    auto it = kinds_.find(std::string(name));
    return it == kinds_.end() ? nullptr : &it->second;
  }

  std::vector<std::string> kind_names() const override {
    std::vector<std::string> out;
    for (const auto& [name, k] : kinds_) out.push_back(name);
    return out;
  }

private:
  void add(kind_schema k) {
    std::string name = k.name;
    kinds_.emplace(std::move(name), std::move(k));
  }

  std::map<std::string, kind_schema> kinds_;
};

/// The example graph of DSL.md, as it is written there.
inline const char* const fashion_example = R"(# examples/fashion.flow: train and serve a Fashion-MNIST classifier.
graph fashion                          # first statement: the graph's name

param epochs = 10                      # overridable: conveyor run fashion.flow --set epochs=20
param data = "/usr/share/datasets/fashion-mnist"

defaults {                             # attributes applied to every node unless it sets its own
  max_restarts = 3
  restart_window = 60s
}

node train_data = idx_reader {
  images = "$data/train-images-idx3-ubyte.gz"
  labels = "$data/train-labels-idx1-ubyte.gz"
  batch = 512
}
node test_data = idx_reader {
  images = "$data/t10k-images-idx3-ubyte.gz", labels = "$data/t10k-labels-idx1-ubyte.gz"
}
node scale = cleaner { scale = 0.00392156862 }
node train = trainer {
  model = "mlp", layers = [784, 256, 128, 10], activation = "relu"
  optimizer = "sgd", lr = 0.05, momentum = 0.9, batch = 128, epochs = $epochs
  devices = "cpu:2"                    # or "gpu:all", "gpu:0,1"
  checkpoint_every = 500               # steps
  backoff = 200ms
}
node check  = evaluator { metric = "accuracy", min = 0.85 }
node models = publisher { registry = "models", name = "fashion", keep = 5 }
node api    = inference { endpoint = "tcp://*:5555", max_batch = 64, max_delay = 500us, replicas = 2 }

train_data -> scale -> train           # chains connect default ports
test_data -> check.data                # node.port names a port; raw rows: a model carries
                                       # the transform its cleaner fitted and applies it itself
train.model -> check.model
check -> models -> api
)";

} // namespace conveyor::dsl::testing
