#include "compute/replayed_step.hpp"

#include <exception>

namespace conveyor::compute {

replayed_step::entry* replayed_step::find(const key& k) {
  for (auto& e : entries_)
    if (e.k == k) return &e;
  return nullptr;
}

void replayed_step::clear() noexcept {
  entries_.clear();
  backend_ = nullptr;
  unsupported_ = false;
}

void replayed_step::run(backend& be, const key& k, const std::function<void()>& body) {
  if (backend_ != &be) { // a recording replays on the backend that made it only
    clear();
    backend_ = &be;
  }
  if (unsupported_) {
    body();
    return;
  }
  entry* e = find(k);
  if (!e) { // first run under this key: eager, so scratch memory reaches its size
    if (entries_.size() == capacity) entries_.pop_front();
    entries_.push_back(entry{k, nullptr});
    body();
    return;
  }
  if (e->failed) {
    body();
    return;
  }
  if (!e->recording) {
    try {
      e->recording = be.record(body);
    } catch (const std::exception& error) { // abandoned by the backend: run it eagerly
      e->failed = true;
      ++failures_;
      last_failure_ = error.what();
      body();
      return;
    }
    if (!e->recording) { // this backend cannot record (body did not run)
      unsupported_ = true;
      entries_.clear();
      body();
      return;
    }
    ++recordings_;
  }
  e->recording->replay();
  ++replays_;
}

} // namespace conveyor::compute
