// Every operation of the CUDA backend against the CPU backend on small shapes, and one
// training step (forward, backward, optimizer) of small models on both. Tolerances:
// fp32 elementwise work and reductions within 1e-5 relative (plus 1e-6 absolute: sums
// are taken in another order); fp32 products within 1e-4 (cuBLAS blocks them
// differently); tf32 products within 5e-3 and bf16 within 2e-2 (their inputs keep 10
// and 7 mantissa bits). Without a usable GPU every case reports skipped.
#include "compute/backend_factory.hpp"
#include "compute/collective.hpp"
#include "compute/cpu/cpu_backend.hpp"
#include "compute/model.hpp"
#include "compute/optimizer.hpp"
#include "compute/replayed_step.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace conveyor::compute;
namespace utf = boost::unit_test;

namespace {

boost::test_tools::assertion_result gpu_present(utf::test_unit_id) {
  std::string why;
  if (gpu_count(&why) > 0) return true;
  boost::test_tools::assertion_result r(false);
  r.message() << "no usable GPU: " << why;
  return r;
}

std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

/// Host data copied to a device buffer and back.
struct device_fixture {
  std::unique_ptr<backend> gpu = make_backend("cuda:0");
  cpu_backend cpu;

  buffer up(const std::vector<float>& host) {
    auto b = gpu->allocate(host.size());
    gpu->copy_from_host(b.data(), host.data(), host.size());
    return b;
  }
  std::vector<float> down(const buffer& b) {
    std::vector<float> host(b.size());
    gpu->copy_to_host(host.data(), b.data(), b.size());
    return host;
  }
};

void expect_close(const std::vector<float>& gpu, const std::vector<float>& cpu, double rel,
                  double abs = 1e-6) {
  BOOST_TEST_REQUIRE(gpu.size() == cpu.size());
  for (std::size_t i = 0; i < gpu.size(); ++i)
    BOOST_TEST(std::fabs(gpu[i] - cpu[i]) <= abs + rel * std::fabs(cpu[i]),
               "element " << i << ": gpu " << gpu[i] << ", cpu " << cpu[i]);
}

constexpr double elementwise = 1e-5;
constexpr double product_fp32 = 1e-4;

const activation all_activations[] = {activation::identity, activation::relu, activation::tanh,
                                      activation::sigmoid};

} // namespace

BOOST_AUTO_TEST_SUITE(cuda_matches_cpu, *utf::precondition(gpu_present))

BOOST_FIXTURE_TEST_CASE(gemm_matches_the_cpu_for_every_transpose_and_precision, device_fixture) {
  struct shape { int m, n, k; };
  for (const auto p : {precision::fp32, precision::tf32, precision::bf16}) {
    auto g = make_backend("cuda:0", p);
    const double tol = p == precision::fp32 ? product_fp32 : p == precision::tf32 ? 5e-3 : 2e-2;
    for (const shape s : {shape{5, 7, 9}, shape{64, 33, 130}, shape{1, 10, 128}})
      for (const bool ta : {false, true})
        for (const bool tb : {false, true}) {
          const int lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n;
          const auto a = random_floats(static_cast<std::size_t>(s.m) * s.k, 1);
          const auto b = random_floats(static_cast<std::size_t>(s.k) * s.n, 2);
          auto c = random_floats(static_cast<std::size_t>(s.m) * s.n, 3);
          auto da = g->allocate(a.size()), db = g->allocate(b.size()), dc = g->allocate(c.size());
          g->copy_from_host(da.data(), a.data(), a.size());
          g->copy_from_host(db.data(), b.data(), b.size());
          g->copy_from_host(dc.data(), c.data(), c.size());
          g->gemm(ta, tb, s.m, s.n, s.k, 0.5f, da.data(), lda, db.data(), ldb, 0.25f, dc.data(), s.n);
          cpu.gemm(ta, tb, s.m, s.n, s.k, 0.5f, a.data(), lda, b.data(), ldb, 0.25f, c.data(), s.n);
          std::vector<float> out(c.size());
          g->copy_to_host(out.data(), dc.data(), out.size());
          BOOST_TEST_CONTEXT(to_string(p) << " " << s.m << "x" << s.n << "x" << s.k << " ta " << ta
                                          << " tb " << tb) {
            // products of k terms in [-1, 1]: an absolute floor of tol * sqrt(k)
            expect_close(out, c, tol, tol * std::sqrt(static_cast<double>(s.k)));
          }
        }
  }
}

