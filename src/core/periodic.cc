#include "rampart/core/periodic.h"

#include <utility>

namespace rampart {

void PeriodicThread::Start(std::function<void()> task) {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this, task = std::move(task)] {
    for (;;) {
      task();
      std::unique_lock wait_lock(mu_);
      if (cv_.wait_for(wait_lock, interval_, [this] { return stopping_; })) return;
    }
  });
}

void PeriodicThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool PeriodicThread::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

}  // namespace rampart
