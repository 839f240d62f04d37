#include "rampart/runs/runs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "runs/test_util.h"

namespace rampart::runs {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using testing::FailingStore;
using testing::FuncAction;

constexpr const char* kDouble = R"(
rampart: 1
id: double
inputs: { type: object, properties: { n: { type: integer } }, required: [n] }
steps:
  - { id: a, type: set, values: { v: 1 } }
output: "{{ inputs.n * 2 }}"
)";

// One `wallet.sign` step (blocks until the test opens the gate), then a set step.
constexpr const char* kGated = R"(
rampart: 1
id: gated
steps:
  - { id: wait, type: action, uses: wallet.sign, with: {} }
  - { id: after, type: set, values: { v: 1 } }
output: done
)";

constexpr const char* kSlow = R"(
rampart: 1
id: slow
steps:
  - { id: nap, type: action, uses: db.query, with: { sql: "SELECT 1", params: { ms: 20 } } }
)";

// A gate the test opens; records when actions arrive at it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int arrived = 0;
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
  bool WaitArrived(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 5s, [&] { return arrived >= n; });
  }
};

// Concurrency per workflow id and the order in which runs started.
struct Tracker {
  std::mutex mu;
  std::map<std::string, int> current;
  std::map<std::string, int> max;
  std::vector<std::string> started;  // workflow ids in start order
};

// Wraps a store and looks at every committed state: after each successful Write (one at a
// time, so no state is skipped) it notes which runs the store shows queued or running,
// and counts the commits.
class ObservingStore final : public store::Store {
 public:
  explicit ObservingStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    std::lock_guard lock(mu_);
    Status s = inner_.Write(fn);
    if (!s.ok()) return s;
    ++commits_;
    Status seen = inner_.Read([&](store::Tx& tx) -> Status {
      for (const char* status : {"queued", "running"}) {
        auto runs = tx.ListRunsByStatus(status, 100000);
        if (!runs.ok()) return runs.error();
        for (const store::Run& r : *runs) active_.insert(r.id);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(seen.ok());
    return s;
  }
  Status Ping() override { return inner_.Ping(); }

  int commits() {
    std::lock_guard lock(mu_);
    return commits_;
  }
  bool SeenActive(const std::string& run_id) {
    std::lock_guard lock(mu_);
    return active_.count(run_id) > 0;
  }

 private:
  store::Store& inner_;
  std::mutex mu_;
  int commits_ = 0;              // GUARDED_BY(mu_)
  std::set<std::string> active_;  // GUARDED_BY(mu_)
};

// Once armed, holds every blocking Write() (a worker's final commit) until released;
// WriteAsync (submissions) passes straight through.
class HeldFinalCommits final : public store::Store {
 public:
  explicit HeldFinalCommits(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    {
      std::unique_lock lock(mu_);
      if (armed_) {
        ++held_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !armed_; });
      }
    }
    return inner_.Write(fn);
  }
  void WriteAsync(std::function<Status(store::Tx&)> fn, std::function<void(Status)> done) override {
    inner_.WriteAsync(std::move(fn), std::move(done));
  }
  Status Ping() override { return inner_.Ping(); }

  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  bool WaitHeld(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return held_ >= n; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    armed_ = false;
    cv_.notify_all();
  }

 private:
  store::Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;  // GUARDED_BY(mu_)
  int held_ = 0;        // GUARDED_BY(mu_)
};

// Records the calls of an asynchronous completion; the test waits for a number of them.
template <typename T>
class Calls {
 public:
  std::function<void(T)> Callback() {
    return [this](T value) {
      std::lock_guard lock(mu_);
      values_.push_back(std::move(value));
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return values_.size() >= n; });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return values_.size();
  }
  T at(size_t i) {
    std::lock_guard lock(mu_);
    return values_.at(i);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> values_;  // GUARDED_BY(mu_)
};
using SubmitCalls = Calls<Result<store::Run>>;
using WaitCalls = Calls<std::optional<store::Run>>;

// Keeps the lines written to the service's log.
class RecordingLog final : public actions::LogSink {
 public:
  void Write(const bj::object& line) override {
    std::lock_guard lock(mu_);
    lines_.push_back(bj::serialize(line));
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;  // GUARDED_BY(mu_)
};

// Holds every WriteAsync job until the test releases it (then hands it to the real
// store): shows what a caller sees while a commit is in flight. Write() is not held.
class DeferringStore final : public store::Store {
 public:
  explicit DeferringStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  Status Write(const std::function<Status(store::Tx&)>& fn) override { return inner_.Write(fn); }
  void WriteAsync(std::function<Status(store::Tx&)> fn, std::function<void(Status)> done) override {
    std::lock_guard lock(mu_);
    held_.emplace_back(std::move(fn), std::move(done));
  }
  Status Ping() override { return inner_.Ping(); }

  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  void Release() {
    std::vector<std::pair<std::function<Status(store::Tx&)>, std::function<void(Status)>>> jobs;
    {
      std::lock_guard lock(mu_);
      jobs.swap(held_);
    }
    for (auto& [fn, done] : jobs) inner_.WriteAsync(std::move(fn), std::move(done));
  }

 private:
  store::Store& inner_;
  std::mutex mu_;
  // GUARDED_BY(mu_)
  std::vector<std::pair<std::function<Status(store::Tx&)>, std::function<void(Status)>>> held_;
};

class RunServiceTest : public ::testing::Test {
 protected:
  RunServiceTest() : store_(testing::MakeStore(dir_.path())) {
    testing::RefuseUnfinishedRunsWithFinishedAt(dir_.path());
    registry_.Register("wallet.sign", std::make_unique<FuncAction>([this](const actions::Context&) {
      std::unique_lock lock(gate_.mu);
      ++gate_.arrived;
      gate_.cv.notify_all();
      gate_.cv.wait_for(lock, 10s, [&] { return gate_.open; });
      return Result<bj::value>(bj::value(nullptr));
    }));
    registry_.Register("db.query", std::make_unique<FuncAction>([this](const actions::Context& ctx) {
      std::string wf(ctx.workflow);
      {
        std::lock_guard lock(tracker_.mu);
        int now = ++tracker_.current[wf];
        tracker_.max[wf] = std::max(tracker_.max[wf], now);
        tracker_.started.push_back(wf);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(ctx.args.at("params").at("ms").to_number<int64_t>()));
      std::lock_guard lock(tracker_.mu);
      --tracker_.current[wf];
      return Result<bj::value>(bj::value(nullptr));
    }));
  }

  // The set-up of the shutdown tests: in org_a (one slot), a gated run holding the slot
  // and a queued one behind it, each with a caller waiting on it.
  struct HeldRuns {
    store::Run running;
    store::Run queued;
  };
  HeldRuns StartHeldRuns(RunService& service, Calls<std::optional<store::Run>>& on_running,
                         Calls<std::optional<store::Run>>& on_queued) {
    testing::PutOrg(*store_, "org_a", 1);
    testing::PutVersion(*store_, "org_a", 1, kGated, 1);
    HeldRuns held;
    EXPECT_TRUE(service.Start().ok());
    auto running = service.Submit(Sub("org_a", "gated", 1));
    auto queued = service.Submit(Sub("org_a", "gated", 1));
    if (!running.ok() || !queued.ok()) {
      ADD_FAILURE() << "submit failed";
      return held;
    }
    held.running = *running;
    held.queued = *queued;
    EXPECT_TRUE(gate_.WaitArrived(1));
    service.WaitAsync("org_a", held.running.id, std::chrono::seconds(60), on_running.Callback());
    service.WaitAsync("org_a", held.queued.id, std::chrono::seconds(60), on_queued.Callback());
    return held;
  }

  // Two workers on `store` (a FailingStore in the store-failure tests) with this fixture's
  // actions and, when given, `log`.
  std::unique_ptr<RunService> ServiceOn(store::Store& store, actions::LogSink* log = nullptr) {
    RunEnvironment env;
    env.actions = &registry_;
    env.log = log;
    RunServiceOptions options;
    options.workers = 2;
    return std::make_unique<RunService>(store, env, options);
  }

  // A queued run of org_a's `workflow` v1 in the store, as a stopped process left it.
  store::Run PutQueuedRun(std::string id, std::string workflow, std::string input) {
    store::Run queued;
    queued.org_id = "org_a";
    queued.id = std::move(id);
    queued.workflow_id = std::move(workflow);
    queued.version = 1;
    queued.status = "queued";
    queued.input = std::move(input);
    queued.trigger = R"({"type": "api"})";
    queued.created_at = 1;
    EXPECT_TRUE(store_->Write([&](store::Tx& tx) {
                  return testing::InsertRunUnderCurrentWorkflow(tx, queued);
                }).ok());
    return queued;
  }

  std::unique_ptr<RunService> NewService(RunServiceOptions options = {}) {
    if (options.workers == 0) options.workers = 4;
    RunEnvironment env;
    env.actions = &registry_;
    return std::make_unique<RunService>(*store_, env, options);
  }

  Submission Sub(std::string org, std::string wf, int version, bj::value input = bj::object()) {
    Submission s;
    s.org_id = std::move(org);
    s.workflow_id = std::move(wf);
    s.version = version;
    s.input = std::move(input);
    s.trigger = bj::parse(R"({"type": "api"})");
    s.actor = "user:usr_test";
    return s;
  }

  std::optional<store::Run> Stored(const std::string& org, const std::string& id) {
    std::optional<store::Run> run;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      auto r = tx.GetRun(org, id);
      if (!r.ok()) return r.error();
      run = std::move(*r);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return run;
  }

