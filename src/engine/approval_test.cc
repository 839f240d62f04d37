// Approval steps in the engine: a run stops in awaiting_approval, and executing it again
// with the record it stopped with (Resume) replays what already happened instead of
// repeating side effects, then applies the decisions the approvals API wrote.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "rampart/engine/engine.h"
#include "support/fake_env.h"

namespace rampart::engine {
namespace {

namespace bj = boost::json;

// Counts its executions; outputs {"call": n, "tag": with.tag}.
class CountingAction final : public actions::Action {
 public:
  CountingAction() {
    schema_ = std::move(schema::Validator::Compile(bj::parse(R"({"type": "object"})"))).value();
  }
  const schema::Validator& ArgsSchema() const override { return *schema_; }
  Result<bj::value> Execute(const actions::Context& ctx) const override {
    int n = ++calls;
    bj::object out;
    out["call"] = n;
    if (const bj::value* tag = ctx.args.as_object().if_contains("json")) out["tag"] = *tag;
    return bj::value(std::move(out));
  }
  mutable std::atomic<int> calls{0};

 private:
  std::optional<schema::Validator> schema_;
};

class ApprovalEngineTest : public ::testing::Test {
 protected:
  ApprovalEngineTest() {
    auto a = std::make_unique<CountingAction>();
    action_ = a.get();
    registry_.Register("http.request", std::move(a));
  }

  void Load(const std::string& yaml) {
    loaded_ = model::LoadDefinition(yaml);
    ASSERT_TRUE(loaded_.ok()) << (loaded_.errors.empty() ? "" : loaded_.errors[0].message);
  }

  RunResult Run(std::optional<Resume> resume = std::nullopt) {
    Engine engine(Env{&clock_, &random_, &registry_, nullptr, nullptr});
    RunRequest req;
    req.input = bj::parse(R"({"amount": 250})");
    req.run_id = "run_approvaltest";
    req.resume = std::move(resume);
    return engine.Run(*loaded_.workflow, std::move(req));
  }

  // The record with `decisions` appended to the awaiting step (what the API writes).
  static Resume WithDecisions(const RunResult& waiting, const std::vector<std::string>& decisions,
                              int64_t timeout_at_ms = 0) {
    Resume resume{waiting.record, timeout_at_ms};
    for (bj::value& s : resume.record["steps"].as_array()) {
      if (s.at("status") != "awaiting_approval" || s.at("type") != "approval") continue;
      int i = 0;
      for (const std::string& d : decisions) {
        s.as_object()["approvals"].as_array().push_back(
            bj::object{{"user", "usr_" + std::to_string(++i)}, {"decision", d},
                       {"comment", ""}, {"at", "2026-01-01T00:00:00.000Z"}});
      }
    }
    return resume;
  }

