// Tx::PurgeFinishedRuns (run retention, ASVS V14.2.4): the same cases against the SQLite
// store (RAMPART_RUNS_WITH_SQLITE) and the in-memory fake, so both keep one contract:
// only final runs (succeeded, failed, cancelled) finished before the cutoff go, those
// that finished first first, at most `limit` per call, counted per org; queued, running
// and awaiting_approval runs stay whatever their timestamps say.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "rampart/store/store.h"
#include "runs/test_util.h"

namespace rampart::runs {
namespace {

using testing::MakeStore;
using testing::PutOrg;
using testing::TempDir;
using Counts = std::vector<std::pair<std::string, int64_t>>;

class PurgeRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MakeStore(dir_.path());
    PutOrg(*store_, "org_a");
    PutOrg(*store_, "org_b");
  }

  void AddRun(const std::string& org, const std::string& id, const std::string& status,
              store::Millis finished_at) {
    store::Run run;
    run.org_id = org;
    run.id = id;
    run.workflow_id = "wf";
    run.version = 1;
    run.status = status;
    run.input = "{}";
    run.trigger = R"({"type":"manual"})";
    run.actor = "user:usr_a";
    run.created_at = 1;
    run.finished_at = finished_at;
    Status st = store_->Write([&](store::Tx& tx) { return tx.InsertRun(run); });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  Counts Purge(store::Millis before, int limit) {
    Counts counts;
    Status st = store_->Write([&](store::Tx& tx) -> Status {
      auto purged = tx.PurgeFinishedRuns(before, limit);
      if (!purged.ok()) return purged.error();
      counts = std::move(purged).value();
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.error().message;
    return counts;
  }

  bool Exists(const std::string& org, const std::string& id) {
    bool found = false;
    Status st = store_->Read([&](store::Tx& tx) -> Status {
      auto run = tx.GetRun(org, id);
      if (!run.ok()) return run.error();
      found = run->has_value();
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return found;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(PurgeRunsTest, OnlyOldFinalRunsGoOldestFirstInBoundedBatches) {
  // Inserted out of finished_at order: the order is finished_at, not insertion.
  AddRun("org_a", "a3", "cancelled", 300);
  AddRun("org_b", "b1", "succeeded", 150);
  AddRun("org_a", "a1", "succeeded", 100);
  AddRun("org_a", "a2", "failed", 200);
  AddRun("org_b", "b2", "failed", 250);
  AddRun("org_a", "a_new", "succeeded", 1000);
  AddRun("org_a", "a_queued", "queued", 0);
  AddRun("org_a", "a_running", "running", 5);
  AddRun("org_b", "b_waiting", "awaiting_approval", 5);

  EXPECT_TRUE(Purge(500, 0).empty());
  EXPECT_EQ(Purge(500, 2), (Counts{{"org_a", 1}, {"org_b", 1}}));  // a1 (100), b1 (150)
  EXPECT_FALSE(Exists("org_a", "a1"));
  EXPECT_FALSE(Exists("org_b", "b1"));
  EXPECT_TRUE(Exists("org_a", "a2"));
  EXPECT_EQ(Purge(500, 2), (Counts{{"org_a", 1}, {"org_b", 1}}));  // a2 (200), b2 (250)
  EXPECT_EQ(Purge(500, 2), (Counts{{"org_a", 1}}));                // a3 (300)
  EXPECT_TRUE(Purge(500, 2).empty());
  for (const auto& [org, id] : {std::pair{"org_a", "a_new"}, std::pair{"org_a", "a_queued"},
                                std::pair{"org_a", "a_running"}, std::pair{"org_b", "b_waiting"}}) {
    EXPECT_TRUE(Exists(org, id)) << id;
  }
  EXPECT_EQ(Purge(1001, 10), (Counts{{"org_a", 1}}));  // a_new, once past the cutoff
  EXPECT_TRUE(Exists("org_a", "a_running"));
  EXPECT_TRUE(Exists("org_b", "b_waiting"));
}

}  // namespace
}  // namespace rampart::runs
