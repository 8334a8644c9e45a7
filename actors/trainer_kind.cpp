// The trainer kind: its schema (parameters and ports) and factory.
#include "actors/kind_schema_builder.hpp"
#include "actors/fleet_training.hpp"
#include "actors/retraining.hpp"
#include "actors/trainer.hpp"

namespace conveyor {

kind_entry trainer_kind() {
  using dsl::param_type;
  kind_entry e;
  e.schema.name = "trainer";
  e.schema.doc = "Trains a model (linear, logistic, softmax, mlp) on the batches it receives "
                 "(cached in memory; replayed from the source after a restart) and emits it "
                 "with the upstream preprocessing.";
  auto model = required_param("model", param_type::string,
                              "linear (regression), logistic (binary), softmax, mlp");
  model.choices = {"linear", "logistic", "softmax", "mlp"};
  e.schema.params = {
    model,
    optional_param("layers", param_type::list_of_integer, empty_list(),
                   "layer widths, input first (mlp: required; first = feature count)"),
    choice_param("activation", {"relu", "tanh", "sigmoid"}, "relu", "mlp hidden activation"),
    choice_param("optimizer", {"sgd", "adam", "newton"}, "sgd",
                 "sgd (with momentum), adam, or newton (fleets of linear or logistic models: "
                 "Newton's method per segment to the optimum; epochs bounds its iterations)"),
    optional_param("lr", param_type::number, 0.01, "learning rate"),
    optional_param("momentum", param_type::number, 0.0, "sgd momentum"),
    optional_param("weight_decay", param_type::number, 0.0, "L2 weight decay"),
    optional_param("batch", param_type::integer, 128, "global minibatch rows (all replicas)"),
    optional_param("shard", param_type::boolean, false,
                   "replicas hold only their shard: row i of a batch whose first row is F goes "
                   "to replica (F + i) mod N"),
    optional_param("epochs", param_type::integer, 1, "passes over the data"),
    optional_param("emit_every", param_type::integer, 0,
                   "also emit the model every N epochs (0: only at the end)"),
    optional_param("seed", param_type::integer, 42, "weight initialisation and shuffle seed"),
    optional_param("devices", param_type::string, std::string("cpu:1"),
                   "\"cpu:N\": N data-parallel replicas; \"gpu:all\", \"gpu:0,1\": one per "
                   "GPU; \"auto\": every GPU, else cpu:1"),
    choice_param("precision", {"fp32", "tf32", "bf16"}, "fp32",
                 "GPU matrix products: fp32, tf32 tensor cores, bf16 with fp32 master weights"),
    optional_param("checkpoint_every", param_type::integer, 0,
                   "write a checkpoint every N optimizer steps (0: never)"),
    optional_param("checkpoint_dir", param_type::string, std::string("checkpoints"),
                   "directory for checkpoints (also where a drained trainer leaves one)"),
    optional_param("resume_from", param_type::string, std::string(""),
                   "a checkpoint to start from (e.g. the one a drained run left); empty: none"),
    optional_param("name", param_type::string, std::string(""),
                   "model name (default: the step name)"),
    optional_param("by", param_type::string, std::string(""),
                   "a fleet: one model per value of this categorical column (linear, "
                   "logistic, softmax; empty: one model)"),
    optional_param("min_rows", param_type::integer, 100,
                   "fleets: segments with fewer rows use the shared model"),
    choice_param("unknown_key", {"shared", "error"}, "shared",
                 "fleets: what a key the fleet does not know gets when served"),
    optional_param("validation", param_type::number, 0.1,
                   "fleets: share of each segment's rows held out for early stopping"),
    optional_param("patience", param_type::integer, 3,
                   "fleets: epochs without a better validation loss before a segment stops "
                   "(0: never)"),
    optional_param("collective_timeout", param_type::duration,
                   dsl::duration_value{60'000'000'000},
                   "replica groups: an all-reduce not completed this long after a replica "
                   "started it means a hung replica: the group's collective is aborted and "
                   "the group restarts from its last checkpoint"),
    optional_param("cuda_graphs", param_type::boolean, true,
                   "GPU replicas: record each step's forward and backward pass as a CUDA "
                   "graph and replay it with one launch (false: launch every kernel)"),
    optional_param("fail_at_step", param_type::integer, 0,
                   "testing: fail at this global optimizer step (0: never)"),
    optional_param("fail_times", param_type::integer, 1,
                   "testing: how many times fail_at_step fails across restarts"),
    optional_param("hang_at_step", param_type::integer, 0,
                   "testing: the last replica stops taking part at this step, once (0: never)"),
    optional_param("window_rows", param_type::integer, 0,
                   "retraining on a stream: each retrain uses at most the newest N rows (0: "
                   "no row bound)"),
    optional_param("window", param_type::duration, dsl::value{dsl::duration_value{0}},
                   "retraining on a stream: each retrain uses the rows of at most this long "
                   "ago (0: no age bound)"),
    optional_param("retrain_every_rows", param_type::integer, 0,
                   "retraining: retrain after this many new rows (0: never on a count)"),
    optional_param("retrain_every", param_type::duration, dsl::value{dsl::duration_value{0}},
                   "retraining: retrain this often (0: never on a clock)"),
    optional_param("warm_start", param_type::boolean, false,
                   "retraining: start from the previous model's weights (fleets: key by key)"),
  };
  e.schema.inputs = {batch_port("in"), dsl::port_schema{"retrain", "model"}};
  e.schema.outputs = {dsl::port_schema{"model", "model"}};
  e.schema.replica_group = true;
  e.factory = [](const step_config& c) -> std::unique_ptr<step> {
    auto name = c.name;
    auto hash = name.find('#');
    if (hash != std::string::npos)
      name = name.substr(0, hash);
    auto options = trainer_options::from(c.params);
    options.graph = c.graph;
    if (options.retraining())
      return std::make_unique<retraining>(std::move(options), name);
    if (!options.by.empty())
      return std::make_unique<fleet_training>(std::move(options), name);
    return std::make_unique<trainer>(std::move(options), name, c.replica, c.replicas);
  };
  e.instances = instance_rule{
    "devices", [](const step_params& p) { return parse_devices(p.get_string("devices")).count; }};
  return e;
}

} // namespace conveyor
