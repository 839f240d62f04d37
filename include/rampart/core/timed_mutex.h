// TimedMutex: a mutex whose lock can give up at a deadline (std::unique_lock's
// try_lock_until works on it), built on std::mutex and std::condition_variable.
//
// Why not std::timed_mutex: libstdc++ 12 implements its try_lock_until with
// pthread_mutex_clocklock, which g++ 12's ThreadSanitizer does not intercept. TSan then
// never sees the lock taken, reports every unlock as "of an unlocked mutex" and every
// access the lock guards as a data race, which hides a real race among them. Here the
// holder is a flag guarded by a std::mutex (always seen), so TSan sees the ordering.
//
// Not recursive. Waiters are woken in no particular order (as with std::timed_mutex).
// Thread-safety: every member is safe from any thread; unlock() only by the holder.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace rampart {

class TimedMutex {
 public:
  TimedMutex() = default;
  TimedMutex(const TimedMutex&) = delete;
  TimedMutex& operator=(const TimedMutex&) = delete;

  void lock() {
    std::unique_lock guard(mu_);
    free_.wait(guard, [this] { return !held_; });
    held_ = true;
  }

  bool try_lock() {
    std::lock_guard guard(mu_);
    if (held_) return false;
    held_ = true;
    return true;
  }

  // false when the lock was still held by another at `deadline` (a deadline already
  // past still takes a free lock).
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& deadline) {
    std::unique_lock guard(mu_);
    if (!free_.wait_until(guard, deadline, [this] { return !held_; })) return false;
    held_ = true;
    return true;
  }

  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return try_lock_until(std::chrono::steady_clock::now() + timeout);
  }

  void unlock() {
    {
      std::lock_guard guard(mu_);
      held_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable free_;  // signalled when held_ turns false
  bool held_ = false;             // guarded by mu_: the TimedMutex is taken
};

}  // namespace rampart
