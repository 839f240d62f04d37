// WorkerPool: a fixed set of threads for work that must not run on an io thread or the
// store's writer thread (password hashing: tens of milliseconds of CPU and 19 MiB each),
// with a bounded backlog so a flood is refused instead of queued without end.
//
// Thread-safety: TryPost() is safe from any thread. The destructor runs what is still
// queued, then joins the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rampart {

class WorkerPool {
 public:
  // `threads` >= 1; at most `max_pending` tasks wait for a thread (0: none may wait).
  WorkerPool(int threads, size_t max_pending);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and `task` dropped unrun) when the backlog is full. A task that
  // throws is dropped with its exception; the thread goes on.
  bool TryPost(std::function<void()> task);

 private:
  void Loop();

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  size_t idle_ = 0;                          // threads waiting for a task; guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace rampart
