// The per-org quota on stored runs (RunServiceOptions::max_runs_per_org, config
// `quotas.runs`; ASVS V2.4.1, V15.2.2), through the run service against the store (SQLite
// or the in-memory fake): a submission past the quota is refused with limit_exceeded and
// nothing is stored; another org is unaffected; a retention purge frees room at once; a
// restarted service learns the count again from the store; racing submissions at the edge
// never overshoot; a child run past it fails its `workflow` step; a write that did not
// commit leaves the count as it was.
#include "rampart/runs/run_quota.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>
#include <vector>

#include "rampart/runs/retention.h"
#include "rampart/runs/runs.h"
#include "runs/test_util.h"

namespace rampart::runs {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;

constexpr const char* kPlain = R"(
rampart: 1
id: plain
steps:
  - { id: a, type: set, values: { v: 1 } }
output: ok
)";

// Two child runs, one after the other.
constexpr const char* kParent = R"(
rampart: 1
id: parent
steps:
  - { id: first, type: workflow, workflow: plain, with: {} }
  - { id: second, type: workflow, workflow: plain, with: {} }
output: done
)";

// The system clock moved `ahead` (for the retention cutoff).
class AheadClock final : public Clock {
 public:
  explicit AheadClock(std::chrono::hours ahead) : ahead_(ahead) {}
  std::chrono::system_clock::time_point Now() const override {
    return SystemClock().Now() + ahead_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return SystemClock().Monotonic();
  }
  void SleepFor(std::chrono::nanoseconds d) override { SystemClock().SleepFor(d); }

 private:
  std::chrono::hours ahead_;
};

// Commits nothing while `lose` is set: every write function runs, then its transaction
// is rolled back and the write reports kInternal (a lost commit, as the SQLite store
// reports an I/O error at COMMIT).
class LosingStore final : public store::Store {
 public:
  explicit LosingStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    return inner_.Write(Wrap(fn));
  }
  void WriteAsync(std::function<Status(store::Tx&)> fn, std::function<void(Status)> done) override {
    inner_.WriteAsync(Wrap(std::move(fn)), std::move(done));
  }
  Status Ping() override { return inner_.Ping(); }
  std::atomic<bool> lose{false};

 private:
  std::function<Status(store::Tx&)> Wrap(std::function<Status(store::Tx&)> fn) {
    return [this, fn = std::move(fn)](store::Tx& tx) -> Status {
      Status s = fn(tx);
      if (s.ok() && lose.load()) return MakeError(ErrorCode::kInternal, "commit lost");
      return s;
    };
  }
  store::Store& inner_;
};

class RunQuotaTest : public ::testing::Test {
 protected:
  RunQuotaTest() : store_(testing::MakeStore(dir_.path())) {
    testing::RefuseUnfinishedRunsWithFinishedAt(dir_.path());
    testing::PutOrg(*store_, "org_a");
    testing::PutOrg(*store_, "org_b");
    for (const char* org : {"org_a", "org_b"}) {
      testing::PutVersion(*store_, org, 1, kPlain, 1);
      testing::PutVersion(*store_, org, 1, kParent, 1);
    }
  }

  std::unique_ptr<RunService> NewService(int64_t max_runs, store::Store* store = nullptr) {
    RunServiceOptions options;
    options.workers = 4;
    options.max_runs_per_org = max_runs;
    RunEnvironment env;
    env.actions = &registry_;
    auto service = std::make_unique<RunService>(store ? *store : *store_, env, options);
    EXPECT_TRUE(service->Start().ok());
    return service;
  }

  static Submission Sub(const std::string& org, const std::string& wf = "plain",
                        bool may_run_inline = false) {
    Submission s;
    s.org_id = org;
    s.workflow_id = wf;
    s.version = 1;
    s.trigger = bj::parse(R"({"type": "api"})");
    s.actor = "user:usr_test";
    s.may_run_inline = may_run_inline;
    return s;
  }

