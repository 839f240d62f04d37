#include "rampart/schedule/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "rampart/actions/action.h"
#include "runs/test_util.h"

namespace rampart::schedule {
namespace {

using namespace std::chrono;
namespace bj = boost::json;

constexpr const char* kEvery5 = R"(
rampart: 1
id: tick
triggers:
  - { type: schedule, cron: "*/5 * * * *" }
steps:
  - { id: a, type: set, values: { v: 1 } }
)";

constexpr const char* kNoSchedule = R"(
rampart: 1
id: plain
steps:
  - { id: a, type: set, values: { v: 1 } }
)";

class FakeClock final : public Clock {
 public:
  explicit FakeClock(system_clock::time_point now) : now_(now) {}
  system_clock::time_point Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  steady_clock::time_point Monotonic() const override { return steady_clock::now(); }
  void SleepFor(nanoseconds) override {}
  void Set(system_clock::time_point t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  system_clock::time_point now_;
};

system_clock::time_point At(int h, int m, int s = 0) {
  return system_clock::time_point(sys_days(year{2026} / 12 / 6)) + hours(h) + minutes(m) +
         seconds(s);
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : clock_(At(10, 1)) { Open(); }

  void Open() {
    store_ = runs::testing::MakeStore(dir_.path());
    runs::RunEnvironment env;
    env.actions = &registry_;
    runs::RunServiceOptions options;
    options.workers = 2;
    service_ = std::make_unique<runs::RunService>(*store_, env, options);
    ASSERT_TRUE(service_->Start().ok());
    SchedulerOptions so;
    so.clock = &clock_;
    so.interval = milliseconds(20);
    so.page_size = page_size_;
    so.on_submit_error = [this](const SubmitFailure& f) { failures_.push_back(f); };
    scheduler_ = std::make_unique<Scheduler>(*store_, *service_, so);
  }

  // A process restart: everything in memory goes, the database stays.
  void Restart() {
    scheduler_.reset();
    service_->Stop(seconds(5));
    service_.reset();
    store_.reset();
    Open();
  }

  ~SchedulerTest() override {
    scheduler_.reset();
    if (service_) service_->Stop(seconds(5));
  }

  int Tick() {
    auto fired = scheduler_->Tick();
    EXPECT_TRUE(fired.ok()) << (fired.ok() ? "" : fired.error().message);
    return fired.ok() ? *fired : -1;
  }

  std::vector<store::Run> Runs(const std::string& workflow) {
    std::vector<store::Run> runs;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      store::RunFilter filter;
      filter.workflow_id = workflow;
      store::PageRequest page;
      page.limit = 200;
      auto listed = tx.ListRuns("org_a", filter, page);
      if (!listed.ok()) return listed.error();
      runs = std::move(listed->items);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return runs;
  }

  runs::testing::TempDir dir_;
  FakeClock clock_;
  actions::Registry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runs::RunService> service_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<SubmitFailure> failures_;
  int page_size_ = 1000;
};

// kEvery5 under another id.
std::string Every5(const std::string& id) {
  std::string yaml = kEvery5;
  yaml.replace(yaml.find("id: tick"), 8, "id: " + id);
  return yaml;
}

// A pass reads the scheduled workflows page by page: every one of them fires, whatever
// the page size; a workflow whose new live version has no schedule stops firing.
TEST_F(SchedulerTest, APassPagesThroughEveryScheduledWorkflow) {
  page_size_ = 2;
  Restart();
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutOrg(*store_, "org_b");
  for (const char* id : {"t1", "t2", "t3"}) {
    runs::testing::PutVersion(*store_, "org_a", 1, Every5(id), 1);
  }
  runs::testing::PutVersion(*store_, "org_a", 1, kNoSchedule, 1);
  runs::testing::PutVersion(*store_, "org_b", 1, Every5("t1"), 1);
  runs::testing::PutVersion(*store_, "org_b", 1, Every5("t2"), 1);
  EXPECT_EQ(Tick(), 0);  // first sight of all five
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 5);
  EXPECT_EQ(Runs("t3").size(), 1u);

  std::string unscheduled = kNoSchedule;
  unscheduled.replace(unscheduled.find("id: plain"), 9, "id: t2");
  runs::testing::PutVersion(*store_, "org_a", 2, unscheduled, 2);
  clock_.Set(At(10, 10));
  EXPECT_EQ(Tick(), 4);
  EXPECT_EQ(Runs("t2").size(), 1u);  // org_a's t2: only the run of 10:05
}