  // The audit event an API submission carries (run.start by a user of org_a).
  static store::AuditEvent RunStartEvent() {
    store::AuditEvent event;
    event.org_id = "org_a";
    event.actor = "user:usr_test";
    event.action = "run.start";
    event.outcome = "success";
    event.details = "{}";
    return event;
  }

  std::vector<store::AuditEvent> AuditOf(const std::string& org) {
    std::vector<store::AuditEvent> events;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
                        auto listed = tx.ListAudit(org, 0, 100);
                        if (!listed.ok()) return listed.error();
                        events = std::move(*listed);
                        return Status::Ok();
                      }).ok());
    return events;
  }

  int64_t CountStatus(const std::string& status) {
    int64_t n = -1;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      auto c = tx.CountRunsByStatus(status);
      if (!c.ok()) return c.error();
      n = *c;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return n;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  actions::Registry registry_;
  Gate gate_;
  Tracker tracker_;
};

// The guard of the fixture's store (RefuseUnfinishedRunsWithFinishedAt) works: an
// unfinished run with a finished_at is refused, so every test here shows that the run
// service writes none (recovery's index, migration 16, would miss it).
TEST_F(RunServiceTest, TheStoreRefusesAnUnfinishedRunWithAFinishedAt) {
#ifndef RAMPART_RUNS_WITH_SQLITE
  GTEST_SKIP() << "the guard is a SQLite trigger";
#endif
  testing::PutOrg(*store_, "org_a");
  store::Run run;
  run.org_id = "org_a";
  run.id = "run_guarded";
  run.workflow_id = "wf";
  run.version = 1;
  run.status = "queued";
  run.input = "{}";
  run.trigger = "{}";
  run.finished_at = 5;
  EXPECT_FALSE(store_->Write([&](store::Tx& tx) { return tx.InsertRun(run); }).ok());
  run.finished_at = 0;
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return tx.InsertRun(run); }).ok());
  for (const char* status : {"running", "awaiting_approval"}) {
    run.status = status;
    run.finished_at = 5;
    EXPECT_FALSE(store_->Write([&](store::Tx& tx) { return tx.UpdateRun(run); }).ok()) << status;
  }
  run.status = "cancelled";
  EXPECT_TRUE(store_->Write([&](store::Tx& tx) { return tx.UpdateRun(run); }).ok());
}

TEST_F(RunServiceTest, SubmitAndWaitSucceedsWithRecord) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "double", 1, bj::parse(R"({"n": 21})")));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, "queued");
  EXPECT_EQ(run->id.rfind("run_", 0), 0u);
  EXPECT_EQ(run->actor, "user:usr_test");

  auto done = service->Wait("org_a", run->id, 5s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(done->attempts, 1);
  EXPECT_GT(done->started_at, 0);
  EXPECT_GE(done->finished_at, done->started_at);
  bj::value record = bj::parse(done->record);
  EXPECT_EQ(record.at("output"), bj::value(42));
  EXPECT_EQ(record.at("run_id"), bj::value(run->id));
  EXPECT_EQ(record.at("status"), bj::value("succeeded"));

  auto stored = Stored("org_a", run->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->record, done->record);
  EXPECT_EQ(bj::parse(stored->trigger).at("type"), bj::value("api"));

  // Already final and out of memory: one store read, at once.
  auto again = service->Wait("org_a", run->id, 0ms);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, "succeeded");

  RunStats stats = service->Stats();
  EXPECT_EQ(stats.succeeded, 1);
  EXPECT_EQ(stats.failed, 0);
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 0);
}

// A workflow deleted and created again under its id starts at version 1 again: a queued
// run of the new one (recovered or resumed: its workflow is loaded by version) runs the
// new definition, never the deleted one a worker loaded before.
TEST_F(RunServiceTest, AQueuedRunOfARecreatedWorkflowRunsItsNewDefinition) {
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  testing::PutOrg(*store_, "org_a");
  auto version = [](const char* marker) {
    return std::string("rampart: 1\nid: w\nsteps:\n") +
           "  - { id: q, type: action, uses: db.query, with: { sql: \"SELECT 1\", params: { ms: 1 } } }\n"
           "output: " + marker + "\n";
  };
  testing::PutVersion(*store_, "org_a", 1, version("old"), 1);
  PutQueuedRun("run_first", "w", "{}");
  ASSERT_TRUE(service->Resume("org_a", "run_first").ok());
  auto first = service->Wait("org_a", "run_first", 10s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(bj::parse(first->record).at("output"), "old") << first->record;

  ASSERT_TRUE(store_->Write([](store::Tx& tx) -> Status {
                auto deleted = tx.DeleteWorkflow("org_a", "w");
                return deleted.ok() ? Status::Ok() : Status(deleted.error());
              }).ok());
  testing::PutVersion(*store_, "org_a", 1, version("new"), 1);
  PutQueuedRun("run_second", "w", "{}");
  ASSERT_TRUE(service->Resume("org_a", "run_second").ok());
  auto second = service->Wait("org_a", "run_second", 10s);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, "succeeded") << second->record;
  EXPECT_EQ(bj::parse(second->record).at("output"), "new") << second->record;
}

// A run of a workflow deleted since (here queued; awaiting an approval or recovered
// after a crash alike) whose id was created again later: the new workflow's version 1 is
// not its definition. It fails as a run of a deleted workflow does, and never executes the
// new definition's steps with the old run's input; also when the new version's time is
// earlier than the run's (the wall clock was set back in between).
TEST_F(RunServiceTest, ARunOfADeletedWorkflowNeverRunsTheDefinitionCreatedAgainUnderItsId) {
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  testing::PutOrg(*store_, "org_a");
  for (const store::Millis new_version_at : {store::Millis{5}, store::Millis{0}}) {
    SCOPED_TRACE("new version created at " + std::to_string(new_version_at));
    const std::string id = "w2-" + std::to_string(new_version_at);
    auto version = [&](const char* marker) {
      return "rampart: 1\nid: " + id + "\nsteps:\n" +
             "  - { id: q, type: action, uses: db.query, with: { sql: \"SELECT 1\", params: { ms: 1 } } }\n"
             "output: " + marker + "\n";
    };
    testing::PutVersion(*store_, "org_a", 1, version("old"), 1, /*created_at=*/1);
    const std::string run_id = "run_of_deleted_" + std::to_string(new_version_at);
    PutQueuedRun(run_id, id, "{}");  // created_at 1
    ASSERT_TRUE(store_->Write([&](store::Tx& tx) -> Status {
                  auto deleted = tx.DeleteWorkflow("org_a", id);
                  return deleted.ok() ? Status::Ok() : Status(deleted.error());
                }).ok());
    testing::PutVersion(*store_, "org_a", 1, version("new"), 1, new_version_at);
    ASSERT_TRUE(service->Resume("org_a", run_id).ok());
    auto settled = service->Wait("org_a", run_id, 10s);
    ASSERT_TRUE(settled.has_value());
    EXPECT_EQ(settled->status, "failed") << settled->record;
    EXPECT_EQ(settled->error_code, "not_found") << settled->record;
    EXPECT_EQ(settled->record.find("new"), std::string::npos) << settled->record;
  }
}