  static const bj::object& Step(const RunResult& r, std::string_view path) {
    for (const bj::value& s : r.record.at("steps").as_array()) {
      if (s.at("path").as_string() == path) return s.as_object();
    }
    static const bj::object kNone;
    ADD_FAILURE() << "no step " << path << " in " << bj::serialize(r.record);
    return kNone;
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_;
  actions::Registry registry_;
  CountingAction* action_ = nullptr;
  model::LoadResult loaded_;
};

constexpr const char* kGated = R"(
rampart: 1
id: gated
steps:
  - id: before
    type: action
    uses: http.request
    with: { url: "https://api.example.test", json: "{{ inputs.amount }}" }
  - id: check
    type: branch
    if: "{{ steps.before.output.call == 1 }}"
    then:
      - id: sign_off
        type: approval
        approvers: { roles: [owner, developer], users: [usr_9], count: 2 }
        timeout: 3600
  - id: after
    type: action
    uses: http.request
    with: { url: "https://api.example.test", json: "{{ steps.before.output.tag }}" }
output: { first: "{{ steps.before.output.call }}", second: "{{ steps.after.output.call }}" }
)";

TEST_F(ApprovalEngineTest, StopsAwaitingApprovalWithWhereAndUntilWhen) {
  Load(kGated);
  RunResult r = Run();
  ASSERT_EQ(r.status, "awaiting_approval") << bj::serialize(r.record);
  EXPECT_EQ(action_->calls, 1);
  ASSERT_TRUE(r.awaiting.has_value());
  EXPECT_EQ(r.awaiting->step, "sign_off");
  EXPECT_EQ(r.awaiting->timeout_at_ms, UnixMillis(clock_.Now()) + 3600 * 1000);
  const bj::object& step = Step(r, "sign_off");
  EXPECT_EQ(step.at("status"), "awaiting_approval");
  EXPECT_EQ(step.at("input").at("count"), 2);
  EXPECT_TRUE(step.at("approvals").as_array().empty());
  EXPECT_TRUE(step.contains("waiting_since"));
  EXPECT_TRUE(step.contains("timeout_at"));
  EXPECT_EQ(r.record.at("finished_at"), nullptr);
  EXPECT_EQ(Step(r, "check").at("status"), "awaiting_approval");
  // The step after the approval did not run.
  for (const bj::value& s : r.record.at("steps").as_array()) EXPECT_NE(s.at("id"), "after");
}

TEST_F(ApprovalEngineTest, EnoughApprovalsResumeWithoutRepeatingSideEffects) {
  Load(kGated);
  RunResult waiting = Run();
  ASSERT_EQ(waiting.status, "awaiting_approval");
  RunResult done = Run(WithDecisions(waiting, {"approve", "approve"}));
  ASSERT_EQ(done.status, "succeeded") << bj::serialize(done.record);
  // `before` was replayed from the record, not called again; `after` ran once.
  EXPECT_EQ(action_->calls, 2);
  EXPECT_EQ(Step(done, "before").at("output").at("call"), 1);
  EXPECT_EQ(Step(done, "after").at("output").at("call"), 2);
  EXPECT_EQ(Step(done, "after").at("output").at("tag"), 250);
  // The branch decision replays the same way (the condition reads the replayed output).
  EXPECT_EQ(Step(done, "check").at("branch"), "then");
  const bj::object& gate = Step(done, "sign_off");
  EXPECT_EQ(gate.at("status"), "succeeded");
  EXPECT_EQ(gate.at("output").at("approved"), true);
  EXPECT_EQ(gate.at("output").at("approvals").as_array().size(), 2u);
  EXPECT_EQ(done.record.at("output").at("first"), 1);
  EXPECT_EQ(done.record.at("output").at("second"), 2);
  EXPECT_EQ(done.record.at("started_at"), waiting.record.at("started_at"));
  EXPECT_NE(done.record.at("finished_at"), nullptr);
  EXPECT_FALSE(done.awaiting.has_value());
}

TEST_F(ApprovalEngineTest, FewerApprovalsThanCountKeepWaiting) {
  Load(kGated);
  RunResult waiting = Run();
  RunResult still = Run(WithDecisions(waiting, {"approve"}, waiting.awaiting->timeout_at_ms));
  ASSERT_EQ(still.status, "awaiting_approval") << bj::serialize(still.record);
  EXPECT_EQ(action_->calls, 1);
  EXPECT_EQ(Step(still, "sign_off").at("approvals").as_array().size(), 1u);
  EXPECT_EQ(Step(still, "sign_off").at("waiting_since"),
            Step(waiting, "sign_off").at("waiting_since"));
  EXPECT_EQ(still.awaiting->timeout_at_ms, waiting.awaiting->timeout_at_ms);
}

TEST_F(ApprovalEngineTest, OneRejectionFailsTheRun) {
  Load(kGated);
  RunResult waiting = Run();
  RunResult r = Run(WithDecisions(waiting, {"approve", "reject"}));
  ASSERT_EQ(r.status, "failed");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::kApprovalRejected);
  EXPECT_EQ(r.record.at("error").at("code"), "approval_rejected");
  EXPECT_EQ(r.record.at("error").at("step"), "sign_off");
  EXPECT_EQ(action_->calls, 1);  // nothing after the gate ran
}

TEST_F(ApprovalEngineTest, TimeoutFailsOrSkipsAsConfigured) {
  Load(kGated);
  RunResult waiting = Run();
  const int64_t deadline = waiting.awaiting->timeout_at_ms;
  // Before the deadline nothing changes.
  EXPECT_EQ(Run(WithDecisions(waiting, {}, deadline)).status, "awaiting_approval");
  clock_.SleepFor(std::chrono::hours(2));
  RunResult failed = Run(WithDecisions(waiting, {"approve"}, deadline));
  ASSERT_EQ(failed.status, "failed");
  EXPECT_EQ(failed.error->code, ErrorCode::kTimeout);
  EXPECT_EQ(Step(failed, "sign_off").at("timed_out"), true);

  std::string skipping = kGated;
  skipping.replace(skipping.find("timeout: 3600"), 13, "timeout: 3600\n        on_timeout: skip");
  Load(skipping);
  action_->calls = 0;
  RunResult waiting2 = Run();
  clock_.SleepFor(std::chrono::hours(2));
  RunResult skipped = Run(WithDecisions(waiting2, {}, waiting2.awaiting->timeout_at_ms));
  ASSERT_EQ(skipped.status, "succeeded") << bj::serialize(skipped.record);
  EXPECT_EQ(Step(skipped, "sign_off").at("status"), "skipped");
  EXPECT_EQ(Step(skipped, "after").at("status"), "succeeded");
}

TEST_F(ApprovalEngineTest, TwoGatesInALoopResumeOneAtATime) {
  Load(R"(
rampart: 1
id: loop
steps:
  - id: each
    type: for_each
    items: "{{ [1, 2] }}"
    as: n
    do:
      - id: work
        type: action
        uses: http.request
        with: { url: "https://api.example.test", json: "{{ n }}" }
      - id: gate
        type: approval
        approvers: { users: [usr_1] }
)");
  RunResult first = Run();
  ASSERT_EQ(first.status, "awaiting_approval") << bj::serialize(first.record);
  EXPECT_EQ(first.awaiting->step, "each[0].gate");
  RunResult second = Run(WithDecisions(first, {"approve"}));
  ASSERT_EQ(second.status, "awaiting_approval") << bj::serialize(second.record);
  EXPECT_EQ(second.awaiting->step, "each[1].gate");
  EXPECT_EQ(action_->calls, 2);  // each[0].work replayed, each[1].work ran
  RunResult done = Run(WithDecisions(second, {"approve"}));
  ASSERT_EQ(done.status, "succeeded") << bj::serialize(done.record);
  EXPECT_EQ(action_->calls, 2);
  EXPECT_EQ(Step(done, "each[0].gate").at("status"), "succeeded");
  EXPECT_EQ(Step(done, "each[1].work").at("output").at("tag"), 2);
}

}  // namespace
}  // namespace rampart::engine
