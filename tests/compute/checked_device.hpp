// A backend for tests of the path through non-host memory (the CUDA backend's), run on
// the CPU: `checked_device` keeps its own allocations, says host_memory() == false, and
// refuses any operation given a pointer that is not inside one of them (a host pointer
// passed where backend memory belongs) with std::logic_error naming the operation.
// Its operations are the CPU backend's. Not final: a test may add what a device has
// (recordings, tests/compute/replayed_step_test.cpp).
#pragma once

#include "compute/cpu/cpu_backend.hpp"

#include <map>
#include <stdexcept>
#include <string>

namespace conveyor::compute::testing {

class checked_device : public backend {
public:
  const char* name() const noexcept override { return "checked"; }
  std::string describe() const override { return "checked device (CPU)"; }
  bool host_memory() const noexcept override { return false; }
  void set_threads(int n) override { cpu_.set_threads(n); }
  int threads() const override { return cpu_.threads(); }

  buffer allocate(std::size_t n) override {
    auto b = cpu_.allocate(n);
    float* p = b.data();
    owned_.emplace(p, std::move(b));
    return buffer(this, p, n);
  }
  void release(float* data, std::size_t) noexcept override { owned_.erase(data); }

  void copy_from_host(float* dst, const float* src, std::size_t n) override {
    cpu_.copy_from_host(mine(dst, n, "copy_from_host"), src, n);
  }
  void copy_to_host(float* dst, const float* src, std::size_t n) override {
    cpu_.copy_to_host(dst, mine(src, n, "copy_to_host"), n);
  }
  void copy(float* dst, const float* src, std::size_t n) override {
    cpu_.copy(mine(dst, n, "copy"), mine(src, n, "copy"), n);
  }
  void fill(float* dst, float v, std::size_t n) override { cpu_.fill(mine(dst, n, "fill"), v, n); }
  void gather_rows(int rows, int cols, const float* table, const float* index,
                   float* out) override {
    const auto n = static_cast<std::size_t>(rows) * cols;
    cpu_.gather_rows(rows, cols, mine(table, 1, "gather table"), mine(index, rows, "gather index"),
                     mine(out, n, "gather out"));
  }
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override {
    cpu_.gemm(ta, tb, m, n, k, alpha, mine(a, 1, "gemm a"), lda, mine(b, 1, "gemm b"), ldb, beta,
              mine(c, 1, "gemm c"), ldc);
  }
  void bias_activation(activation act, int rows, int cols, const float* bias, float* z) override {
    cpu_.bias_activation(act, rows, cols, mine(bias, cols, "bias"), mine(z, 1, "bias z"));
  }
  void activation_backward(activation act, std::size_t n, const float* y, float* g) override {
    cpu_.activation_backward(act, n, mine(y, n, "activation y"), mine(g, n, "activation g"));
  }
  void column_sums(int rows, int cols, const float* a, float beta, float* out) override {
    cpu_.column_sums(rows, cols, mine(a, 1, "column_sums a"), beta, mine(out, cols, "column_sums"));
  }
  void softmax_rows(int rows, int cols, float* z) override {
    cpu_.softmax_rows(rows, cols, mine(z, 1, "softmax_rows"));
  }
  void sigmoid(std::size_t n, float* z) override { cpu_.sigmoid(n, mine(z, n, "sigmoid")); }
  void softmax_cross_entropy(int rows, int cols, const float* z, const float* labels, float s,
                             float* g, float* loss) override {
    cpu_.softmax_cross_entropy(rows, cols, mine(z, 1, "ce logits"), mine(labels, rows, "ce labels"),
                               s, mine(g, 1, "ce grad"), mine(loss, 1, "ce loss"));
  }
  void sigmoid_binary_cross_entropy(int rows, const float* z, const float* labels, float s,
                                    float* g, float* loss) override {
    cpu_.sigmoid_binary_cross_entropy(rows, mine(z, rows, "bce logits"),
                                      mine(labels, rows, "bce labels"), s,
                                      mine(g, rows, "bce grad"), mine(loss, 1, "bce loss"));
  }
  void squared_error(std::size_t n, const float* p, const float* t, float s, float* g,
                     float* loss) override {
    cpu_.squared_error(n, mine(p, n, "se pred"), mine(t, n, "se target"), s, mine(g, n, "se grad"),
                       mine(loss, 1, "se loss"));
  }
  void axpy(std::size_t n, float alpha, const float* x, float* y) override {
    cpu_.axpy(n, alpha, mine(x, n, "axpy x"), mine(y, n, "axpy y"));
  }
  void scale(std::size_t n, float alpha, float* x) override { cpu_.scale(n, alpha, mine(x, n, "scale")); }
  void add_dot(std::size_t n, float alpha, const float* x, const float* y, float* out) override {
    cpu_.add_dot(n, alpha, mine(x, n, "dot x"), mine(y, n, "dot y"), mine(out, 1, "dot out"));
  }
  void sgd_momentum_update(std::size_t n, float lr, float mom, float* w, const float* g,
                           float* v) override {
    cpu_.sgd_momentum_update(n, lr, mom, mine(w, n, "sgd w"), mine(g, n, "sgd g"),
                             mom == 0.0f ? v : mine(v, n, "sgd v"));
  }
  void adam_update(std::size_t n, float lr, float b1, float b2, float eps, long long step,
                   float* w, const float* g, float* m, float* v) override {
    cpu_.adam_update(n, lr, b1, b2, eps, step, mine(w, n, "adam w"), mine(g, n, "adam g"),
                     mine(m, n, "adam m"), mine(v, n, "adam v"));
  }

private:
  /// `p` when [p, p + n) lies inside one allocation (or n is 0); throws naming the
  /// operation.
  template <class T> T* mine(T* p, std::size_t n, const char* what) const {
    if (n == 0) return p;
    auto it = owned_.upper_bound(const_cast<float*>(p));
    if (it != owned_.begin()) {
      --it;
      const float* base = it->first;
      if (p >= base && p + n <= base + it->second.size()) return p;
    }
    throw std::logic_error(std::string(what) + ": not backend memory");
  }

  cpu_backend cpu_;
  std::map<float*, buffer> owned_;
};

} // namespace conveyor::compute::testing