TEST_F(RunServiceTest, InvalidInputIsRejectedAndNothingStored) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "double", 1, bj::parse(R"({"n": "x"})")));
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(run.error().message.find("/n: "), std::string::npos) << run.error().message;
  auto missing = service->Submit(Sub("org_a", "double", 1, bj::object()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(CountStatus("queued"), 0);
  EXPECT_EQ(CountStatus("failed"), 0);
}

TEST_F(RunServiceTest, UnknownWorkflowVersionOrOrgIsNotFound) {
  testing::PutOrg(*store_, "org_a");
  testing::PutOrg(*store_, "org_b");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  bj::value input = bj::parse(R"({"n": 1})");
  auto no_wf = service->Submit(Sub("org_a", "nope", 1, input));
  ASSERT_FALSE(no_wf.ok());
  EXPECT_EQ(no_wf.error().code, ErrorCode::kNotFound);
  auto no_version = service->Submit(Sub("org_a", "double", 2, input));
  ASSERT_FALSE(no_version.ok());
  EXPECT_EQ(no_version.error().code, ErrorCode::kNotFound);
  // Org B cannot run org A's workflow, even after org A's version is cached.
  auto ok = service->Submit(Sub("org_a", "double", 1, input));
  ASSERT_TRUE(ok.ok());
  auto other = service->Submit(Sub("org_b", "double", 1, input));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  // Nor see or cancel org A's run.
  EXPECT_FALSE(service->Wait("org_b", ok->id, 50ms).has_value());
  auto cancel = service->Cancel("org_b", ok->id);
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(service->Wait("org_a", ok->id, 5s).has_value());
  EXPECT_EQ(service->Cancel("org_b", ok->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service->Cancel("org_a", "run_unknown").error().code, ErrorCode::kNotFound);
}

TEST_F(RunServiceTest, CancelQueuedRunningAndFinal) {
  testing::PutOrg(*store_, "org_a", 1);  // one at a time: the second run stays queued
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto first = service->Submit(Sub("org_a", "gated", 1));
  auto second = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));
  EXPECT_EQ(service->Stats().running, 1);
  EXPECT_EQ(service->Stats().queued, 1);

  // Queued: committed cancelled at once, never started.
  auto queued_cancel = service->Cancel("org_a", second->id);
  ASSERT_TRUE(queued_cancel.ok());
  EXPECT_EQ(*queued_cancel, "cancelled");
  auto cancelled = service->Wait("org_a", second->id, 1s);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->status, "cancelled");
  EXPECT_EQ(cancelled->error_code, "cancelled");
  EXPECT_EQ(cancelled->attempts, 0);
  bj::value rec = bj::parse(cancelled->record);
  EXPECT_EQ(rec.at("status"), bj::value("cancelled"));
  EXPECT_EQ(rec.at("error").at("code"), bj::value("cancelled"));
  EXPECT_EQ(Stored("org_a", second->id)->status, "cancelled");
  EXPECT_EQ(service->Stats().queued, 0);

  // Running: the flag stops it before the next step.
  auto running_cancel = service->Cancel("org_a", first->id);
  ASSERT_TRUE(running_cancel.ok());
  EXPECT_EQ(*running_cancel, "running");
  gate_.Open();
  auto stopped = service->Wait("org_a", first->id, 5s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(stopped->status, "cancelled");
  EXPECT_EQ(stopped->error_code, "cancelled");
  EXPECT_EQ(Stored("org_a", first->id)->status, "cancelled");

  // Final.
  auto again = service->Cancel("org_a", first->id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(service->Cancel("org_a", second->id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(gate_.arrived, 1);  // the cancelled queued run never ran
  EXPECT_EQ(service->Stats().cancelled, 2);
}

TEST_F(RunServiceTest, ChildWorkflowUsesLiveVersionOfSameOrgOnly) {
  testing::PutOrg(*store_, "org_a");
  testing::PutOrg(*store_, "org_b");
  const char* child_v1 = "rampart: 1\nid: child\nsteps: [ { id: s, type: set, values: {} } ]\noutput: a-v1\n";
  const char* child_v2 = "rampart: 1\nid: child\nsteps: [ { id: s, type: set, values: {} } ]\noutput: a-v2\n";
  const char* child_v3 = "rampart: 1\nid: child\nsteps: [ { id: s, type: set, values: {} } ]\noutput: a-v3-draft\n";
  const char* child_b = "rampart: 1\nid: child\nsteps: [ { id: s, type: set, values: {} } ]\noutput: org-b\n";
  const char* parent = R"(
rampart: 1
id: parent
steps:
  - { id: call, type: workflow, workflow: child, with: { x: 1 } }
output: "{{ steps.call.output }}"
)";
  const char* unpublished_parent = R"(
rampart: 1
id: parent2
steps:
  - { id: call, type: workflow, workflow: draft-only, with: {} }
)";
  testing::PutVersion(*store_, "org_a", 1, child_v1, 0);
  testing::PutVersion(*store_, "org_a", 2, child_v2, 2);
  testing::PutVersion(*store_, "org_a", 3, child_v3, 0);  // draft; live stays 2
  testing::PutVersion(*store_, "org_b", 1, child_b, 1);
  testing::PutVersion(*store_, "org_a", 1, parent, 1);
  testing::PutVersion(*store_, "org_a", 1, unpublished_parent, 1);
  testing::PutVersion(*store_, "org_a", 1, "rampart: 1\nid: draft-only\nsteps: [ { id: s, type: set, values: {} } ]\n", 0);
  testing::PutVersion(*store_, "org_b", 1, parent, 1);

  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto a = service->Submit(Sub("org_a", "parent", 1));
  auto b = service->Submit(Sub("org_b", "parent", 1));
  auto c = service->Submit(Sub("org_a", "parent2", 1));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto ra = service->Wait("org_a", a->id, 5s);
  auto rb = service->Wait("org_b", b->id, 5s);
  auto rc = service->Wait("org_a", c->id, 5s);
  ASSERT_TRUE(ra && rb && rc);
  EXPECT_EQ(ra->status, "succeeded") << ra->record;
  EXPECT_EQ(bj::parse(ra->record).at("output"), bj::value("a-v2"));
  EXPECT_EQ(rb->status, "succeeded") << rb->record;
  EXPECT_EQ(bj::parse(rb->record).at("output"), bj::value("org-b"));
  EXPECT_EQ(rc->status, "failed");
  EXPECT_EQ(rc->error_code, "not_found") << rc->record;
  EXPECT_NE(rc->record.find("not_found"), std::string::npos) << rc->record;

  // The child run is its own row in the parent's org.
  bj::value rec = bj::parse(ra->record);
  std::string child_id(rec.at("steps").at(0).at("child_run_id").as_string());
  auto child = Stored("org_a", child_id);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(child->status, "succeeded");
  EXPECT_EQ(child->workflow_id, "child");
  EXPECT_EQ(child->version, 2);
  EXPECT_EQ(child->actor, "run:" + a->id);
  EXPECT_EQ(bj::parse(child->record).at("version"), bj::value(2));
  bj::value trigger = bj::parse(child->trigger);
  EXPECT_EQ(trigger.at("type"), bj::value("workflow"));
  EXPECT_EQ(trigger.at("parent_run_id"), bj::value(a->id));
  EXPECT_FALSE(Stored("org_b", child_id).has_value());
}

// Nested runs do not support approvals: a child run that reaches an approval step fails
// there, and its parent fails with it. The child's row must be final too: left in
// awaiting_approval it could still be approved (its actor is the parent run, so even the
// parent's own initiator could) and run its remaining steps after the parent failed.
TEST_F(RunServiceTest, AChildRunStoppingAtAnApprovalFailsWithItsParent) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, R"(
rampart: 1
id: gated
steps:
  - { id: gate, type: approval, approvers: { roles: [owner] } }
  - { id: after, type: set, values: { ran: true } }
)", 1);
  testing::PutVersion(*store_, "org_a", 1, R"(
rampart: 1
id: parent
steps:
  - { id: call, type: workflow, workflow: gated }
)", 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto sub = service->Submit(Sub("org_a", "parent", 1));
  ASSERT_TRUE(sub.ok());
  auto done = service->Wait("org_a", sub->id, 5s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, "failed") << done->record;
  EXPECT_EQ(done->error_code, "step_failed") << done->record;
  bj::value rec = bj::parse(done->record);
  EXPECT_EQ(rec.at("error").at("step"), bj::value("call"));
  std::string child_id(rec.at("steps").at(0).at("child_run_id").as_string());
  auto child = Stored("org_a", child_id);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(child->status, "failed") << child->record;
  EXPECT_EQ(child->error_code, "step_failed");
  EXPECT_NE(child->finished_at, 0);
  bj::value child_rec = bj::parse(child->record);
  EXPECT_EQ(child_rec.at("status"), bj::value("failed"));
  EXPECT_EQ(child_rec.at("error").at("step"), bj::value("gate"));
  EXPECT_FALSE(child_rec.at("finished_at").is_null());
  const bj::array& steps = child_rec.at("steps").as_array();
  ASSERT_EQ(steps.size(), 1u) << child->record;
  EXPECT_EQ(steps[0].at("status"), bj::value("failed"));
}

TEST_F(RunServiceTest, OrgsShareWorkersFairlyAndLimitsHold) {
  testing::PutOrg(*store_, "org_a", 2);
  testing::PutOrg(*store_, "org_b");
  testing::PutVersion(*store_, "org_a", 1, kSlow, 1);
  testing::PutVersion(*store_, "org_b", 1,
                      "rampart: 1\nid: slow-b\nsteps:\n  - { id: nap, type: action, uses: "
                      "db.query, with: { sql: \"SELECT 1\", params: { ms: 20 } } }\n",
                      1);
  auto service = NewService({.workers = 4});
  ASSERT_TRUE(service->Start().ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto r = service->Submit(Sub("org_a", "slow", 1));
    ASSERT_TRUE(r.ok());
    ids.push_back(r->id);
  }
  auto b = service->Submit(Sub("org_b", "slow-b", 1));
  ASSERT_TRUE(b.ok());
  size_t started_before_b = 0;  // A's runs started by the time B was accepted
  {
    std::lock_guard lock(tracker_.mu);
    started_before_b = tracker_.started.size();
  }
  auto rb = service->Wait("org_b", b->id, 10s);
  ASSERT_TRUE(rb.has_value());
  EXPECT_EQ(rb->status, "succeeded");
  for (const auto& id : ids) {
    auto r = service->Wait("org_a", id, 10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, "succeeded");
  }
  std::lock_guard lock(tracker_.mu);
  EXPECT_EQ(tracker_.max["slow"], 2);
  auto pos = std::find(tracker_.started.begin(), tracker_.started.end(), "slow-b");
  ASSERT_NE(pos, tracker_.started.end());
  // B did not wait for A's queue: it started before A's next few runs. Counted from B's
  // acceptance, not from the first run, so a slow (loaded) machine that started many of
  // A's runs while the 50 submissions were still going on does not fail the test.
  EXPECT_LT(static_cast<size_t>(pos - tracker_.started.begin()), started_before_b + 4)
      << "A's runs started before B was accepted: " << started_before_b;
  EXPECT_EQ(service->Stats().succeeded, 51);
}

TEST_F(RunServiceTest, MaxQueuedRateLimits) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  auto service = NewService({.workers = 2, .max_queued = 2});
  ASSERT_TRUE(service->Start().ok());
  ASSERT_TRUE(service->Submit(Sub("org_a", "gated", 1)).ok());
  ASSERT_TRUE(gate_.WaitArrived(1));  // running, no longer queued
  ASSERT_TRUE(service->Submit(Sub("org_a", "gated", 1)).ok());
  ASSERT_TRUE(service->Submit(Sub("org_a", "gated", 1)).ok());
  auto over = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kRateLimited);
  gate_.Open();
}

