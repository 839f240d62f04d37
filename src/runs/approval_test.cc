// Approval steps through the run service and the store: the wait is durable, decisions
// are checked (initiator, approvers, count, once each, timeout), a settled run resumes
// without repeating its side effects, also after a restart, and timeouts wake it.
#include "rampart/runs/approvals.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "rampart/runs/runs.h"
#include "runs/test_util.h"

namespace rampart::runs {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using testing::FuncAction;

constexpr const char* kPayout = R"(
rampart: 1
id: payout
steps:
  - { id: quote, type: action, uses: wallet.sign, with: {} }
  - id: sign_off
    type: approval
    approvers: { roles: [owner], users: [usr_carol], count: 2 }
    timeout: 3600
  - { id: pay, type: action, uses: wallet.sign, with: {} }
output: { quote: "{{ steps.quote.output }}", pay: "{{ steps.pay.output }}" }
)";

class ApprovalServiceTest : public ::testing::Test {
 protected:
  ApprovalServiceTest() : store_(testing::MakeStore(dir_.path())) {
    testing::RefuseUnfinishedRunsWithFinishedAt(dir_.path());
    registry_.Register("wallet.sign", std::make_unique<FuncAction>([this](const actions::Context&) {
      return Result<bj::value>(bj::value(++calls_));
    }));
    testing::PutOrg(*store_, "org_a");
  }

  // A service on the fixture's store, or on `store` (a FailingStore wrapping it).
  std::unique_ptr<RunService> NewService(std::chrono::milliseconds wake = 1000ms,
                                         store::Store* store = nullptr) {
    RunEnvironment env;
    env.actions = &registry_;
    RunServiceOptions options;
    options.workers = 2;
    options.wake_interval = wake;
    return std::make_unique<RunService>(store ? *store : *store_, env, options);
  }

  Result<store::Run> Start(RunService& service, const std::string& yaml) {
    testing::PutVersion(*store_, "org_a", 1, yaml, 1);
    Submission s;
    s.org_id = "org_a";
    s.workflow_id = "payout";
    s.version = 1;
    s.trigger = bj::parse(R"({"type": "api"})");
    s.actor = "user:usr_alice";
    return service.Submit(std::move(s));
  }

  Result<ApprovalOutcome> Decide(const std::string& run_id, Approver who, bool approve,
                                 std::string step = "sign_off", store::Millis now = 0) {
    std::optional<ApprovalOutcome> out;
    if (now == 0) now = UnixMillis(SystemClock().Now());
    Status st = store_->Write([&](store::Tx& tx) -> Status {
      auto r = RecordApprovalDecision(tx, "org_a", run_id, who, {step, approve, "ok"}, now);
      if (!r.ok()) return r.error();
      out = *r;
      return Status::Ok();
    });
    if (!st.ok()) return st.error();
    return *out;
  }

  store::Run Stored(const std::string& id) {
    store::Run run;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      auto r = tx.GetRun("org_a", id);
      if (!r.ok()) return r.error();
      if (!*r) return MakeError(ErrorCode::kNotFound, "gone");
      run = **r;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return run;
  }