TEST_F(SchedulerTest, FiresOnTicksOnly) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  runs::testing::PutVersion(*store_, "org_a", 1, kNoSchedule, 1);

  EXPECT_EQ(Tick(), 0);  // first sight at 10:01: starts from now, runs nothing
  clock_.Set(At(10, 4, 59));
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5, 0));
  EXPECT_EQ(Tick(), 1);
  EXPECT_EQ(Tick(), 0);  // same tick again: nothing
  clock_.Set(At(10, 5, 40));
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 10, 1));
  EXPECT_EQ(Tick(), 1);

  auto runs = Runs("tick");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_TRUE(Runs("plain").empty());
  for (const store::Run& run : runs) {
    EXPECT_EQ(run.actor, "schedule");
    EXPECT_EQ(run.version, 1);
    const bj::value trigger = bj::parse(run.trigger);
    EXPECT_EQ(trigger.at("type").as_string(), "schedule");
    EXPECT_EQ(trigger.at("cron").as_string(), "*/5 * * * *");
  }
  // Newest first.
  EXPECT_EQ(bj::parse(runs[0].trigger).at("scheduled_for").as_string(), "2026-12-06T10:10:00.000Z")
      << runs[0].trigger;
  EXPECT_EQ(bj::parse(runs[1].trigger).at("scheduled_for").as_string(), "2026-12-06T10:05:00.000Z");
  EXPECT_EQ(scheduler_->Stats().fired, 2);
}

TEST_F(SchedulerTest, GapFiresOneCatchUpRun) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 1);

  // Down for 3 hours (36 ticks missed): one run, for the most recent missed tick.
  clock_.Set(At(13, 7, 30));
  Restart();
  EXPECT_EQ(Tick(), 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(13, 9, 59));
  EXPECT_EQ(Tick(), 0);
  auto runs = Runs("tick");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(bj::parse(runs[0].trigger).at("scheduled_for").as_string(), "2026-12-06T13:05:00.000Z");

  // Then normal again.
  clock_.Set(At(13, 10));
  EXPECT_EQ(Tick(), 1);
  EXPECT_EQ(Runs("tick").size(), 3u);
}

// Ticks whose claim cannot be written (the store refuses writes) fire nothing; once
// writes work again the next pass fires one run, for the latest tick: no burst of the
// ticks missed meanwhile, and nothing fired twice.
TEST_F(SchedulerTest, TicksWhoseClaimCannotBeWrittenFireOnceWhenWritesReturn) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  runs::testing::FailingStore failing(*store_);
  SchedulerOptions so;
  so.clock = &clock_;
  Scheduler scheduler(failing, *service_, so);
  auto tick = [&] {
    auto fired = scheduler.Tick();
    EXPECT_TRUE(fired.ok());
    return fired.ok() ? *fired : -1;
  };
  EXPECT_EQ(tick(), 0);  // first sight at 10:01
  failing.fail_all = true;
  for (int m : {5, 10, 15}) {
    clock_.Set(At(10, m));
    EXPECT_EQ(tick(), 0);
  }
  EXPECT_EQ(scheduler.Stats().errors, 3);
  failing.fail_all = false;
  clock_.Set(At(10, 16));
  EXPECT_EQ(tick(), 1);
  EXPECT_EQ(tick(), 0);
  auto runs = Runs("tick");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(bj::parse(runs[0].trigger).at("scheduled_for").as_string(), "2026-12-06T10:15:00.000Z");
}

// A tick whose run cannot be submitted (its commit fails after the tick was claimed) is
// lost, at most once by design: it is not fired again, and the next tick fires normally.
TEST_F(SchedulerTest, ATickWhoseSubmitFailsIsLostNotRefired) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  runs::testing::FailingStore failing(*store_);
  runs::RunEnvironment env;
  env.actions = &registry_;
  runs::RunServiceOptions options;
  options.workers = 2;
  runs::RunService service(failing, env, options);
  ASSERT_TRUE(service.Start().ok());
  SchedulerOptions so;
  so.clock = &clock_;
  Scheduler scheduler(*store_, service, so);
  ASSERT_TRUE(scheduler.Tick().ok());  // first sight at 10:01
  clock_.Set(At(10, 5));
  failing.fail_all = true;
  EXPECT_EQ(*scheduler.Tick(), 0);
  EXPECT_EQ(scheduler.Stats().submit_errors, 1);
  failing.fail_all = false;
  EXPECT_EQ(*scheduler.Tick(), 0);
  EXPECT_TRUE(Runs("tick").empty());
  clock_.Set(At(10, 10));
  EXPECT_EQ(*scheduler.Tick(), 1);
  ASSERT_EQ(Runs("tick").size(), 1u);
  service.Stop(seconds(5));
}

