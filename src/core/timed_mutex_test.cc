#include "rampart/core/timed_mutex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace rampart {
namespace {

using std::chrono::steady_clock;

TEST(TimedMutex, AHeldLockIsRefusedAtTheDeadlineAndTakenOnceFree) {
  TimedMutex m;
  m.lock();
  std::async(std::launch::async, [&] {
    EXPECT_FALSE(m.try_lock());
    EXPECT_FALSE(m.try_lock_until(steady_clock::now()));
    EXPECT_FALSE(m.try_lock_for(std::chrono::milliseconds(1)));
  }).get();
  m.unlock();
  std::async(std::launch::async, [&] {
    // A deadline already past still takes a free lock.
    EXPECT_TRUE(m.try_lock_until(steady_clock::now() - std::chrono::seconds(1)));
    m.unlock();
  }).get();
}

// A waiter with a distant deadline gets the lock when the holder lets go.
TEST(TimedMutex, AWaiterIsWokenByTheUnlock) {
  TimedMutex m;
  m.lock();
  std::promise<void> waiting;
  auto waiter = std::async(std::launch::async, [&] {
    waiting.set_value();
    std::unique_lock lock(m, std::defer_lock);
    return lock.try_lock_until(steady_clock::now() + std::chrono::minutes(5));
  });
  waiting.get_future().wait();
  m.unlock();
  EXPECT_TRUE(waiter.get());
}

// Mutual exclusion, and the ordering a race detector needs: a plain counter written by
// every thread under the lock (the ThreadSanitizer tree reports a race if the lock did
// not order the writes).
TEST(TimedMutex, GuardsSharedStateAcrossThreads) {
  TimedMutex m;
  long counter = 0;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        if ((i + t) % 2 == 0) {
          std::unique_lock lock(m, std::defer_lock);
          ASSERT_TRUE(lock.try_lock_until(steady_clock::now() + std::chrono::minutes(5)));
          ++counter;
        } else {
          std::lock_guard lock(m);
          ++counter;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, long{kThreads} * kRounds);
}

}  // namespace
}  // namespace rampart