TEST_F(RunServiceTest, StopWithRunsInFlightDoesNotHangAndRecoveryInterruptsThem) {
  testing::PutOrg(*store_, "org_a", 4);
  // 200 steps of 10 ms: far longer than the drain, cancellable between steps.
  std::string yaml = "rampart: 1\nid: long\nsteps:\n  - id: loop\n    type: for_each\n    items: [";
  for (int i = 0; i < 100; ++i) yaml += (i ? ",1" : "1");
  yaml += "]\n    do:\n      - { id: nap, type: action, uses: db.query, with: { sql: \"SELECT 1\", params: { ms: 10 } } }\n";
  testing::PutVersion(*store_, "org_a", 1, yaml, 1);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);

  std::vector<std::string> ids;
  {
    auto service = NewService({.workers = 2});
    ASSERT_TRUE(service->Start().ok());
    for (int i = 0; i < 4; ++i) {
      auto r = service->Submit(Sub("org_a", "long", 1));
      ASSERT_TRUE(r.ok());
      ids.push_back(r->id);
    }
    std::this_thread::sleep_for(50ms);
    auto t0 = std::chrono::steady_clock::now();
    service->Stop(20ms);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_EQ(service->Stats().running, 0);
    // After Stop: no new runs.
    auto late = service->Submit(Sub("org_a", "double", 1, bj::parse(R"({"n": 1})")));
    EXPECT_FALSE(late.ok());
    service->Stop(0ms);  // idempotent
  }
  int running = 0, queued = 0;
  for (const auto& id : ids) {
    auto r = Stored("org_a", id);
    ASSERT_TRUE(r.has_value());
    running += r->status == "running";
    queued += r->status == "queued";
  }
  EXPECT_EQ(running, 2);  // two workers were cut
  EXPECT_EQ(queued, 2);   // the rest stay queued

  // Next start: the cut ones fail as interrupted, the queued ones run (once).
  registry_.Register("db.query", std::make_unique<FuncAction>([](const actions::Context&) {
    return Result<bj::value>(bj::value(nullptr));
  }));
  auto service = NewService({.workers = 2});
  ASSERT_TRUE(service->Start().ok());
  EXPECT_EQ(service->Stats().failed, 2);
  int interrupted = 0, succeeded = 0;
  for (const auto& id : ids) {
    auto r = service->Wait("org_a", id, 10s);
    ASSERT_TRUE(r.has_value());
    if (r->status == "failed") {
      EXPECT_EQ(r->error_code, "interrupted");
      bj::value rec = bj::parse(r->record);
      EXPECT_EQ(rec.at("error").at("code"), bj::value("interrupted"));
      EXPECT_EQ(rec.at("error").at("message"),
                bj::value("the server stopped while this run was executing"));
      ++interrupted;
    } else {
      EXPECT_EQ(r->status, "succeeded");
      EXPECT_EQ(r->attempts, 1);
      ++succeeded;
    }
  }
  EXPECT_EQ(interrupted, 2);
  EXPECT_EQ(succeeded, 2);
}

// A run that resumed after an approval and was cut by a crash: its stored record already
// lists the steps that ran before the wait, with the approval decisions. Failing it as
// interrupted keeps those steps; the record must not claim that nothing ran.
TEST_F(RunServiceTest, AnInterruptedRunKeepsTheStepsOfItsLastDurableRecord) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  store::Run run;
  run.org_id = "org_a";
  run.id = "run_resumedbeforethecrash0000";
  run.workflow_id = "gated";
  run.version = 1;
  run.status = "running";
  run.input = "{}";
  run.trigger = R"({"type": "api"})";
  run.actor = "user:usr_test";
  run.created_at = run.started_at = 1000;
  run.attempts = 2;
  run.record = R"({"run_id": "run_resumedbeforethecrash0000", "workflow": "gated", "version": 1,
    "status": "awaiting_approval", "input": {}, "output": null, "error": null,
    "started_at": "1970-01-01T00:00:01.000Z", "finished_at": null,
    "steps": [{"path": "first", "id": "first", "type": "action", "status": "succeeded",
               "attempts": 1, "output": {"ok": true}},
              {"path": "gate", "id": "gate", "type": "approval", "status": "awaiting_approval",
               "approvals": [{"user": "usr_other", "decision": "approve"}]}]})";
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return tx.InsertRun(run); }).ok());

  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto stored = Stored("org_a", run.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "failed");
  EXPECT_EQ(stored->error_code, "interrupted");
  bj::value rec = bj::parse(stored->record);
  EXPECT_EQ(rec.at("status"), bj::value("failed"));
  EXPECT_EQ(rec.at("error").at("code"), bj::value("interrupted"));
  EXPECT_FALSE(rec.at("finished_at").is_null());
  const bj::array& steps = rec.at("steps").as_array();
  ASSERT_EQ(steps.size(), 2u) << stored->record;
  EXPECT_EQ(steps[0].at("path"), bj::value("first"));
  EXPECT_EQ(steps[0].at("status"), bj::value("succeeded"));
  EXPECT_EQ(steps[1].at("approvals").at(0).at("user"), bj::value("usr_other"));
}

TEST_F(RunServiceTest, SubmittedBeforeStartRunsOnce) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kSlow, 1);
  auto service = NewService();
  auto r = service->Submit(Sub("org_a", "slow", 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(service->Stats().queued, 1);
  ASSERT_TRUE(service->Start().ok());  // recovery sees it queued, but it is already ours
  auto done = service->Wait("org_a", r->id, 5s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "succeeded");
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock(tracker_.mu);
  EXPECT_EQ(tracker_.started.size(), 1u);
  EXPECT_FALSE(service->Start().ok());
}

TEST_F(RunServiceTest, ManyWaitersFromManyThreads) {
  testing::PutOrg(*store_, "org_a", 8);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  auto service = NewService({.workers = 4});
  ASSERT_TRUE(service->Start().ok());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = service->Submit(Sub("org_a", "double", 1, bj::parse("{\"n\": " + std::to_string(t) + "}")));
        if (!r.ok()) continue;
        auto done = service->Wait("org_a", r->id, 10s);
        if (done && done->status == "succeeded" &&
            bj::parse(done->record).at("output") == bj::value(2 * t)) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_EQ(service->Stats().succeeded, 80);
}

TEST_F(RunServiceTest, RecreatedWorkflowIsNotServedFromTheCache) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, "rampart: 1\nid: w\nsteps: [ { id: s, type: set, values: {} } ]\noutput: old\n", 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto first = service->Submit(Sub("org_a", "w", 1));
  ASSERT_TRUE(first.ok());
  auto r1 = service->Wait("org_a", first->id, 5s);
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(bj::parse(r1->record).at("output"), bj::value("old"));

  Status deleted = store_->Write([](store::Tx& tx) -> Status {
    auto d = tx.DeleteWorkflow("org_a", "w");
    return d.ok() ? Status::Ok() : Status(d.error());
  });
  ASSERT_TRUE(deleted.ok());
  auto gone = service->Submit(Sub("org_a", "w", 1));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);

  testing::PutVersion(*store_, "org_a", 1, "rampart: 1\nid: w\nsteps: [ { id: s, type: set, values: {} } ]\noutput: new\n", 1);
  auto second = service->Submit(Sub("org_a", "w", 1));
  ASSERT_TRUE(second.ok());
  auto r2 = service->Wait("org_a", second->id, 5s);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(bj::parse(r2->record).at("output"), bj::value("new"));
}

// A side-effect-free workflow submitted by a caller that waits (may_run_inline) is
// executed by Submit itself and committed once, straight as final, with its audit event,
// the caller's in_commit work and the on_final hook in that one commit.
TEST_F(RunServiceTest, InlineRunIsCommittedOnceStraightAsFinal) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  ObservingStore observed(*store_);
  RunEnvironment env;
  env.actions = &registry_;
  std::atomic<int> on_final_calls{0}, after_final_calls{0};
  env.on_final = [&](store::Tx& tx, const store::Run& run, const model::Workflow& wf) -> Status {
    ++on_final_calls;
    EXPECT_EQ(wf.id, "double");
    EXPECT_EQ(run.status, "succeeded");
    // The hook writes in the transaction that holds the run's final row.
    auto row = tx.GetRun(run.org_id, run.id);
    EXPECT_TRUE(row.ok() && row->has_value() && (*row)->status == "succeeded");
    return Status::Ok();
  };
  env.after_final = [&](const store::Run& run, const model::Workflow& wf) {
    EXPECT_EQ(run.status, "succeeded");
    EXPECT_EQ(wf.id, "double");
    ++after_final_calls;
  };
  RunServiceOptions options;
  options.workers = 2;
  RunService service(observed, env, options);
  ASSERT_TRUE(service.Start().ok());
  const int commits_before = observed.commits();

  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 21})"));
  s.may_run_inline = true;
#ifdef RAMPART_RUNS_WITH_SQLITE
  s.audit = RunStartEvent();
