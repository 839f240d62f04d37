// Helpers shared by the run service tests: a store (SQLite when this build has it, else
// the in-memory fake), seeding of orgs and workflows, and scriptable test actions.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <atomic>
#include <functional>
#include <string>

#include "rampart/actions/action.h"
#include "rampart/core/check.h"
#include "rampart/core/json.h"
#include "rampart/model/workflow.h"
#include "rampart/store/store.h"
#include "runs/fake_store_test_util.h"

#ifdef RAMPART_RUNS_WITH_SQLITE
#include <sqlite3.h>
#endif

namespace rampart::runs::testing {

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "rampart-runs-XXXXXX").string();
    char* made = mkdtemp(templ.data());
    RAMPART_CHECK(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::unique_ptr<store::Store> MakeStore(const std::string& dir) {
#ifdef RAMPART_RUNS_WITH_SQLITE
  store::SqliteOptions options;
  options.path = dir + "/rampart.db";
  options.synchronous_full = false;  // unit tests do not crash the machine
  auto opened = store::OpenSqliteStore(options);
  RAMPART_CHECK(opened.ok());
  return std::move(*opened);
#else
  (void)dir;
  return std::make_unique<FakeStore>();
#endif
}

// Makes the SQLite store in `dir` refuse (the write fails) any run written unfinished
// (queued, running, awaiting_approval) with a finished_at: recovery finds those runs in
// the index of runs with finished_at = 0 (migration 16), so the run service must never
// write one. Triggers kept in the file, so a reopened store stays guarded. Nothing with
// the fake store.
inline void RefuseUnfinishedRunsWithFinishedAt(const std::string& dir) {
#ifdef RAMPART_RUNS_WITH_SQLITE
  static constexpr const char* kGuard = R"sql(
CREATE TRIGGER IF NOT EXISTS test_unfinished_run_insert AFTER INSERT ON runs
WHEN NEW.finished_at <> 0 AND NEW.status NOT IN ('succeeded', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'an unfinished run with a finished_at'); END;
CREATE TRIGGER IF NOT EXISTS test_unfinished_run_update AFTER UPDATE ON runs
WHEN NEW.finished_at <> 0 AND NEW.status NOT IN ('succeeded', 'failed', 'cancelled')
BEGIN SELECT RAISE(ABORT, 'an unfinished run with a finished_at'); END;
)sql";
  sqlite3* db = nullptr;
  const std::string path = dir + "/rampart.db";
  RAMPART_CHECK(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  RAMPART_CHECK(sqlite3_exec(db, kGuard, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
#else
  (void)dir;
#endif
}

inline void PutOrg(store::Store& s, const std::string& org_id, int max_concurrent_runs = 0) {
  store::Org org;
  org.id = org_id;
  org.slug = "s-" + org_id.substr(org_id.find('_') + 1);
  org.name = org_id;
  org.max_concurrent_runs = max_concurrent_runs;
  org.created_at = 1;
  Status st = s.Write([&](store::Tx& tx) { return tx.InsertOrg(org); });
  ASSERT_TRUE(st.ok()) << st.error().message;
}

// Inserts `run` as started under the workflow row that holds its id now, as Submit
// stamps a run with that row's generation (none: 0, a deleted workflow's run).
inline Status InsertRunUnderCurrentWorkflow(store::Tx& tx, store::Run& run) {
  auto row = tx.GetWorkflow(run.org_id, run.workflow_id);
  if (!row.ok()) return row.error();
  run.workflow_generation = *row ? (*row)->generation : 0;
  return tx.InsertRun(run);
}

// Stores `yaml` as version `version` of its workflow (creating the workflow row), the
// way the API does: the definition as JSON text. `live` becomes the live version when > 0.
inline void PutVersion(store::Store& s, const std::string& org_id, int version,
                       const std::string& yaml, int live, store::Millis created_at = 1) {
  auto doc = model::YamlToJson(yaml);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  auto loaded = model::LoadDefinitionValue(*doc);
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0].path << ": " << loaded.errors[0].message;
  const std::string id = loaded.workflow->id;
  Status st = s.Write([&](store::Tx& tx) -> Status {
    auto existing = tx.GetWorkflow(org_id, id);
    if (!existing.ok()) return existing.error();
    store::Workflow wf = existing->value_or(store::Workflow{});
    bool insert = !existing->has_value();
    wf.org_id = org_id;
    wf.id = id;
    wf.name = id;
    wf.visibility = "private";
    wf.latest_version = std::max(wf.latest_version, version);
    if (live > 0) wf.live_version = live;
    if (live == version) wf.scheduled = model::HasScheduleTrigger(*loaded.workflow);
    // Each workflow row created here has its own created_at, as the API's would.
    static std::atomic<int64_t> created{0};
    if (insert) wf.created_at = ++created;
    wf.updated_at = 1;
    if (insert) {
      if (Status x = tx.InsertWorkflow(wf); !x.ok()) return x;
    }
    store::WorkflowVersion v;
    v.org_id = org_id;
    v.workflow_id = id;
    v.version = version;
    v.definition = json::Serialize(*doc);
    v.source = yaml;
    v.created_by = "user:usr_test";
    v.created_at = created_at;
    if (Status x = tx.InsertWorkflowVersion(v); !x.ok()) return x;
    return insert ? Status::Ok() : tx.UpdateWorkflow(wf);
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
}

// Fails writes on demand (Write and WriteAsync alike, with kInternal, nothing applied):
// the next `fail_next` writes, or every write while `fail_all` is set; and the next
// `fail_next_reads` reads. Other reads go through.
class FailingStore final : public store::Store {
 public:
  explicit FailingStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
    if (TakeOne(fail_next_reads)) return MakeError(ErrorCode::kInternal, "injected read failure");
    return inner_.Read(fn);
  }
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    if (Failing()) return MakeError(ErrorCode::kInternal, "injected write failure");
    return inner_.Write(fn);
  }
  void WriteAsync(std::function<Status(store::Tx&)> fn, std::function<void(Status)> done) override {
    if (Failing()) return done(MakeError(ErrorCode::kInternal, "injected write failure"));
    inner_.WriteAsync(std::move(fn), std::move(done));
  }
  Status Ping() override { return inner_.Ping(); }

  std::atomic<int> fail_next{0};
  std::atomic<bool> fail_all{false};
  std::atomic<int> failed{0};  // writes refused so far
  std::atomic<int> fail_next_reads{0};

 private:
  // Takes one from `count` if it is positive; true when it did.
  static bool TakeOne(std::atomic<int>& count) {
    int left = count.load();
    while (left > 0 && !count.compare_exchange_weak(left, left - 1)) {
    }
    return left > 0;
  }
  bool Failing() {
    const bool fail = TakeOne(fail_next) || fail_all.load();
    if (fail) ++failed;
    return fail;
  }
  store::Store& inner_;
};

// An action whose behaviour is a function; args are any object.
class FuncAction final : public actions::Action {
 public:
  using Fn = std::function<Result<boost::json::value>(const actions::Context&)>;
  explicit FuncAction(Fn fn) : fn_(std::move(fn)) {
    auto v = schema::Validator::Compile(boost::json::parse(R"({"type": "object"})"));
    RAMPART_CHECK(v.ok());
    schema_ = std::move(*v);
  }
  const schema::Validator& ArgsSchema() const override { return *schema_; }
  Result<boost::json::value> Execute(const actions::Context& ctx) const override { return fn_(ctx); }

 private:
  Fn fn_;
  std::optional<schema::Validator> schema_;
};

}  // namespace rampart::runs::testing