TEST_F(SchedulerTest, RestartDoesNotRefireTheSameTick) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5, 2));
  EXPECT_EQ(Tick(), 1);
  Restart();
  clock_.Set(At(10, 5, 30));
  EXPECT_EQ(Tick(), 0);
  Restart();
  EXPECT_EQ(Tick(), 0);
  EXPECT_EQ(Runs("tick").size(), 1u);
}

TEST_F(SchedulerTest, UnpublishedAndDraftVersionsDoNotFire) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 0);  // a draft only
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 0);
  EXPECT_TRUE(Runs("tick").empty());
}

// A deleted workflow leaves no schedule state behind: one created again under the same
// id starts from when it is seen, like any new schedule, instead of firing at once a
// "catch-up" run for a tick from before it existed (with or without a restart between).
TEST_F(SchedulerTest, RecreatedWorkflowStartsFromNow) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 1);
  auto remove = [&] {
    ASSERT_TRUE(store_->Write([](store::Tx& tx) -> Status {
                  auto deleted = tx.DeleteWorkflow("org_a", "tick");
                  if (!deleted.ok()) return deleted.error();
                  return Status::Ok();
                }).ok());
  };
  remove();
  clock_.Set(At(10, 6));
  EXPECT_EQ(Tick(), 0);

  // Created and published again hours later, in the same process.
  clock_.Set(At(12, 32));
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(12, 35));
  EXPECT_EQ(Tick(), 1);

  // And again across a restart.
  remove();
  clock_.Set(At(14, 1));
  Restart();
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(14, 5));
  EXPECT_EQ(Tick(), 1);

  auto runs = Runs("tick");
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(bj::parse(runs[0].trigger).at("scheduled_for").as_string(), "2026-12-06T14:05:00.000Z");
  EXPECT_EQ(bj::parse(runs[1].trigger).at("scheduled_for").as_string(), "2026-12-06T12:35:00.000Z");
}

// What a pass keeps in memory (last fired tick per workflow, parsed crons) follows the
// live schedules: workflows published with crons of their own and deleted again, one
// after the other, leave nothing behind (it grew by one entry each, for as long as the
// server ran).
// Deleted and created again between two passes, with the same version number and another
// cron: the new definition's schedule is the one that fires (not the one the process
// read for version 1 before).
TEST_F(SchedulerTest, AWorkflowRecreatedBetweenPassesFiresOnItsNewSchedule) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);  // 10:01, first sight
  ASSERT_TRUE(store_->Write([](store::Tx& tx) -> Status {
                auto deleted = tx.DeleteWorkflow("org_a", "tick");
                return deleted.ok() ? Status::Ok() : Status(deleted.error());
              }).ok());
  std::string every2 = kEvery5;
  every2.replace(every2.find("*/5"), 3, "*/2");
  runs::testing::PutVersion(*store_, "org_a", 1, every2, 1);
  clock_.Set(At(10, 2, 30));
  EXPECT_EQ(Tick(), 0);  // its schedule starts now
  clock_.Set(At(10, 4));
  EXPECT_EQ(Tick(), 1);
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 6, 1));
  EXPECT_EQ(Tick(), 1);
}

// Passes between two ticks do nothing; a clock set back (NTP step) is not trusted to
// have nothing due: the pass looks again.
TEST_F(SchedulerTest, PassesBetweenTicksAndAClockSetBack) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);  // 10:01
  for (int s = 0; s < 60 * 4; s += 7) {
    clock_.Set(At(10, 1) + seconds(s));
    EXPECT_EQ(Tick(), 0) << s;
  }
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 1);
  clock_.Set(At(10, 7));
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(9, 58));  // set back: 09:55 is before the last fired tick, nothing due
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 10));
  EXPECT_EQ(Tick(), 1);
  EXPECT_EQ(Runs("tick").size(), 2u);
}