#endif
  std::string in_commit_status;
  s.in_commit = [&](store::Tx&, const store::Run& run) {
    in_commit_status = run.status;
    return Status::Ok();
  };
  auto run = service.Submit(std::move(s));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, "succeeded");
  EXPECT_EQ(run->attempts, 1);
  EXPECT_GT(run->finished_at, 0);
  EXPECT_EQ(bj::parse(run->record).at("output"), bj::value(42));
  EXPECT_EQ(bj::parse(run->record).at("status"), bj::value("succeeded"));
  EXPECT_EQ(in_commit_status, "succeeded");
  EXPECT_EQ(on_final_calls.load(), 1);
  EXPECT_EQ(after_final_calls.load(), 1);
  EXPECT_EQ(observed.commits() - commits_before, 1) << "a side-effect-free run commits once";
  EXPECT_FALSE(observed.SeenActive(run->id)) << "never visible as queued or running";

  auto stored = Stored("org_a", run->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->record, run->record);
  EXPECT_EQ(stored->attempts, 1);
  auto waited = service.Wait("org_a", run->id, 1s);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status, "succeeded");
  EXPECT_EQ(service.Stats().succeeded, 1);
  EXPECT_EQ(service.Stats().running, 0);
#ifdef RAMPART_RUNS_WITH_SQLITE
  const std::vector<store::AuditEvent> events = AuditOf("org_a");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, "run.start");
  EXPECT_EQ(events[0].target, run->id);
#endif
  service.Stop(1s);
}

// An inline run that uses up its inline budget (0 here: before its first step) does not
// hold the submitting thread: it is committed as queued, with its audit event and the
// caller's in_commit work, and a worker runs it from the start to the same outcome; the
// on_final hook runs once, with the final run. Waiters of the returned id get it.
TEST_F(RunServiceTest, AnInlineRunPastItsBudgetIsHandedToAWorkerAndFinishesThere) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  ObservingStore observed(*store_);
  RunEnvironment env;
  env.actions = &registry_;
  std::atomic<int> on_final_calls{0};
  env.on_final = [&](store::Tx&, const store::Run& run, const model::Workflow&) -> Status {
    ++on_final_calls;
    EXPECT_EQ(run.status, "succeeded");
    return Status::Ok();
  };
  RunServiceOptions options;
  options.workers = 2;
  options.inline_budget = std::chrono::milliseconds(0);
  RunService service(observed, env, options);
  ASSERT_TRUE(service.Start().ok());

  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 21})"));
  s.may_run_inline = true;
#ifdef RAMPART_RUNS_WITH_SQLITE
  s.audit = RunStartEvent();
#endif
  int in_commit_calls = 0;
  s.in_commit = [&](store::Tx&, const store::Run& run) {
    ++in_commit_calls;
    EXPECT_EQ(run.status, "queued");
    return Status::Ok();
  };
  auto run = service.Submit(std::move(s));
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, "queued") << "handed over, not executed on the submitting thread";
  EXPECT_EQ(run->attempts, 0);
  auto waited = service.Wait("org_a", run->id, 10s);
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status, "succeeded");
  EXPECT_EQ(waited->attempts, 1);
  EXPECT_EQ(bj::parse(waited->record).at("output"), bj::value(42));
  EXPECT_TRUE(observed.SeenActive(run->id));
  EXPECT_EQ(in_commit_calls, 1);
  EXPECT_EQ(on_final_calls.load(), 1);
  EXPECT_EQ(service.Stats().handed_over, 1);
  EXPECT_EQ(service.Stats().succeeded, 1);

  auto stored = Stored("org_a", run->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->attempts, 1);
#ifdef RAMPART_RUNS_WITH_SQLITE
  const std::vector<store::AuditEvent> events = AuditOf("org_a");
  ASSERT_EQ(events.size(), 1u) << "one run.start, not one per attempt";
#endif
  // Within the budget nothing changes: it runs inline, final at once.
  RunServiceOptions roomy = options;
  roomy.inline_budget = std::chrono::seconds(30);
  service.Stop(1s);
  RunService second(observed, env, roomy);
  ASSERT_TRUE(second.Start().ok());
  Submission again = Sub("org_a", "double", 1, bj::parse(R"({"n": 2})"));
  again.may_run_inline = true;
  auto quick = second.Submit(std::move(again));
  ASSERT_TRUE(quick.ok());
  EXPECT_EQ(quick->status, "succeeded");
  EXPECT_EQ(second.Stats().handed_over, 0);
  second.Stop(1s);
}

// A workflow with an action step takes the durable path even when inline is allowed, and
// a side-effect-free one does without the caller's consent (may_run_inline).
TEST_F(RunServiceTest, InlineOnlyForSideEffectFreeWorkflowsWhenAllowed) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kSlow, 1);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  ObservingStore observed(*store_);
  RunEnvironment env;
  env.actions = &registry_;
  RunService service(observed, env, {.workers = 2});
  ASSERT_TRUE(service.Start().ok());

  Submission with_action = Sub("org_a", "slow", 1);
  with_action.may_run_inline = true;
  auto slow = service.Submit(std::move(with_action));
  ASSERT_TRUE(slow.ok());
  EXPECT_TRUE(slow->status == "queued" || slow->status == "running") << slow->status;
  EXPECT_TRUE(observed.SeenActive(slow->id));

  auto not_allowed = service.Submit(Sub("org_a", "double", 1, bj::parse(R"({"n": 1})")));
  ASSERT_TRUE(not_allowed.ok());
  EXPECT_TRUE(not_allowed->status == "queued" || not_allowed->status == "running");
  EXPECT_TRUE(observed.SeenActive(not_allowed->id));

  for (const auto& id : {slow->id, not_allowed->id}) {
    auto done = service.Wait("org_a", id, 5s);
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->status, "succeeded");
  }
  service.Stop(1s);
}

// Fairness: an inline run needs room under its org's limit like any other; when the org
// is full it waits queued behind the running one instead of overtaking it.
TEST_F(RunServiceTest, InlineRunQueuesWhenItsOrgIsFull) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto gated = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(gated.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));  // holds the org's only slot

  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 2})"));
  s.may_run_inline = true;
  auto pure = service->Submit(std::move(s));
  ASSERT_TRUE(pure.ok());
  EXPECT_EQ(pure->status, "queued");
  EXPECT_FALSE(service->Wait("org_a", pure->id, 50ms).has_value());

  gate_.Open();
  auto first = service->Wait("org_a", gated->id, 5s);
  auto second = service->Wait("org_a", pure->id, 5s);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(second->status, "succeeded");
  EXPECT_LE(first->finished_at, second->started_at);

  // The slot is free again: the next one runs inline.
  Submission again = Sub("org_a", "double", 1, bj::parse(R"({"n": 3})"));
  again.may_run_inline = true;
  auto third = service->Submit(std::move(again));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->status, "succeeded");
  service->Stop(1s);
}

// A worker's run gives its org slot back once its engine finished: with a limit of 1, the
// org's next run executes while the previous one's final commit is still in flight (the
// limit bounds runs that execute, not commits). Both end succeeded.
TEST_F(RunServiceTest, TheNextRunStartsWhileTheFinalCommitIsInFlight) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  HeldFinalCommits held(*store_);
  RunEnvironment env;
  env.actions = &registry_;
  RunService service(held, env, {.workers = 4});
  ASSERT_TRUE(service.Start().ok());
  auto first = service.Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));
  held.Arm();
  gate_.Open();
  ASSERT_TRUE(held.WaitHeld(1));  // the first run's engine is done; its final commit waits
  EXPECT_EQ(service.Stats().running, 0);
  auto second = service.Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(gate_.WaitArrived(2)) << "the second run did not execute during the first's commit";
  held.Release();
  auto a = service.Wait("org_a", first->id, 10s);
  auto b = service.Wait("org_a", second->id, 10s);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->status, "succeeded");
  EXPECT_EQ(b->status, "succeeded");
  EXPECT_LE(a->finished_at, b->started_at);
  service.Stop(1s);
}

// The inline commit carries the submission's own work: when that fails, nothing of the
// run is stored and its slot is free again. A failing on_final hook does not lose the
// run's outcome (committed without the hook's writes, as for worker runs).
TEST_F(RunServiceTest, InlineCommitFailureStoresNothingAndHookFailureKeepsTheOutcome) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  RunEnvironment env;
  env.actions = &registry_;
  std::atomic<int> hook_calls{0};
  env.on_final = [&](store::Tx&, const store::Run&, const model::Workflow&) -> Status {
    ++hook_calls;
    return MakeError(ErrorCode::kInternal, "hook table unavailable");
  };
  RunService service(*store_, env, {.workers = 2});
  ASSERT_TRUE(service.Start().ok());

  std::string refused_id;
  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 1})"));
  s.may_run_inline = true;
  s.in_commit = [&](store::Tx&, const store::Run& run) -> Status {
    refused_id = run.id;
    return MakeError(ErrorCode::kConflict, "delivery already seen");
  };
  auto refused = service.Submit(std::move(s));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  ASSERT_FALSE(refused_id.empty());
  EXPECT_FALSE(Stored("org_a", refused_id).has_value());
  EXPECT_EQ(service.Stats().running, 0);
  EXPECT_EQ(hook_calls.load(), 0);

  Submission next = Sub("org_a", "double", 1, bj::parse(R"({"n": 4})"));
  next.may_run_inline = true;
  auto ok = service.Submit(std::move(next));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, "succeeded");  // inline: the org's single slot was released
  EXPECT_EQ(hook_calls.load(), 1);
  auto stored = Stored("org_a", ok->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(bj::parse(stored->record).at("output"), bj::value(8));
  service.Stop(1s);
}