  // The org's runs as the store lists them (not through the quota under test).
  int64_t StoredRuns(const std::string& org) {
    int64_t n = 0;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      store::PageRequest page;
      page.limit = 200;
      for (;;) {
        auto runs = tx.ListRuns(org, store::RunFilter{}, page);
        if (!runs.ok()) return runs.error();
        n += static_cast<int64_t>(runs->items.size());
        if (runs->next.empty()) return Status::Ok();
        page.after = runs->next;
      }
    });
    EXPECT_TRUE(st.ok());
    return n;
  }

  // Submits and waits for the run to settle; the submission's status.
  Status SubmitAndSettle(RunService& service, Submission s) {
    const std::string org = s.org_id;
    auto run = service.Submit(std::move(s));
    if (!run.ok()) return run.error();
    EXPECT_TRUE(service.Wait(org, run->id, 10s).has_value());
    return Status::Ok();
  }

  static void ExpectRefused(const Status& s, int64_t limit) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kLimitExceeded) << s.error().message;
    EXPECT_NE(s.error().message.find("at most " + std::to_string(limit) + " stored runs"),
              std::string::npos)
        << s.error().message;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  actions::Registry registry_;
};

TEST_F(RunQuotaTest, PastTheQuotaNothingIsStoredAndOtherOrgsAreUnaffected) {
  auto service = NewService(3);
  EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok());
  EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a", "plain", /*inline=*/true)).ok());
  EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok());
  ASSERT_EQ(StoredRuns("org_a"), 3);
  // Queued, inline, with an audit event: each refused, nothing stored.
  ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 3);
  ExpectRefused(SubmitAndSettle(*service, Sub("org_a", "plain", true)), 3);
  Submission audited = Sub("org_a");
  audited.audit = store::AuditEvent{};
  audited.audit->action = "run.start";
  bool in_commit_ran = false;
  audited.in_commit = [&](store::Tx&, const store::Run&) {
    in_commit_ran = true;
    return Status::Ok();
  };
  ExpectRefused(SubmitAndSettle(*service, std::move(audited)), 3);
  EXPECT_FALSE(in_commit_ran);
  EXPECT_EQ(StoredRuns("org_a"), 3);
  // Another org has a whole quota of its own.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_b")).ok()) << i;
  ExpectRefused(SubmitAndSettle(*service, Sub("org_b")), 3);
  EXPECT_EQ(StoredRuns("org_b"), 3);
  EXPECT_EQ(service->quota().StoredForTest("org_a"), 3);
  service->Stop(1s);
}

#ifndef RAMPART_RUNS_WITH_SQLITE
// The fake store counts CountRuns calls: one per org, not one per run.
TEST_F(RunQuotaTest, TheCountIsLearnedOncePerOrg) {
  auto service = NewService(1000);
  const int before = testing::FakeTx::count_runs_calls.load();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok());
  EXPECT_EQ(testing::FakeTx::count_runs_calls.load() - before, 1);
  EXPECT_EQ(service->quota().StoredForTest("org_a"), 20);
  service->Stop(1s);
}
#endif

TEST_F(RunQuotaTest, ARestartedServiceLearnsTheCountFromTheStore) {
  {
    auto service = NewService(4);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok()) << i;
    service->Stop(1s);
  }
  {
    auto service = NewService(4);
    EXPECT_EQ(service->quota().StoredForTest("org_a"), -1);  // nothing known before a write
    ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 4);
    EXPECT_EQ(service->quota().StoredForTest("org_a"), 4);
    service->Stop(1s);
  }
  {
    auto service = NewService(6);  // a larger quota: two more fit
    EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok());
    EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a", "plain", true)).ok());
    ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 6);
    service->Stop(1s);
  }
  EXPECT_EQ(StoredRuns("org_a"), 6);
}

#ifdef RAMPART_RUNS_WITH_SQLITE
// (Retention audits its purges: the fake store has no audit.)
TEST_F(RunQuotaTest, ARetentionPurgeFreesTheQuota) {
  auto service = NewService(3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok()) << i;
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_b")).ok()) << i;
  ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 3);
  AheadClock later(std::chrono::hours(24 * 8));
  RunRetention retention(*store_, later,
                         {.retention_days = 7, .batch = 2, .quota = &service->quota()});
  auto purged = retention.RunOnce();
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 5);
  EXPECT_EQ(StoredRuns("org_a"), 0);
  EXPECT_EQ(service->quota().StoredForTest("org_a"), 0);
  EXPECT_EQ(service->quota().StoredForTest("org_b"), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok()) << i;
  ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 3);
  EXPECT_EQ(StoredRuns("org_a"), 3);
  service->Stop(1s);
}
#endif