TEST_F(SchedulerTest, StateOfDeletedSchedulesIsDropped) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  for (int i = 0; i < 40; ++i) {
    const std::string id = "gone" + std::to_string(i);
    runs::testing::PutVersion(*store_, "org_a", 1,
                              "rampart: 1\nid: " + id +
                                  "\ntriggers:\n  - { type: schedule, cron: \"" +
                                  std::to_string(i) + " * * * *\" }\nsteps:\n"
                                  "  - { id: a, type: set, values: { v: 1 } }\n",
                              1);
    EXPECT_EQ(Tick(), 0);
    ASSERT_TRUE(store_->Write([&](store::Tx& tx) -> Status {
                  auto deleted = tx.DeleteWorkflow("org_a", id);
                  if (!deleted.ok()) return deleted.error();
                  return Status::Ok();
                }).ok());
  }
  EXPECT_EQ(Tick(), 0);
  SchedulerStats stats = scheduler_->Stats();
  EXPECT_EQ(stats.schedules_held, 1);  // "tick" only
  EXPECT_EQ(stats.crons_held, 1);
  clock_.Set(At(10, 5));
  EXPECT_EQ(Tick(), 1);  // the one left still fires
}

// Two schedulers sharing the store (two processes on one data dir, or two passes that
// overlap) fire a tick once: the claim re-reads last_fired_at in its own write.
TEST_F(SchedulerTest, ConcurrentPassesFireATickOnce) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  SchedulerOptions so;
  so.clock = &clock_;
  Scheduler other(*store_, *service_, so);
  ASSERT_TRUE(other.Tick().ok());
  for (int minute : {5, 10, 15}) {
    clock_.Set(At(10, minute));
    std::atomic<int> fired{0};
    auto passes = [&](Scheduler& scheduler) {
      for (int i = 0; i < 20; ++i) {
        auto n = scheduler.Tick();
        if (n.ok()) fired += *n;
      }
    };
    std::thread a([&] { passes(*scheduler_); });
    std::thread b([&] { passes(other); });
    a.join();
    b.join();
    EXPECT_EQ(fired.load(), 1) << "10:" << minute;
  }
  EXPECT_EQ(Runs("tick").size(), 3u);
}

// A schedule fires with the input {}; when the inputs schema requires fields, the run
// service refuses it: no run, one submit error per tick (not per pass), and the tick
// stays claimed (no retry loop).
TEST_F(SchedulerTest, InputTheSchemaRefusesCostsOneSubmitErrorPerTick) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, R"(
rampart: 1
id: needs
inputs: { type: object, properties: { x: { type: string } }, required: [x] }
triggers:
  - { type: schedule, cron: "*/5 * * * *" }
steps:
  - { id: a, type: set, values: { v: 1 } }
)", 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Tick(), 0);
  EXPECT_EQ(scheduler_->Stats().submit_errors, 1);
  clock_.Set(At(10, 10));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Tick(), 0);
  EXPECT_EQ(scheduler_->Stats().submit_errors, 2);
  EXPECT_EQ(scheduler_->Stats().fired, 0);
  EXPECT_TRUE(Runs("needs").empty());
  // Each lost tick is reported (serve logs it to the org's diagnostics): which workflow,
  // which tick, and the refusal's code.
  ASSERT_EQ(failures_.size(), 2u);
  EXPECT_EQ(failures_[0].org_id, "org_a");
  EXPECT_EQ(failures_[0].workflow_id, "needs");
  EXPECT_EQ(failures_[0].version, 1);
  EXPECT_EQ(failures_[0].scheduled_for, At(10, 5));
  EXPECT_EQ(failures_[1].scheduled_for, At(10, 10));
  EXPECT_EQ(failures_[0].error.code, ErrorCode::kInvalidInput);
}

TEST_F(SchedulerTest, ThreadFiresAndStops) {
  runs::testing::PutOrg(*store_, "org_a");
  runs::testing::PutVersion(*store_, "org_a", 1, kEvery5, 1);
  EXPECT_EQ(Tick(), 0);
  clock_.Set(At(10, 5));
  scheduler_->Start();
  scheduler_->Start();  // no-op
  const auto deadline = steady_clock::now() + seconds(10);
  while (scheduler_->Stats().fired < 1 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  std::this_thread::sleep_for(milliseconds(100));  // several more passes: still one run
  scheduler_->Stop();
  scheduler_->Stop();
  EXPECT_EQ(scheduler_->Stats().fired, 1);
  EXPECT_EQ(Runs("tick").size(), 1u);
}

// Start and Stop "may be called from any thread": two Stop() calls at once join the
// thread once (two joins of one std::thread throw or worse), and a stopped scheduler
// starts again.
TEST_F(SchedulerTest, ConcurrentStopsJoinOnce) {
  for (int i = 0; i < 50; ++i) {
    scheduler_->Start();
    std::thread a([&] { scheduler_->Stop(); });
    std::thread b([&] { scheduler_->Stop(); });
    a.join();
    b.join();
  }
}

}  // namespace
}  // namespace rampart::schedule