// SubmitAsync returns before the commit; its `done` comes after it, with memory and store
// agreeing. The inline path executes on the calling thread but completes after its commit
// too, and Stop() waits for a commit in flight (its `done` is called before Stop returns).
TEST_F(RunServiceTest, SubmitAsyncCompletesOnlyAfterItsCommit) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  DeferringStore deferring(*store_);
  SubmitCalls submitted;
  WaitCalls waited;
  RunEnvironment env;
  env.actions = &registry_;
  RunService service(deferring, env, {.workers = 2});
  ASSERT_TRUE(service.Start().ok());

  service.SubmitAsync(Sub("org_a", "double", 1, bj::parse(R"({"n": 5})")), submitted.Callback());
  EXPECT_EQ(submitted.count(), 0u);
  EXPECT_EQ(deferring.held(), 1u);
  EXPECT_EQ(CountStatus("queued") + CountStatus("running"), 0);
  EXPECT_EQ(service.Stats().queued, 0);  // memory follows the store
  deferring.Release();
  ASSERT_TRUE(submitted.WaitFor(1));
  Result<store::Run> first = submitted.at(0);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->status == "queued" || first->status == "running") << first->status;
  service.WaitAsync("org_a", first->id, 10s, waited.Callback());
  ASSERT_TRUE(waited.WaitFor(1));
  ASSERT_TRUE(waited.at(0).has_value());
  EXPECT_EQ(waited.at(0)->status, "succeeded");
  EXPECT_EQ(bj::parse(waited.at(0)->record).at("output"), bj::value(10));

  // Inline: executed here, but nothing is answered (nor stored) before the commit.
  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 6})"));
  s.may_run_inline = true;
  const int64_t succeeded_before = CountStatus("succeeded");
  service.SubmitAsync(std::move(s), submitted.Callback());
  EXPECT_EQ(submitted.count(), 1u);
  EXPECT_EQ(deferring.held(), 1u);
  EXPECT_EQ(CountStatus("succeeded"), succeeded_before);
  // Its slot is back once the engine finished: a commit in flight executes nothing, so
  // with a limit of 1 the org's next inline run executes meanwhile (not queued behind it).
  EXPECT_EQ(service.Stats().running, 0);
  service.SetOrgLimit("org_a", 1);
  Submission next = Sub("org_a", "double", 1, bj::parse(R"({"n": 9})"));
  next.may_run_inline = true;
  service.SubmitAsync(std::move(next), submitted.Callback());
  EXPECT_EQ(deferring.held(), 2u);
  deferring.Release();
  ASSERT_TRUE(submitted.WaitFor(3));
  Result<store::Run> second = submitted.at(1);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status, "succeeded");
  EXPECT_EQ(bj::parse(second->record).at("output"), bj::value(12));
  EXPECT_EQ(Stored("org_a", second->id)->status, "succeeded");
  Result<store::Run> third = submitted.at(2);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->status, "succeeded");  // final from Submit: it ran inline
  EXPECT_EQ(bj::parse(third->record).at("output"), bj::value(18));
  service.SetOrgLimit("org_a", 0);

  // Stop() with a commit in flight: the submission completes before Stop returns.
  service.SubmitAsync(Sub("org_a", "double", 1, bj::parse(R"({"n": 7})")), submitted.Callback());
  ASSERT_EQ(deferring.held(), 1u);
  std::atomic<size_t> completed_when_stopped{0};
  std::thread stopper([&] {
    service.Stop(0ms);  // no drain: only the wait for in-flight commits holds it
    completed_when_stopped = submitted.count();
  });
  std::this_thread::sleep_for(50ms);
  deferring.Release();
  stopper.join();
  EXPECT_EQ(completed_when_stopped.load(), 4u);
  ASSERT_TRUE(submitted.at(3).ok());
  EXPECT_TRUE(Stored("org_a", submitted.at(3)->id).has_value());
  EXPECT_EQ(submitted.count(), 4u);
  EXPECT_EQ(waited.count(), 1u);
}

TEST_F(RunServiceTest, SubmitAsyncAndWaitAsyncForAWorkerRun) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  SubmitCalls submitted;
  WaitCalls waited;
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  service->SubmitAsync(Sub("org_a", "gated", 1), submitted.Callback());
  ASSERT_TRUE(submitted.WaitFor(1));
  Result<store::Run> run = submitted.at(0);
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_TRUE(gate_.WaitArrived(1));  // executing on a worker
  service->WaitAsync("org_a", run->id, 10s, waited.Callback());
  EXPECT_EQ(waited.count(), 0u);  // returned at once, without the outcome
  gate_.Open();
  ASSERT_TRUE(waited.WaitFor(1));
  ASSERT_TRUE(waited.at(0).has_value());
  EXPECT_EQ(waited.at(0)->status, "succeeded");
  EXPECT_EQ(waited.at(0)->record, Stored("org_a", run->id)->record);
  service->Stop(1s);
  EXPECT_EQ(submitted.count(), 1u);
  EXPECT_EQ(waited.count(), 1u);
}

TEST_F(RunServiceTest, SubmitAsyncAndWaitAsyncForAnInlineRun) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  SubmitCalls submitted;
  WaitCalls waited;
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 4})"));
  s.may_run_inline = true;
  service->SubmitAsync(std::move(s), submitted.Callback());
  ASSERT_TRUE(submitted.WaitFor(1));
  Result<store::Run> run = submitted.at(0);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, "succeeded");
  EXPECT_EQ(bj::parse(run->record).at("output"), bj::value(8));
  // Final and out of memory: answered from the store, on this thread, before returning.
  service->WaitAsync("org_a", run->id, 10s, waited.Callback());
  ASSERT_EQ(waited.count(), 1u);
  ASSERT_TRUE(waited.at(0).has_value());
  EXPECT_EQ(waited.at(0)->status, "succeeded");
  EXPECT_EQ(service->Stats().running, 0);
  service->Stop(1s);
  EXPECT_EQ(submitted.count(), 1u);
}

TEST_F(RunServiceTest, WaitAsyncTimeoutGivesNulloptOnceAndTheFinishDoesNotCallItAgain) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  WaitCalls short_wait, long_wait, zero_wait;
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));
  service->WaitAsync("org_a", run->id, 30ms, short_wait.Callback());
  service->WaitAsync("org_a", run->id, 10s, long_wait.Callback());
  service->WaitAsync("org_a", run->id, 0ms, zero_wait.Callback());
  ASSERT_EQ(zero_wait.count(), 1u);  // over at once
  EXPECT_FALSE(zero_wait.at(0).has_value());
  ASSERT_TRUE(short_wait.WaitFor(1));
  EXPECT_FALSE(short_wait.at(0).has_value());
  EXPECT_EQ(long_wait.count(), 0u);
  gate_.Open();
  ASSERT_TRUE(long_wait.WaitFor(1));
  ASSERT_TRUE(long_wait.at(0).has_value());
  EXPECT_EQ(long_wait.at(0)->status, "succeeded");
  service->Stop(1s);
  EXPECT_EQ(short_wait.count(), 1u);
  EXPECT_EQ(long_wait.count(), 1u);
  EXPECT_EQ(zero_wait.count(), 1u);
}

TEST_F(RunServiceTest, ManyAsyncWaitersOnOneRunEachCalledOnce) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  constexpr int kWaiters = 60;
  std::atomic<int> settled{0}, timed_out{0}, calls{0};
  std::vector<std::atomic<int>> per_waiter(kWaiters);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kWaiters; i += 4) {
        // A third time out before the run finishes; one waiter of each kind throws.
        const auto timeout = i % 3 == 0 ? 20ms : 10s;
        service->WaitAsync("org_a", run->id, timeout, [&, i](std::optional<store::Run> r) {
          ++per_waiter[i];
          ++calls;
          if (r.has_value() && r->status == "succeeded") ++settled;
          if (!r.has_value()) ++timed_out;
          if (i < 2) throw std::runtime_error("a waiter that throws");
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  while (timed_out.load() < kWaiters / 3) std::this_thread::sleep_for(1ms);
  gate_.Open();
  auto done = service->Wait("org_a", run->id, 10s);
  ASSERT_TRUE(done.has_value());
  while (calls.load() < kWaiters) std::this_thread::sleep_for(1ms);
  service->Stop(1s);
  EXPECT_EQ(calls.load(), kWaiters);
  EXPECT_EQ(timed_out.load(), kWaiters / 3);
  EXPECT_EQ(settled.load(), kWaiters - kWaiters / 3);
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(per_waiter[i].load(), 1) << i;
}

TEST_F(RunServiceTest, WaitAsyncOnAFinishedRunReadsTheStore) {
  testing::PutOrg(*store_, "org_a");
  testing::PutOrg(*store_, "org_b");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "double", 1, bj::parse(R"({"n": 3})")));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(service->Wait("org_a", run->id, 10s).has_value());
  // A new service (nothing in memory) answers from the store at once.
  service->Stop(1s);
  auto fresh = NewService();
  ASSERT_TRUE(fresh->Start().ok());
  WaitCalls mine, other_org, unknown;
  fresh->WaitAsync("org_a", run->id, 10s, mine.Callback());
  fresh->WaitAsync("org_b", run->id, 10s, other_org.Callback());
  fresh->WaitAsync("org_a", "run_unknown", 10s, unknown.Callback());
  ASSERT_EQ(mine.count(), 1u);
  ASSERT_TRUE(mine.at(0).has_value());
  EXPECT_EQ(mine.at(0)->status, "succeeded");
  EXPECT_EQ(bj::parse(mine.at(0)->record).at("output"), bj::value(6));
  ASSERT_EQ(other_org.count(), 1u);
  EXPECT_FALSE(other_org.at(0).has_value());
  ASSERT_EQ(unknown.count(), 1u);
  EXPECT_FALSE(unknown.at(0).has_value());
  fresh->Stop(1s);
}