BOOST_FIXTURE_TEST_CASE(bias_activation_and_its_backward_match_the_cpu, device_fixture) {
  const int rows = 37, cols = 19;
  const auto bias = random_floats(cols, 4);
  for (const auto act : all_activations) {
    auto z = random_floats(static_cast<std::size_t>(rows) * cols, 5, -3, 3);
    auto dz = up(z), db = up(bias);
    gpu->bias_activation(act, rows, cols, db.data(), dz.data());
    cpu.bias_activation(act, rows, cols, bias.data(), z.data());
    BOOST_TEST_CONTEXT(to_string(act)) { expect_close(down(dz), z, elementwise); }
    auto g = random_floats(z.size(), 6);
    auto dg = up(g);
    gpu->activation_backward(act, z.size(), dz.data(), dg.data());
    cpu.activation_backward(act, z.size(), z.data(), g.data());
    BOOST_TEST_CONTEXT(to_string(act) << " backward") { expect_close(down(dg), g, elementwise); }
  }
}

BOOST_FIXTURE_TEST_CASE(column_sums_match_the_cpu_for_each_beta, device_fixture) {
  for (const float beta : {0.0f, 1.0f, 0.5f})
    for (const int rows : {1, 300}) {
      const int cols = 13;
      const auto a = random_floats(static_cast<std::size_t>(rows) * cols, 7);
      auto out = random_floats(cols, 8);
      auto da = up(a), dout = up(out);
      gpu->column_sums(rows, cols, da.data(), beta, dout.data());
      cpu.column_sums(rows, cols, a.data(), beta, out.data());
      BOOST_TEST_CONTEXT("beta " << beta << " rows " << rows) {
        expect_close(down(dout), out, elementwise, 1e-5);
      }
    }
}

BOOST_FIXTURE_TEST_CASE(softmax_and_sigmoid_match_the_cpu, device_fixture) {
  for (const int cols : {3, 10, 100}) {
    auto z = random_floats(static_cast<std::size_t>(17) * cols, 9, -8, 8);
    auto dz = up(z);
    gpu->softmax_rows(17, cols, dz.data());
    cpu.softmax_rows(17, cols, z.data());
    BOOST_TEST_CONTEXT("cols " << cols) { expect_close(down(dz), z, elementwise); }
  }
  auto s = random_floats(1000, 10, -20, 20);
  auto ds = up(s);
  gpu->sigmoid(s.size(), ds.data());
  cpu.sigmoid(s.size(), s.data());
  expect_close(down(ds), s, elementwise);
}

BOOST_FIXTURE_TEST_CASE(fused_losses_match_the_cpu_gradient_and_loss, device_fixture) {
  const int rows = 70, cols = 10;
  // softmax + cross-entropy, gradient in place over the logits as the model calls it
  auto z = random_floats(static_cast<std::size_t>(rows) * cols, 11, -5, 5);
  std::vector<float> labels(rows);
  for (int r = 0; r < rows; ++r) labels[r] = static_cast<float>((r * 7) % cols);
  auto dz = up(z), dl = up(labels), dloss = up({0.0f});
  float loss = 0;
  gpu->softmax_cross_entropy(rows, cols, dz.data(), dl.data(), 0.25f, dz.data(), dloss.data());
  cpu.softmax_cross_entropy(rows, cols, z.data(), labels.data(), 0.25f, z.data(), &loss);
  expect_close(down(dz), z, elementwise);
  expect_close(down(dloss), {loss}, elementwise);

  // sigmoid + binary cross-entropy, with large logits
  auto b = random_floats(rows, 12, -40, 40);
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) y[r] = static_cast<float>(r % 2);
  auto db = up(b), dy = up(y), dg = gpu->allocate(rows);
  std::vector<float> g(rows);
  gpu->sigmoid_binary_cross_entropy(rows, db.data(), dy.data(), 0.5f, dg.data(), dloss.data());
  cpu.sigmoid_binary_cross_entropy(rows, b.data(), y.data(), 0.5f, g.data(), &loss);
  expect_close(down(dg), g, elementwise);
  expect_close(down(dloss), {loss}, elementwise);

  // squared error over a matrix
  auto p = random_floats(static_cast<std::size_t>(rows) * 3, 13);
  const auto t = random_floats(p.size(), 14);
  auto dp = up(p), dt = up(t);
  gpu->squared_error(p.size(), dp.data(), dt.data(), 2.0f, dp.data(), dloss.data());
  cpu.squared_error(p.size(), p.data(), t.data(), 2.0f, p.data(), &loss);
  expect_close(down(dp), p, elementwise);
  expect_close(down(dloss), {loss}, elementwise);
}

