#include "rampart/core/periodic.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rampart {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

TEST(PeriodicThreadTest, RunsAtOnceThenEveryIntervalUntilStopped) {
  PeriodicThread periodic(milliseconds(1));
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  periodic.Start([&] {
    std::lock_guard lock(mu);
    ++calls;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return calls >= 3; });  // the interval repeats it
  }
  periodic.Stop();
  int after_stop = 0;
  {
    std::lock_guard lock(mu);
    after_stop = calls;
  }
  EXPECT_TRUE(periodic.stopping());
  std::lock_guard lock(mu);
  EXPECT_EQ(calls, after_stop);  // joined: no call after Stop returned
}

TEST(PeriodicThreadTest, StopWakesALongWaitAndTheTaskSeesStopping) {
  PeriodicThread periodic(hours(24));
  std::atomic<int> calls{0};
  std::atomic<bool> saw_stopping{false};
  periodic.Start([&] {
    ++calls;
    // The first call runs until Stop() was called: a batch loop asks stopping().
    while (!periodic.stopping()) std::this_thread::yield();
    saw_stopping = true;
  });
  while (calls.load() == 0) std::this_thread::yield();
  periodic.Stop();  // returns although the next call is a day away
  EXPECT_TRUE(saw_stopping.load());
  EXPECT_EQ(calls.load(), 1);
}

TEST(PeriodicThreadTest, StartAfterStopAndTwiceDoNothing) {
  std::atomic<int> calls{0};
  {
    PeriodicThread periodic(hours(24));
    periodic.Stop();
    periodic.Start([&] { ++calls; });
  }
  EXPECT_EQ(calls.load(), 0);
  PeriodicThread periodic(hours(24));
  std::atomic<int> second{0};
  periodic.Start([&] { ++calls; });
  periodic.Start([&] { ++second; });
  while (calls.load() == 0) std::this_thread::yield();
  periodic.Stop();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(second.load(), 0);
}

}  // namespace
}  // namespace rampart
