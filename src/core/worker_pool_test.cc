#include "rampart/core/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace rampart {
namespace {

TEST(WorkerPool, RunsTasksOnItsThreads) {
  WorkerPool pool(2, 8);
  std::promise<std::thread::id> ran;
  auto id = ran.get_future();
  ASSERT_TRUE(pool.TryPost([&] { ran.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(id.get(), std::this_thread::get_id());
}

// A flood beyond the backlog is refused at once, not queued without end.
TEST(WorkerPool, RefusesBeyondTheBacklog) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  int accepted = 0;
  {
    WorkerPool pool(1, 3);
    for (int i = 0; i < 20; ++i) {
      if (pool.TryPost([&, gate] {
            gate.wait();
            ran.fetch_add(1);
          })) {
        ++accepted;
      }
    }
    // One running (or about to) + three waiting; the idle thread may count once more.
    EXPECT_GE(accepted, 3);
    EXPECT_LE(accepted, 5);
    release.set_value();
  }  // the destructor runs what was accepted
  EXPECT_EQ(ran.load(), accepted);
}

TEST(WorkerPool, AThrowingTaskDoesNotStopThePool) {
  WorkerPool pool(1, 4);
  ASSERT_TRUE(pool.TryPost([] { throw std::runtime_error("boom"); }));
  std::promise<void> done;
  auto f = done.get_future();
  ASSERT_TRUE(pool.TryPost([&] { done.set_value(); }));
  EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

}  // namespace
}  // namespace rampart