BOOST_FIXTURE_TEST_CASE(gather_rows_matches_the_cpu, device_fixture) {
  const int rows = 1000, cols = 37;
  const auto table = random_floats(static_cast<std::size_t>(rows) * cols, 40);
  std::vector<float> index;
  for (int r = 0; r < 300; ++r) index.push_back(static_cast<float>((r * 7919) % rows));
  std::vector<float> out(index.size() * cols);
  auto dt = up(table), di = up(index), dout = gpu->allocate(out.size());
  gpu->gather_rows(static_cast<int>(index.size()), cols, dt.data(), di.data(), dout.data());
  cpu.gather_rows(static_cast<int>(index.size()), cols, table.data(), index.data(), out.data());
  BOOST_TEST(down(dout) == out, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(vector_operations_match_the_cpu, device_fixture) {
  const std::size_t n = 100003; // several blocks, and a ragged last one
  const auto x = random_floats(n, 15);
  auto y = random_floats(n, 16);
  auto dx = up(x), dy = up(y);
  gpu->axpy(n, -0.75f, dx.data(), dy.data());
  cpu.axpy(n, -0.75f, x.data(), y.data());
  expect_close(down(dy), y, elementwise);
  gpu->scale(n, 3.0f, dy.data());
  cpu.scale(n, 3.0f, y.data());
  expect_close(down(dy), y, elementwise);
  auto dout = up({1.5f});
  float out = 1.5f;
  gpu->add_dot(n, 0.5f, dx.data(), dy.data(), dout.data());
  cpu.add_dot(n, 0.5f, x.data(), y.data(), &out);
  expect_close(down(dout), {out}, elementwise);
  gpu->fill(dy.data(), 2.5f, n);
  gpu->copy(dx.data(), dy.data(), n / 2);
  auto back = down(dx);
  BOOST_TEST(back[0] == 2.5f);
  BOOST_TEST(back[n / 2 - 1] == 2.5f);
  BOOST_TEST(back[n / 2] == x[n / 2]);
}

BOOST_FIXTURE_TEST_CASE(optimizer_updates_match_the_cpu_over_several_steps, device_fixture) {
  const std::size_t n = 5000;
  for (const float momentum : {0.0f, 0.9f}) {
    auto w = random_floats(n, 17), v = std::vector<float>(n, 0.0f);
    auto dw = up(w), dv = up(v);
    for (unsigned step = 0; step < 3; ++step) {
      const auto g = random_floats(n, 18 + step);
      auto dg = up(g);
      gpu->sgd_momentum_update(n, 0.1f, momentum, dw.data(), dg.data(), dv.data());
      cpu.sgd_momentum_update(n, 0.1f, momentum, w.data(), g.data(), v.data());
    }
    BOOST_TEST_CONTEXT("sgd momentum " << momentum) {
      expect_close(down(dw), w, elementwise);
      expect_close(down(dv), v, elementwise);
    }
  }
  auto w = random_floats(n, 21), m = std::vector<float>(n, 0.0f), v = m;
  auto dw = up(w), dm = up(m), dv = up(v);
  for (long long step = 1; step <= 3; ++step) {
    const auto g = random_floats(n, 22 + static_cast<unsigned>(step));
    auto dg = up(g);
    gpu->adam_update(n, 1e-3f, 0.9f, 0.999f, 1e-8f, step, dw.data(), dg.data(), dm.data(), dv.data());
    cpu.adam_update(n, 1e-3f, 0.9f, 0.999f, 1e-8f, step, w.data(), g.data(), m.data(), v.data());
  }
  expect_close(down(dw), w, elementwise);
  expect_close(down(dm), m, elementwise);
  expect_close(down(dv), v, elementwise);
}

// One training step of each model kind: loss, gradients (backward), the updated
// weights (optimizer) and the predictions, from the same seed on both backends.
BOOST_AUTO_TEST_CASE(a_training_step_of_each_model_matches_the_cpu) {
  struct example { std::string kind; std::vector<int> layers; int classes; };
  const int rows = 48;
  for (const auto& e : {example{"mlp", {20, 32, 16, 5}, 5}, example{"mlp", {20, 8, 1}, 2},
                        example{"softmax", {20, 4}, 4}, example{"logistic", {20}, 2},
                        example{"linear", {20, 3}, 0}}) {
    model_spec spec;
    spec.kind = e.kind;
    spec.layers = e.layers;
    spec.seed = 7;
    spec.weight_decay = 1e-3f;
    spec = validate(spec);
    auto gpu = make_backend("cuda:0");
    model on_gpu(spec, *gpu), on_cpu(spec);
    const auto x = random_floats(static_cast<std::size_t>(rows) * e.layers.front(), 30);
    std::vector<float> y;
    if (e.classes > 0)
      for (int r = 0; r < rows; ++r) y.push_back(static_cast<float>(r % e.classes));
    else
      y = random_floats(static_cast<std::size_t>(rows) * e.layers.back(), 31);
    optimizer_spec os;
    os.learning_rate = 0.05f;
    os.momentum = 0.9f;
    optimizer opt_gpu(os, on_gpu.parameter_count(), *gpu), opt_cpu(os, on_cpu.parameter_count());
    for (int step = 0; step < 2; ++step) {
      on_gpu.compute_gradients(x.data(), y.data(), rows);
      on_cpu.compute_gradients(x.data(), y.data(), rows);
      BOOST_TEST_CONTEXT(e.kind << " step " << step) {
        std::vector<float> g(on_gpu.reduction_size());
        gpu->copy_to_host(g.data(), on_gpu.gradients(), g.size());
        g.resize(on_gpu.parameter_count() + 1); // gradients and the loss slot
        std::vector<float> c(on_cpu.gradients(), on_cpu.gradients() + g.size());
        expect_close(g, c, product_fp32, 1e-5);
      }
      opt_gpu.step(on_gpu.parameters(), on_gpu.gradients());
      opt_cpu.step(on_cpu.parameters(), on_cpu.gradients());
      BOOST_TEST_CONTEXT(e.kind << " weights after step " << step) {
        expect_close(on_gpu.parameters_to_host(), on_cpu.parameters_to_host(), product_fp32, 1e-5);
      }
    }
    std::vector<float> pg(static_cast<std::size_t>(rows) * on_gpu.output_width()), pc(pg.size());
    on_gpu.predict(x.data(), rows, pg.data());
    on_cpu.predict(x.data(), rows, pc.data());
    BOOST_TEST_CONTEXT(e.kind << " predict") { expect_close(pg, pc, product_fp32, 1e-5); }
  }
}

// CUDA graphs (compute/replayed_step): the same 30 steps, one model's forward and
// backward replayed from a recording, the other's launched kernel by kernel, on the
// same rows (gathered on the device, as the trainer does): the same kernels in the same
// order, so the same weights (within fp32 product tolerance, should cuBLAS pick another
// algorithm inside a graph); softmax + Adam + L2, so every fused kernel is recorded.
BOOST_AUTO_TEST_CASE(a_step_replayed_from_a_cuda_graph_trains_as_the_eager_step) {
  const int rows = 64, features = 20, total = 512;
  model_spec spec;
  spec.kind = "mlp";
  spec.layers = {features, 32, 16, 5};
  spec.seed = 11;
  spec.weight_decay = 1e-3f;
  spec = validate(spec);
  auto gpu = make_backend("cuda:0");
  model graphed(spec, *gpu), eager(spec, *gpu);
  optimizer_spec os;
  os.kind = optimizer_kind::adam;
  os.learning_rate = 0.01f;
  optimizer opt_g(os, graphed.parameter_count(), *gpu), opt_e(os, eager.parameter_count(), *gpu);
  const auto x = random_floats(static_cast<std::size_t>(total) * features, 40);
  std::vector<float> y(total), order(total);
  for (int r = 0; r < total; ++r) {
    y[static_cast<std::size_t>(r)] = static_cast<float>(r % 5);
    order[static_cast<std::size_t>(r)] = static_cast<float>((r * 37) % total);
  }
  auto dx = gpu->allocate(x.size()), dy = gpu->allocate(y.size()), dorder = gpu->allocate(order.size());
  gpu->copy_from_host(dx.data(), x.data(), x.size());
  gpu->copy_from_host(dy.data(), y.data(), y.size());
  gpu->copy_from_host(dorder.data(), order.data(), order.size());
  auto bx = gpu->allocate(static_cast<std::size_t>(rows) * features), by = gpu->allocate(rows);
  replayed_step step;
  for (int s = 0; s < 30; ++s) {
    const auto off = static_cast<std::size_t>((s * rows) % total);
    gpu->gather_rows(rows, features, dx.data(), dorder.data() + off, bx.data());
    gpu->gather_rows(rows, 1, dy.data(), dorder.data() + off, by.data());
    step.run(*gpu, {1, 0, 0, 0, 0, 0},
             [&] { graphed.compute_gradients_in_backend(bx.data(), by.data(), rows); });
    graphed.apply(opt_g);
    eager.compute_gradients_in_backend(bx.data(), by.data(), rows);
    eager.apply(opt_e);
  }
  BOOST_TEST(step.recordings() == 1u);
  BOOST_TEST(step.replays() == 29u);
  BOOST_TEST(step.failures() == 0u);
  BOOST_TEST(graphed.loss_to_host() == eager.loss_to_host(), boost::test_tools::tolerance(1e-4f));
  expect_close(graphed.parameters_to_host(), eager.parameters_to_host(), product_fp32, 1e-5);
}

// While recording, an allocation (here: a buffer) is refused naming what happened, the
// capture is dropped, and the stream works eagerly after it.
BOOST_FIXTURE_TEST_CASE(recording_refuses_an_allocation_and_the_stream_works_after,
                        device_fixture) {
  auto b = up({1, 2, 3});
  try {
    gpu->record([&] {
      gpu->fill(b.data(), 7.0f, 3);
      auto more = gpu->allocate(16);
    });
    BOOST_FAIL("an allocation while recording was accepted");
  } catch (const std::runtime_error& e) { // gpu_error
    BOOST_TEST(std::string(e.what()).find("allocate while recording a CUDA graph") !=
               std::string::npos, e.what());
  }
  BOOST_TEST(down(b) == (std::vector<float>{1, 2, 3}), boost::test_tools::per_element());
  gpu->fill(b.data(), 4.0f, 3);
  BOOST_TEST(down(b) == (std::vector<float>{4, 4, 4}), boost::test_tools::per_element());
  // a recording replays its work on the buffers' current contents
  auto rec = gpu->record([&] { gpu->scale(3, 2.0f, b.data()); });
  BOOST_TEST_REQUIRE(static_cast<bool>(rec));
  BOOST_TEST(down(b) == (std::vector<float>{4, 4, 4}), boost::test_tools::per_element());
  rec->replay();
  rec->replay();
  BOOST_TEST(down(b) == (std::vector<float>{16, 16, 16}), boost::test_tools::per_element());
}

// Two alternating upload buffers, each refilled after the mark of the step that read it
// (the trainer's path for datasets in host memory): every step sees its own rows, so
// the sums below come out as with plain uploads, while uploads overlap compute.
BOOST_FIXTURE_TEST_CASE(uploads_after_a_mark_wait_for_the_step_that_read_the_buffer,
                        device_fixture) {
  const std::size_t n = 1 << 20; // big enough that an upload takes a while
  buffer pair[2] = {gpu->allocate(n), gpu->allocate(n)};
  backend::work_mark read_by[2] = {0, 0};
  auto sums = gpu->allocate(40);
  auto ones = up(std::vector<float>(n, 1.0f));
  std::vector<float> host(n);
  for (int s = 0; s < 40; ++s) {
    std::fill(host.begin(), host.end(), static_cast<float>(s));
    auto& slot = pair[s % 2];
    gpu->copy_from_host_after(read_by[s % 2], slot.data(), host.data(), n);
    gpu->add_dot(n, 1.0f, slot.data(), ones.data(), sums.data() + s); // reads the slot
    read_by[s % 2] = gpu->mark();
  }
  const auto got = down(sums);
  for (int s = 0; s < 40; ++s)
    BOOST_TEST(got[static_cast<std::size_t>(s)] == static_cast<float>(s) * n, "step " << s);
  BOOST_CHECK_THROW(gpu->copy_from_host_after(1000, pair[0].data(), host.data(), 1),
                    std::invalid_argument);
}

// The NCCL watchdog: rank 1 joins and then never starts its all-reduce (a hung rank).
// Rank 0's all-reduce is queued on its stream and looks ready; its next wait for the
// stream returns once the watchdog has aborted the communicator (500 ms), and every
// later operation fails naming the timeout. Needs two GPUs (NCCL takes one rank per GPU).
BOOST_AUTO_TEST_CASE(a_rank_that_never_joins_the_all_reduce_is_cut_off_by_the_watchdog,
                     *utf::precondition([](utf::test_unit_id) { return gpu_count() >= 2; })) {
  const std::string id = make_device_group_id("cuda", 2);
  const auto limit = std::chrono::milliseconds(500);
  std::string rank0_error;
  std::promise<void> rank0_done;
  std::thread hung([&, finished = rank0_done.get_future()] {
    auto be = make_backend("cuda:1");
    auto host = single_rank_collective();
    auto group = make_device_collective(*host, id, 1, 2, *be, limit);
    while (!group->ready()) std::this_thread::yield(); // joined
    finished.wait();
    group->abort(); // its supervisor ends it
  });
  {
    auto be = make_backend("cuda:0");
    auto host = single_rank_collective();
    auto group = make_device_collective(*host, id, 0, 2, *be, limit);
    while (!group->ready()) std::this_thread::yield();
    auto data = be->allocate(1000);
    group->start_all_reduce(data.data(), 1000);
    std::vector<float> out(1000);
    try {
      be->copy_to_host(out.data(), data.data(), 1000); // waits for the stream: freed by the abort
    } catch (const std::exception&) {
    }
    try {
      group->start_all_reduce(data.data(), 1000);
    } catch (const std::exception& e) {
      rank0_error = e.what();
    }
  }
  rank0_done.set_value();
  hung.join();
  BOOST_TEST(rank0_error.find("collective_timeout") != std::string::npos, rank0_error);
}

// One rank per GPU (one rank on a machine with one), each on its own thread as trainer
// replicas are: the non-blocking join and an all-reduce, polled through ready().
BOOST_AUTO_TEST_CASE(nccl_all_reduce_sums_the_ranks_on_every_gpu) {
  const int ranks = gpu_count();
  const std::string id = make_device_group_id("cuda", 2); // rank 0 makes it
  BOOST_TEST_REQUIRE(!id.empty());
  const std::size_t n = 1000;
  std::vector<std::vector<float>> results(static_cast<std::size_t>(ranks));
  std::vector<std::string> errors(static_cast<std::size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        auto be = make_backend("cuda:" + std::to_string(r));
        auto host = single_rank_collective(); // broadcasts are not used here
        auto group = make_device_collective(*host, id, r, ranks, *be, std::chrono::seconds(60));
        std::vector<float> mine(n, static_cast<float>(r + 1));
        auto data = be->allocate(n);
        be->copy_from_host(data.data(), mine.data(), n);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!group->ready() && std::chrono::steady_clock::now() < deadline)
          std::this_thread::yield();
        group->start_all_reduce(data.data(), n);
        while (!group->ready() && std::chrono::steady_clock::now() < deadline)
          std::this_thread::yield();
        group->complete();
        be->copy_to_host(mine.data(), data.data(), n);
        results[static_cast<std::size_t>(r)] = mine;
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  const float sum = static_cast<float>(ranks * (ranks + 1) / 2);
  for (int r = 0; r < ranks; ++r) {
    BOOST_TEST_CONTEXT("rank " << r) {
      BOOST_TEST(errors[static_cast<std::size_t>(r)] == "");
      BOOST_TEST_REQUIRE(results[static_cast<std::size_t>(r)].size() == n);
      BOOST_TEST(results[static_cast<std::size_t>(r)].front() == sum);
      BOOST_TEST(results[static_cast<std::size_t>(r)].back() == sum);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_gpu_that_is_not_there_is_refused_naming_it) {
  std::string why;
  const int gpus = gpu_count(&why);
  try {
    make_backend("cuda:" + std::to_string(gpus));
    BOOST_FAIL("no error");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("this machine has " + std::to_string(gpus) + " GPU(s)") !=
                   std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