// Stop() completes every pending waiter before it returns: the run that settles during
// the drain with its outcome, the one that stays queued with nullopt; later waits on the
// queued run end at once.
TEST_F(RunServiceTest, StopCompletesPendingWaiters) {
  WaitCalls on_running, on_queued, after_stop;
  auto service = NewService();
  const HeldRuns runs = StartHeldRuns(*service, on_running, on_queued);
  std::thread opener([&] {
    std::this_thread::sleep_for(30ms);
    gate_.Open();
  });
  service->Stop(10s);
  opener.join();
  ASSERT_EQ(on_running.count(), 1u);
  ASSERT_TRUE(on_running.at(0).has_value());
  EXPECT_EQ(on_running.at(0)->status, "succeeded");
  ASSERT_EQ(on_queued.count(), 1u);
  EXPECT_FALSE(on_queued.at(0).has_value());
  EXPECT_EQ(Stored("org_a", runs.queued.id)->status, "queued");  // for the next start
  service->WaitAsync("org_a", runs.queued.id, 60s, after_stop.Callback());
  ASSERT_EQ(after_stop.count(), 1u);
  EXPECT_FALSE(after_stop.at(0).has_value());
  EXPECT_EQ(gate_.arrived, 1);  // the queued run did not start while stopping
}

// serve's shutdown: when its request drain ends, the callers still waiting hear nullopt
// (the API answers them 202 with the run id) while their runs go on and finish.
TEST_F(RunServiceTest, ReleaseWaitersAnswersTheWaitsAndLeavesTheRunsAlone) {
  WaitCalls on_running, on_queued, after_release;
  auto service = NewService();
  const HeldRuns runs = StartHeldRuns(*service, on_running, on_queued);
  service->ReleaseWaiters();
  ASSERT_EQ(on_running.count(), 1u);
  EXPECT_FALSE(on_running.at(0).has_value());
  ASSERT_EQ(on_queued.count(), 1u);
  EXPECT_FALSE(on_queued.at(0).has_value());
  // A later wait is served as usual, and both runs still finish (each wait is answered
  // once its run's final state is committed: the stored status is read after it).
  WaitCalls running_after_release;
  service->WaitAsync("org_a", runs.queued.id, 60s, after_release.Callback());
  service->WaitAsync("org_a", runs.running.id, 60s, running_after_release.Callback());
  gate_.Open();
  ASSERT_TRUE(after_release.WaitFor(1));
  ASSERT_TRUE(after_release.at(0).has_value());
  EXPECT_EQ(after_release.at(0)->status, "succeeded");
  ASSERT_TRUE(running_after_release.WaitFor(1));
  ASSERT_TRUE(running_after_release.at(0).has_value());
  EXPECT_EQ(running_after_release.at(0)->status, "succeeded");
  EXPECT_EQ(Stored("org_a", runs.running.id)->status, "succeeded");
  EXPECT_EQ(on_running.count(), 1u);  // each waiter is answered once
  service->Stop(10s);
}

// The API ends the wait of a client that went away: only that waiter hears nullopt, at
// once and once; the run, its other waiters and a later wait go on as usual.
TEST_F(RunServiceTest, EndWaitAnswersOneWaiterNowAndLeavesTheRunAlone) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  WaitCalls gone, stays;
  auto service = NewService();
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));
  const uint64_t gone_id = service->WaitAsync("org_a", run->id, 30s, gone.Callback());
  const uint64_t stays_id = service->WaitAsync("org_a", run->id, 30s, stays.Callback());
  ASSERT_NE(gone_id, 0u);
  ASSERT_NE(stays_id, gone_id);
  EXPECT_EQ(service->Stats().waiters, 2);
  service->EndWait("org_b", run->id, gone_id);  // another org's run: untouched
  service->EndWait("org_a", run->id, 0);
  EXPECT_EQ(gone.count(), 0u);
  service->EndWait("org_a", run->id, gone_id);
  ASSERT_EQ(gone.count(), 1u);  // on this thread, before EndWait returned
  EXPECT_FALSE(gone.at(0).has_value());
  EXPECT_EQ(service->Stats().waiters, 1);
  service->EndWait("org_a", run->id, gone_id);  // again: nothing
  EXPECT_EQ(gone.count(), 1u);
  EXPECT_EQ(stays.count(), 0u);
  gate_.Open();
  ASSERT_TRUE(stays.WaitFor(1));
  ASSERT_TRUE(stays.at(0).has_value());
  EXPECT_EQ(stays.at(0)->status, "succeeded");
  EXPECT_EQ(Stored("org_a", run->id)->status, "succeeded");
  EXPECT_EQ(service->Stats().waiters, 0);
  service->EndWait("org_a", run->id, stays_id);  // after the run settled: nothing
  EXPECT_EQ(stays.count(), 1u);
  EXPECT_EQ(gone.count(), 1u);
  // On a final run the wait is answered at once: no id.
  WaitCalls late;
  EXPECT_EQ(service->WaitAsync("org_a", run->id, 30s, late.Callback()), 0u);
  EXPECT_EQ(late.count(), 1u);
  service->Stop(1s);
}

TEST_F(RunServiceTest, SubmissionErrorsReachDoneOnce) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  SubmitCalls invalid, missing, over, late, refused_inline;
  auto service = NewService({.workers = 2, .max_queued = 1});
  ASSERT_TRUE(service->Start().ok());
  // Found before the commit: answered on this thread, before SubmitAsync returns.
  service->SubmitAsync(Sub("org_a", "double", 1, bj::parse(R"({"n": "x"})")), invalid.Callback());
  ASSERT_EQ(invalid.count(), 1u);
  EXPECT_EQ(invalid.at(0).error().code, ErrorCode::kInvalidInput);
  service->SubmitAsync(Sub("org_a", "nope", 1), missing.Callback());
  ASSERT_EQ(missing.count(), 1u);
  EXPECT_EQ(missing.at(0).error().code, ErrorCode::kNotFound);

  auto first = service->Submit(Sub("org_a", "gated", 1));  // takes the org's only slot
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(gate_.WaitArrived(1));
  auto second = service->Submit(Sub("org_a", "gated", 1));  // the one queued run allowed
  ASSERT_TRUE(second.ok());
  service->SubmitAsync(Sub("org_a", "gated", 1), over.Callback());
  ASSERT_EQ(over.count(), 1u);
  EXPECT_EQ(over.at(0).error().code, ErrorCode::kRateLimited);

  // An inline submission whose own commit work fails: the error reaches done.
  gate_.Open();
  ASSERT_TRUE(service->Wait("org_a", second->id, 10s).has_value());
  Submission s = Sub("org_a", "double", 1, bj::parse(R"({"n": 1})"));
  s.may_run_inline = true;
  s.in_commit = [](store::Tx&, const store::Run&) -> Status {
    return MakeError(ErrorCode::kConflict, "delivery already seen");
  };
  service->SubmitAsync(std::move(s), refused_inline.Callback());
  ASSERT_TRUE(refused_inline.WaitFor(1));
  EXPECT_EQ(refused_inline.at(0).error().code, ErrorCode::kConflict);

  service->Stop(1s);
  // Refused by the stopped service; `done` may call back into it (no lock is held).
  int64_t running_seen = -1;
  service->SubmitAsync(Sub("org_a", "double", 1, bj::parse(R"({"n": 1})")),
                       [&, record = late.Callback()](Result<store::Run> r) {
                         running_seen = service->Stats().running;
                         record(std::move(r));
                       });
  EXPECT_EQ(running_seen, 0);
  ASSERT_EQ(late.count(), 1u);
  EXPECT_EQ(late.at(0).error().code, ErrorCode::kRateLimited);
  for (SubmitCalls* calls : {&invalid, &missing, &over, &late, &refused_inline}) {
    EXPECT_EQ(calls->count(), 1u);
  }
}

// Many submitters chain SubmitAsync -> WaitAsync from inside the completions (on the
// store's writer thread, a worker, or the caller), inline and on workers: every
// completion is called exactly once, with the right outcome.
TEST_F(RunServiceTest, ChainedAsyncSubmitAndWaitCompleteExactlyOnce) {
  testing::PutOrg(*store_, "org_a", 4);
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 15;
  constexpr int kTotal = kThreads * kPerThread;
  std::atomic<int> submit_calls{0}, wait_calls{0}, correct{0};
  std::mutex mu;
  std::condition_variable cv;
  auto service = NewService({.workers = 3});
  ASSERT_TRUE(service->Start().ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * 100 + i;
        Submission s = Sub("org_a", "double", 1, bj::parse("{\"n\": " + std::to_string(n) + "}"));
        s.may_run_inline = i % 2 == 0;
        RunService* svc = service.get();
        svc->SubmitAsync(std::move(s), [&, svc, n](Result<store::Run> run) {
          ++submit_calls;
          if (!run.ok()) {
            ++wait_calls;  // nothing to wait for
            std::lock_guard lock(mu);
            cv.notify_all();
            return;
          }
          svc->WaitAsync("org_a", run->id, 20s, [&, n](std::optional<store::Run> final_run) {
            if (final_run && final_run->status == "succeeded" &&
                bj::parse(final_run->record).at("output") == bj::value(2 * n)) {
              ++correct;
            }
            ++wait_calls;
            std::lock_guard lock(mu);
            cv.notify_all();
          });
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return wait_calls.load() >= kTotal; }));
  }
  service->Stop(1s);
  EXPECT_EQ(submit_calls.load(), kTotal);
  EXPECT_EQ(wait_calls.load(), kTotal);
  EXPECT_EQ(correct.load(), kTotal);
  EXPECT_EQ(service->Stats().succeeded, kTotal);
}

