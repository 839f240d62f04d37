// A background thread that calls a task at once and then every `interval` until Stop():
// the shape of the store sweeps (run retention, audit retention). The task can ask
// stopping() between its batches to end early.
//
// Thread-safety: Start, Stop and stopping may be called from any thread; the task runs on
// the background thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace rampart {

class PeriodicThread {
 public:
  explicit PeriodicThread(std::chrono::milliseconds interval) : interval_(interval) {}
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Starts the thread (a first call of `task` at once). No effect once started or stopped.
  void Start(std::function<void()> task);
  // Wakes the thread out of its wait, lets the task call in flight return, joins.
  void Stop();
  // True once Stop() was called.
  bool stopping() const;

 private:
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace rampart