// The check that counts is in the write transaction, which the store serializes: racing
// submissions (queued and inline) at the edge take exactly the room left, whether the
// org's count was known before the race or learned during it.
TEST_F(RunQuotaTest, RacingSubmissionsAtTheEdgeNeverOvershoot) {
  for (bool learned_first : {true, false}) {
    SCOPED_TRACE(learned_first ? "count known before the race" : "count learned in the race");
    const std::string org = learned_first ? "org_a" : "org_b";
    auto service = NewService(learned_first ? 10 : 7);
    const int64_t limit = learned_first ? 10 : 7;
    if (learned_first) {
      for (int i = 0; i < 3; ++i) EXPECT_TRUE(SubmitAndSettle(*service, Sub(org)).ok());
    }
    const int64_t before = StoredRuns(org);
    constexpr int kThreads = 8, kEach = 4;
    std::atomic<int> accepted{0}, refused{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          auto run = service->Submit(Sub(org, "plain", (t + i) % 2 == 0));
          if (run.ok()) {
            ++accepted;
          } else if (run.error().code == ErrorCode::kLimitExceeded) {
            ++refused;
          } else {
            ++other;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(accepted.load(), limit - before);
    EXPECT_EQ(refused.load(), kThreads * kEach - (limit - before));
    service->Stop(5s);
    EXPECT_EQ(StoredRuns(org), limit);
  }
}

// A parent's child runs count: the child that would pass the quota fails its step with
// limit_exceeded before it starts; the rows written are exactly the quota.
TEST_F(RunQuotaTest, AChildRunPastTheQuotaFailsItsStep) {
  auto service = NewService(2);
  auto parent = service->Submit(Sub("org_a", "parent"));
  ASSERT_TRUE(parent.ok()) << parent.error().message;
  auto done = service->Wait("org_a", parent->id, 10s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "failed") << done->record;
  EXPECT_EQ(done->error_code, "limit_exceeded") << done->record;
  bj::value record = bj::parse(done->record);
  EXPECT_EQ(record.at("steps").at(0).at("status"), bj::value("succeeded"));
  EXPECT_EQ(record.at("steps").at(1).at("status"), bj::value("failed"));
  EXPECT_EQ(StoredRuns("org_a"), 2);  // the parent and its first child
  EXPECT_EQ(service->quota().StoredForTest("org_a"), 2);
  EXPECT_EQ(service->quota().ClaimedForTest("org_a"), 0);  // claims end with the commit
  ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 2);
  service->Stop(1s);
}

// Writes that ran but did not commit leave the count as it was (and a count learned in
// a lost transaction is learned again).
TEST_F(RunQuotaTest, AWriteThatDidNotCommitIsNotCounted) {
  LosingStore losing(*store_);
  auto service = NewService(2, &losing);
  losing.lose = true;
  for (int i = 0; i < 4; ++i) {
    auto run = service->Submit(Sub("org_a", "plain", i % 2 == 0));
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().code, ErrorCode::kInternal) << run.error().message;
  }
  EXPECT_EQ(StoredRuns("org_a"), 0);
  losing.lose = false;
  EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a")).ok());
  EXPECT_TRUE(SubmitAndSettle(*service, Sub("org_a", "plain", true)).ok());
  ExpectRefused(SubmitAndSettle(*service, Sub("org_a")), 2);
  EXPECT_EQ(StoredRuns("org_a"), 2);
  service->Stop(1s);
}

TEST(RunQuotaUnitTest, TheLimitIsClampedToItsRange) {
  EXPECT_EQ(RunQuota(0).limit(), 1);
  EXPECT_EQ(RunQuota(-5).limit(), 1);
  EXPECT_EQ(RunQuota(kMaxMaxRunsPerOrg + 1).limit(), kMaxMaxRunsPerOrg);
  EXPECT_EQ(RunQuota().limit(), kDefaultMaxRunsPerOrg);
}

}  // namespace
}  // namespace rampart::runs
