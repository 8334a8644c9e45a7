// trainer: trains a model (linear, logistic, softmax, mlp) on the batches it consumes
// and emits it, with the preprocessing that came with the batches, on its `model` port.
//
// Data: the whole dataset is cached in memory (actors/training_data); the trainer
// acknowledges its input only once it has ended its stream, so after a restart the
// runtime replays the data from the source.
//
// Devices (`devices = "cpu:N"`, "gpu:all", "gpu:0,1", "auto"): N replicas form a
// replica group, each on its own backend (compute/backend_factory), one per GPU for GPU
// groups. A GPU group's all-reduces run over NCCL (compute/cuda/nccl_collective):
// replica 0 makes the NCCL id and sends it in its start broadcast, a peer message. Every replica receives every batch, holds the same
// rows, and takes its contiguous share of each global batch. Replicas keep in step
// through a compute::collective (over peer messages: actors/peer_collective): one
// all-reduce per optimizer step of [gradient, loss, stop vote], each replica's part
// weighted by its share of the rows, so all apply the same update and end with the
// same weights. Replica 0 emits the model. With `shard = true` each replica holds only
// its shard (training_data::shard: row F + i goes to replica (F + i) mod N) and takes
// batch / N rows of its own shuffled shard per step (docs/kinds.md, shards).
//
// Checkpoints (`checkpoint_every` > 0): after every N-th optimizer step replica 0 writes
// `checkpoint_dir/<step>.ckpt` (compute/checkpoint.hpp) atomically, keeping the newest
// two, and records the step and the checkpoint's bytes in its durable state (which the
// coordinator keeps), so a stale file from an earlier run is never resumed. A restarted
// group (state present), on the same nodes or others, resumes from it once the replayed
// data has arrived: replica 0 broadcasts the checkpoint's bytes, so no replica needs
// the files. A fresh group starts from `resume_from` when it is set (a path every replica
// must see).
//
// GPU replicas keep the dataset in device memory (uploaded once; each epoch's order, a
// float per row, once per epoch) and gather each step's rows there, so a step uploads
// nothing; datasets of 2^24 rows or more, or that do not fit, are gathered on the host
// and uploaded per step as on the CPU.
//
// Energy: where NVML reads the GPUs' energy counters, replica 0 of a GPU group reports
// the joules its GPUs used while training (`gpu_joules`, counters summed over the
// group's GPUs, so other work on them counts too) and `samples_per_joule` with its
// other metrics, and the model carries them.
//
// Watchdog (`collective_timeout`, default 60 s): a replica waits for its peers only
// between its own calls (blocked(), in the actor's event loop), and the runtime calls
// tick() about once a second; an all-reduce still incomplete after the timeout means a
// hung replica (stuck in a call, a machine paused, a lost message), so the waiting
// replica aborts the collective (NCCL: ncclCommAbort; the peer collective stops waiting)
// and fails, and supervision restarts the whole group from its last checkpoint. A GPU
// group's all-reduces are queued on the device and look complete to the host; the NCCL
// collective watches them itself with the same timeout (compute/cuda/nccl_collective).
//
// Draining (step_context::stop_requested, SIGINT/SIGTERM): each replica votes in the
// step's all-reduce, so the whole group stops after the same step. Replica 0 writes
// `checkpoint_dir/<step>.ckpt` (whatever checkpoint_every is) and the trainer emits no
// model: a half-trained model must not pass for the final one. `resume_from` continues
// from that checkpoint in a later run.
#pragma once

#include "actors/trainer_options.hpp"
#include "actors/training_data.hpp"
#include "compute/backend.hpp"
#include "compute/checkpoint.hpp"
#include "compute/collective.hpp"
#include "compute/model.hpp"
#include "compute/model_file.hpp"
#include "compute/optimizer.hpp"
#include "compute/replayed_step.hpp"
#include "step/kind_registry.hpp"
#include "step/step.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace conveyor {

class peer_collective;

class trainer : public step {
public:
  trainer(trainer_options options, std::string step_name, int replica, int replicas);
  ~trainer() override;

  void open(step_context& ctx) override;
  void consume(std::size_t port, batch b, emitter& out) override;
  void finish(emitter& out) override;
  bool produce(emitter& out) override;
  bool blocked() const override;
  void consume_peer(peer_message m) override;
  void consume_model(std::size_t port, model_message m, emitter& out) override;
  /// The group's watchdog: an all-reduce (or a GPU group's joining) still waiting
  /// `collective_timeout` after this replica started it aborts the collective and fails
  /// the step, so the group restarts from its last checkpoint.
  void tick() override;
  bool acknowledge_on_consume() const override { return false; }

private:
  enum class phase { caching, agreeing, training, done };