// A worker run's final commit that fails a few times (a transient store error) is retried
// until it lands: the waiter hears the outcome once it is stored, never before, and the
// run executed once.
TEST_F(RunServiceTest, AWorkerRunsFailedFinalCommitIsRetriedUntilItLands) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  FailingStore failing(*store_);
  RecordingLog log;
  auto service = ServiceOn(failing, &log);
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "gated", 1, bj::parse(R"({"secret_input": "p4yl0ad"})")));
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_TRUE(gate_.WaitArrived(1));
  std::optional<store::Run> stored_when_answered;
  Calls<std::optional<store::Run>> waited;
  service->WaitAsync("org_a", run->id, 30s, [&](std::optional<store::Run> r) {
    stored_when_answered = Stored("org_a", run->id);
    waited.Callback()(std::move(r));
  });
  failing.fail_next = 3;
  gate_.Open();
  ASSERT_TRUE(waited.WaitFor(1));
  ASSERT_TRUE(waited.at(0).has_value());
  EXPECT_EQ(waited.at(0)->status, "succeeded");
  ASSERT_TRUE(stored_when_answered.has_value());
  EXPECT_EQ(stored_when_answered->status, "succeeded");
  EXPECT_EQ(failing.failed.load(), 3);
  EXPECT_EQ(gate_.arrived, 1);  // executed once
  auto stored = Stored("org_a", run->id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(stored->record, waited.at(0)->record);
  // The operator hears of it, without the run's data.
  std::string all;
  for (const std::string& line : log.lines()) all += line + "\n";
  EXPECT_NE(all.find("run.commit_failed"), std::string::npos) << all;
  EXPECT_NE(all.find(run->id), std::string::npos) << all;
  EXPECT_EQ(all.find("p4yl0ad"), std::string::npos) << all;
  service->Stop(1s);
}

// While the store refuses every write, a finished worker run is not published as final
// (the store still says running): its org's slot is free, its waiter keeps waiting, and
// once writes work again the outcome is stored and the waiter answered.
TEST_F(RunServiceTest, AWorkerRunsFinalCommitWaitsOutAStoreThatRefusesWrites) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  FailingStore failing(*store_);
  auto service = ServiceOn(failing);
  ASSERT_TRUE(service->Start().ok());
  auto run = service->Submit(Sub("org_a", "gated", 1));
  ASSERT_TRUE(run.ok()) << run.error().message;
  ASSERT_TRUE(gate_.WaitArrived(1));
  WaitCalls waited;
  service->WaitAsync("org_a", run->id, 60s, waited.Callback());
  failing.fail_all = true;
  gate_.Open();
  // The engine is done: the slot is released while the commit is retried.
  for (int i = 0; i < 500 && service->Stats().running != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(service->Stats().running, 0);
  for (int i = 0; i < 1000 && failing.failed.load() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(waited.count(), 0u);
  auto during = Stored("org_a", run->id);
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->status, "running");
  failing.fail_all = false;
  ASSERT_TRUE(waited.WaitFor(1, 30s));
  ASSERT_TRUE(waited.at(0).has_value());
  EXPECT_EQ(waited.at(0)->status, "succeeded");
  auto after = Stored("org_a", run->id);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, "succeeded");
  EXPECT_EQ(gate_.arrived, 1);
  service->Stop(1s);
}

// Stop() while a final commit is being retried: Stop returns promptly, the waiter hears
// nullopt, the run stays `running` in the store and the next start fails it as
// interrupted (never run twice).
TEST_F(RunServiceTest, StopEndsAFinalCommitRetryAndRecoveryInterruptsTheRun) {
  testing::PutOrg(*store_, "org_a", 1);
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  FailingStore failing(*store_);
  std::string run_id;
  {
    auto service = ServiceOn(failing);
    ASSERT_TRUE(service->Start().ok());
    auto run = service->Submit(Sub("org_a", "gated", 1));
    ASSERT_TRUE(run.ok()) << run.error().message;
    run_id = run->id;
    ASSERT_TRUE(gate_.WaitArrived(1));
    WaitCalls waited;
    service->WaitAsync("org_a", run_id, 60s, waited.Callback());
    failing.fail_all = true;
    gate_.Open();
    for (int i = 0; i < 1000 && failing.failed.load() < 2; ++i) std::this_thread::sleep_for(10ms);
    service->Stop(0ms);  // returns at once (a hang here times the test out)
    ASSERT_EQ(waited.count(), 1u);
    EXPECT_FALSE(waited.at(0).has_value());
  }
  failing.fail_all = false;
  auto left = Stored("org_a", run_id);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->status, "running");
  auto next = NewService();
  ASSERT_TRUE(next->Start().ok());
  auto recovered = Stored("org_a", run_id);
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(recovered->status, "failed");
  EXPECT_EQ(recovered->error_code, "interrupted");
  EXPECT_EQ(gate_.arrived, 1);
  next->Stop(1s);
}

// A queued run whose commit as `running` fails is retried, not reported failed: before,
// its waiters heard "failed" (never stored) while the store kept it queued, so the next
// start ran the run they had been told had failed.
TEST_F(RunServiceTest, AQueuedRunsFailedStartCommitIsRetriedAndTheRunExecutesOnce) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kDouble, 1);
  const store::Run queued = PutQueuedRun("run_queuedbeforestart", "double", R"({"n": 21})");
  FailingStore failing(*store_);
  auto service = ServiceOn(failing);
  failing.fail_next = 2;
  ASSERT_TRUE(service->Start().ok());
  auto done = service->Wait("org_a", queued.id, 30s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(done->attempts, 1);
  auto stored = Stored("org_a", queued.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "succeeded");
  EXPECT_EQ(failing.failed.load(), 2);
  service->Stop(1s);
}

// Stop() while a run's start commit is being retried: it never executed, stays queued in
// the store for the next start, and its waiter hears nullopt (not a failure).
TEST_F(RunServiceTest, StopEndsAStartCommitRetryAndLeavesTheRunQueued) {
  testing::PutOrg(*store_, "org_a");
  testing::PutVersion(*store_, "org_a", 1, kGated, 1);
  const store::Run queued = PutQueuedRun("run_queuedstopped", "gated", "{}");
  FailingStore failing(*store_);
  auto service = ServiceOn(failing);
  failing.fail_all = true;
  ASSERT_TRUE(service->Start().ok());
  WaitCalls waited;
  service->WaitAsync("org_a", queued.id, 60s, waited.Callback());
  for (int i = 0; i < 1000 && failing.failed.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(waited.count(), 0u);
  service->Stop(0ms);
  ASSERT_EQ(waited.count(), 1u);
  EXPECT_FALSE(waited.at(0).has_value());
  EXPECT_EQ(gate_.arrived, 0);
  auto stored = Stored("org_a", queued.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "queued");
}

// A cancel whose commit fails answers the error and leaves the queued run as it was: still
// queued in the store and in its org's queue, so it runs once its turn comes.
TEST_F(RunServiceTest, ACancelWhoseCommitFailsLeavesTheQueuedRunToRun) {
  FailingStore failing(*store_);
  auto service = ServiceOn(failing);
  WaitCalls on_running;
  WaitCalls on_queued;
  HeldRuns held = StartHeldRuns(*service, on_running, on_queued);
  ASSERT_FALSE(held.queued.id.empty());
  failing.fail_all = true;
  auto cancelled = service->Cancel("org_a", held.queued.id);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, ErrorCode::kInternal);
  failing.fail_all = false;
  auto stored = Stored("org_a", held.queued.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, "queued");
  gate_.Open();
  ASSERT_TRUE(on_queued.WaitFor(1));
  ASSERT_TRUE(on_queued.at(0).has_value());
  EXPECT_EQ(on_queued.at(0)->status, "succeeded");
  EXPECT_EQ(gate_.arrived, 2);
  service->Stop(1s);
}

TEST(WorkflowCacheTest, LoadsOnceEvictsAndReportsMissing) {
  testing::FakeStore store;
  testing::PutOrg(store, "org_a");
  testing::PutVersion(store, "org_a", 1, "rampart: 1\nid: x\nsteps: [ { id: s, type: set, values: {} } ]\n", 1);
  testing::PutVersion(store, "org_a", 1, "rampart: 1\nid: y\nsteps: [ { id: s, type: set, values: {} } ]\n", 1);
  WorkflowCache cache(store, 1);
  auto x1 = cache.Get("org_a", "x", 1);
  auto x2 = cache.Get("org_a", "x", 1);
  ASSERT_TRUE(x1.ok() && x2.ok());
  EXPECT_EQ(x1->get(), x2->get());  // parsed once
  auto y = cache.Get("org_a", "y", 1);  // evicts x (capacity 1)
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*y)->id, "y");
  auto x3 = cache.Get("org_a", "x", 1);
  ASSERT_TRUE(x3.ok());
  EXPECT_NE(x1->get(), x3->get());  // reloaded
  EXPECT_EQ(cache.Get("org_a", "x", 2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cache.Get("org_b", "x", 1).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace rampart::runs