  // Polls the store until the run leaves `status` (the resumed execution is async).
  store::Run WaitLeaves(const std::string& id, std::string_view status) {
    for (int i = 0; i < 500; ++i) {
      store::Run r = Stored(id);
      if (r.status != status && r.status != "queued" && r.status != "running") return r;
      std::this_thread::sleep_for(10ms);
    }
    return Stored(id);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  actions::Registry registry_;
  std::atomic<int> calls_{0};
  const Approver bob_{"usr_bob", "bob@a.test", "owner"};
  const Approver carol_{"usr_carol", "carol@a.test", "developer"};
  const Approver dave_{"usr_dave", "dave@a.test", "developer"};
  const Approver alice_{"usr_alice", "alice@a.test", "owner"};
};

TEST_F(ApprovalServiceTest, WaitIsDurableAndDecisionsAreChecked) {
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = Start(*service, kPayout);
  ASSERT_TRUE(run.ok()) << run.error().message;
  auto waiting = service->Wait("org_a", run->id, 5s);
  ASSERT_TRUE(waiting.has_value());
  ASSERT_EQ(waiting->status, "awaiting_approval");
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(waiting->finished_at, 0);
  EXPECT_GT(waiting->wake_at, UnixMillis(SystemClock().Now()) + 3500 * 1000);

  // The initiator, a non-approver, the wrong step: refused, nothing recorded.
  EXPECT_EQ(Decide(run->id, alice_, true).error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(Decide(run->id, dave_, true).error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(Decide(run->id, Approver{}, true).error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(Decide(run->id, bob_, true, "pay").error().code, ErrorCode::kConflict);
  EXPECT_EQ(Decide("run_nope", bob_, true).error().code, ErrorCode::kNotFound);

  // First approval (by role): still waiting. Twice by the same user: refused.
  auto first = Decide(run->id, bob_, true);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->settled);
  EXPECT_EQ(first->approvals, 1);
  EXPECT_EQ(first->needed, 2);
  EXPECT_EQ(Decide(run->id, bob_, true).error().code, ErrorCode::kConflict);
  EXPECT_EQ(Stored(run->id).status, "awaiting_approval");
  bj::value rec = bj::parse(Stored(run->id).record);
  EXPECT_EQ(rec.at("steps").at(1).at("approvals").as_array().size(), 1u);

  // Second (by user id): settled, back to queued; Resume finishes it.
  auto second = Decide(run->id, carol_, true);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second->settled);
  EXPECT_EQ(Stored(run->id).status, "queued");
  ASSERT_TRUE(service->Resume("org_a", run->id).ok());
  store::Run done = WaitLeaves(run->id, "awaiting_approval");
  ASSERT_EQ(done.status, "succeeded") << done.record;
  EXPECT_EQ(calls_, 2);  // quote was not signed again
  bj::value out = bj::parse(done.record);
  EXPECT_EQ(out.at("output").at("quote"), 1);
  EXPECT_EQ(out.at("output").at("pay"), 2);
  EXPECT_EQ(out.at("steps").at(1).at("output").at("approved"), true);
  // Deciding again after the run went on: conflict.
  EXPECT_EQ(Decide(run->id, dave_, false).error().code, ErrorCode::kConflict);
}

TEST_F(ApprovalServiceTest, RejectionFailsTheRun) {
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = Start(*service, kPayout);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(service->Wait("org_a", run->id, 5s)->status, "awaiting_approval");
  auto no = Decide(run->id, carol_, false);
  ASSERT_TRUE(no.ok()) << no.error().message;
  EXPECT_TRUE(no->settled);
  ASSERT_TRUE(service->Resume("org_a", run->id).ok());
  store::Run done = WaitLeaves(run->id, "awaiting_approval");
  EXPECT_EQ(done.status, "failed");
  EXPECT_EQ(done.error_code, "approval_rejected");
  EXPECT_EQ(calls_, 1);
}

// The decision's commit landed (the run is `queued` in the store) but the read that
// schedules it failed: the run must not wait for the next start. The wake loop tries
// again without another Resume call.
TEST_F(ApprovalServiceTest, AResumeWhoseReadFailsIsTriedAgain) {
  testing::FailingStore failing(*store_);
  auto service = NewService(20ms, &failing);
  ASSERT_TRUE(service->Start().ok());
  auto run = Start(*service, kPayout);
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_EQ(service->Wait("org_a", run->id, 5s)->status, "awaiting_approval");
  ASSERT_TRUE(Decide(run->id, carol_, false)->settled);
  failing.fail_next_reads = 2;
  EXPECT_FALSE(service->Resume("org_a", run->id).ok());
  store::Run done = WaitLeaves(run->id, "awaiting_approval");
  EXPECT_EQ(done.status, "failed") << done.record;
  EXPECT_EQ(done.error_code, "approval_rejected");
  EXPECT_EQ(failing.fail_next_reads, 0);  // the retry itself failed once, then went on
  EXPECT_EQ(calls_, 1);
}

TEST_F(ApprovalServiceTest, ResumesAfterARestart) {
  std::string id;
  {
    auto service = NewService();
    ASSERT_TRUE(service->Start().ok());
    auto run = Start(*service, kPayout);
    ASSERT_TRUE(run.ok());
    id = run->id;
    ASSERT_EQ(service->Wait("org_a", id, 5s)->status, "awaiting_approval");
    service->Stop(1s);
  }
  // Decisions while no server runs; the second settles it but nobody resumes it here.
  ASSERT_TRUE(Decide(id, bob_, true).ok());
  ASSERT_TRUE(Decide(id, carol_, true)->settled);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());  // recovery schedules the queued run
  store::Run done = WaitLeaves(id, "awaiting_approval");
  ASSERT_EQ(done.status, "succeeded") << done.record;
  EXPECT_EQ(calls_, 2);
}

TEST_F(ApprovalServiceTest, TimeoutWakesTheRunAndAppliesOnTimeout) {
  std::string yaml = kPayout;
  yaml.replace(yaml.find("timeout: 3600"), 13, "timeout: 1\n    on_timeout: skip");
  auto service = NewService(20ms);
  ASSERT_TRUE(service->Start().ok());
  auto run = Start(*service, yaml);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(service->Wait("org_a", run->id, 5s)->status, "awaiting_approval");
  // A decision after the deadline is refused even before the sweep ran.
  const store::Millis late = Stored(run->id).wake_at + 1;
  EXPECT_EQ(Decide(run->id, bob_, true, "sign_off", late).error().code, ErrorCode::kConflict);
  store::Run done = WaitLeaves(run->id, "awaiting_approval");
  ASSERT_EQ(done.status, "succeeded") << done.record;
  bj::value rec = bj::parse(done.record);
  EXPECT_EQ(rec.at("steps").at(1).at("status"), "skipped");
  EXPECT_EQ(rec.at("steps").at(1).at("timed_out"), true);
  EXPECT_EQ(calls_, 2);
  // The timeout is audited.
  bool audited = false;
  Status st = store_->Read([&](store::Tx& tx) -> Status {
    auto events = tx.ListAudit("org_a", 0, 100);
    if (!events.ok()) return events.error();
    for (const auto& e : *events) {
      audited |= e.action == "run.approval_timeout" && e.target == run->id;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(audited);
}

TEST_F(ApprovalServiceTest, CancelWhileWaiting) {
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = Start(*service, kPayout);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(service->Wait("org_a", run->id, 5s)->status, "awaiting_approval");
  ASSERT_TRUE(service->Cancel("org_a", run->id).ok());
  EXPECT_EQ(Stored(run->id).status, "cancelled");
  EXPECT_EQ(Decide(run->id, bob_, true).error().code, ErrorCode::kConflict);
  EXPECT_EQ(calls_, 1);
}

TEST_F(ApprovalServiceTest, ApiKeyInitiatorIsTheKeysCreator) {
  store::ApiKey key;
  key.id = "key_alice";
  key.org_id = "org_a";
  key.user_id = "usr_alice";
  key.name = "k";
  key.hash = "h";
  key.hint = "x";
  key.scope = "read_write";
  key.created_at = 1;
  Status st = store_->Write([&](store::Tx& tx) -> Status {
    if (Status s = tx.InsertUser({.id = "usr_alice", .email = "alice@a.test",
                                  .password_hash = "", .created_at = 1});
        !s.ok()) {
      return s;
    }
    return tx.InsertApiKey(key);
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  store::Run run;
  run.org_id = "org_a";
  run.actor = "key:key_alice";
  Status read = store_->Read([&](store::Tx& tx) -> Status {
    auto who = RunInitiator(tx, run);
    if (!who.ok()) return who.error();
    EXPECT_EQ(*who, "usr_alice");
    run.actor = "hook:wh_1";
    who = RunInitiator(tx, run);
    EXPECT_TRUE(who.ok() && who->empty());
    return Status::Ok();
  });
  EXPECT_TRUE(read.ok());
}

}  // namespace
}  // namespace rampart::runs