  void save_state();
  bool sharded() const { return options_.shard && replicas_ > 1; }
  /// Sharded: the rows replica `shard` takes per step (batch / N, the first batch % N
  /// replicas one more, so that a step's rows sum to `batch`).
  std::uint64_t shard_batch(int shard) const {
    const auto b = static_cast<std::uint64_t>(options_.batch);
    const auto count = static_cast<std::uint64_t>(replicas_);
    return b / count + (static_cast<std::uint64_t>(shard) < b % count ? 1 : 0);
  }
  void build_model();
  void make_resident(std::size_t share);
  bool begin_training();
  void start_step();
  void finish_step();
  /// The model's gradients on a minibatch in device memory, replayed from a CUDA graph
  /// where options allow (compute/replayed_step.hpp).
  void device_gradients(const float* x, const float* y, int rows, float weight);
  void read_results(bool epoch_end);
  double epoch_loss_so_far();
  compute::model_artifact artifact() const;
  std::string checkpoint_path(std::uint64_t step) const;
  void write_checkpoint(bool prune);
  /// `what` names the checkpoint in messages (a quoted path, or where its bytes came from).
  void load_checkpoint(const decoded<compute::checkpoint>& c, const std::string& what);
  void stop_on_drain();
  void emit_model(emitter& out);
  void end();
  void report_progress();

  trainer_options options_;
  std::string step_name_;
  int replica_ = 0;
  int replicas_ = 1;
  step_context* ctx_ = nullptr;
  bool retrain_warned_ = false;

  // durable state
  std::int64_t failures_ = 0;
  std::uint64_t checkpoint_step_ = 0;
  /// Replica 0: the bytes of the checkpoint of checkpoint_step_ (empty: none written).
  std::string checkpoint_bytes_;
  std::int64_t hangs_ = 0; // hang_at_step hangs injected so far

  training_data data_;
  phase phase_ = phase::caching;

  std::unique_ptr<compute::backend> device_;
  // Host messages (peer messages, or a group of one); a GPU group's device transport
  // (NCCL) once it has joined; and the one in use, which the device one replaces.
  std::unique_ptr<compute::collective> host_collective_;
  peer_collective* peers_ = nullptr; // host_collective_ when it runs over peer messages
  std::unique_ptr<compute::collective> device_collective_;
  compute::collective* collective_ = nullptr;
  std::unique_ptr<compute::model> model_;
  std::unique_ptr<compute::optimizer> optimizer_;
  compute::buffer epoch_loss_; // backend memory: sum over this epoch's steps of rows * loss
  int threads_before_ = 1;
  int threads_set_ = 1;

  std::chrono::steady_clock::time_point start_time_;
  double energy_start_ = -1; // replica 0: the group's GPU energy counters at the start
  std::uint64_t resumed_from_ = 0;
  std::uint64_t steps_per_epoch_ = 0;
  std::uint64_t total_steps_ = 0;
  std::uint64_t step_ = 0; // global optimizer steps done
  bool in_flight_ = false; // this step's all-reduce is started
  bool applied_ = false;   // this step's update is done (a lone replica's fused step)
  bool hung_ = false; // hang_at_step: this replica no longer takes part
  // When this replica started the collective operation it waits for (the watchdog's
  // clock): an all-reduce, or joining the device group.
  std::chrono::steady_clock::time_point waiting_since_;
  std::size_t step_rows_ = 0; // rows of the global batch in flight
  bool stop_ = false;
  std::vector<float> xb_, yb_;
  // A device replica's copy of the dataset in backend memory (features, labels, this
  // epoch's order as floats) and its share of the batch gathered from it; none for
  // host-memory backends, which gather on the host.
  bool resident_ = false;
  compute::buffer resident_x_, resident_y_, resident_order_, batch_x_, batch_y_;
  std::int64_t resident_epoch_ = -1;
  int reserved_rows_ = 0; // the model's training workspace holds this many rows
  // A device replica whose dataset stays in host memory uploads each step's rows into
  // one of two buffer pairs, alternately: an upload waits only for the step that last
  // read its pair (its mark), so it overlaps the previous step's kernels.
  struct upload_pair {
    compute::buffer x, y;
    compute::backend::work_mark read_by = 0;
  };
  std::array<upload_pair, 2> uploads_;
  // The forward and backward pass replayed as one launch on devices (cuda_graphs);
  // declared after every buffer its recordings name, so it is destroyed first.
  compute::replayed_step step_graph_;
  std::vector<float> order_floats_;
  double epoch_rows_ = 0;
  double last_epoch_loss_ = 0;
  double last_loss_ = 0;
  std::uint64_t samples_ = 0;
};

kind_entry trainer_kind();

} // namespace conveyor
