// Tx::ListRuns with RunFilter::visible_to (ASVS V8.2.2): the same cases against the SQLite
// store (RAMPART_RUNS_WITH_SQLITE) and the in-memory fake, so both keep one contract. A
// developer listing runs must not see those of a private workflow created by someone else,
// nor of a deleted workflow; the filter sits in the query, so every page but the last is
// full and following the cursors lists each visible run exactly once.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rampart/store/store.h"
#include "runs/test_util.h"

namespace rampart::runs {
namespace {

using testing::MakeStore;
using testing::PutOrg;
using testing::TempDir;

class ListRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MakeStore(dir_.path());
    PutOrg(*store_, "org_a");
    PutOrg(*store_, "org_b");
    // org_a: "open" (org), "dev-private" (usr_dev's), "owner-private" (usr_owner's, whose
    // version 2 usr_dev wrote: only version 1 makes the creator). org_b has a workflow
    // "owner-private" too, org-visible: a join that ignored the org would leak org_a's.
    PutWorkflow("org_a", "open", "org", {"usr_owner"});
    PutWorkflow("org_a", "dev-private", "private", {"usr_dev"});
    PutWorkflow("org_a", "owner-private", "private", {"usr_owner", "usr_dev"});
    PutWorkflow("org_b", "owner-private", "org", {"usr_b"});
    // Interleaved runs, newest last; "deleted" has no workflow row any more.
    const char* const kCycle[] = {"owner-private", "open",          "owner-private",
                                  "dev-private",   "deleted",       "owner-private"};
    for (int i = 0; i < 30; ++i) {
      const std::string wf = kCycle[i % 6];
      AddRun("org_a", "run_a" + std::to_string(i), wf, i % 4 == 0 ? "failed" : "succeeded");
      AddRun("org_b", "run_b" + std::to_string(i), "owner-private", "succeeded");
    }
  }

  void PutWorkflow(const std::string& org, const std::string& id, const std::string& visibility,
                   const std::vector<std::string>& version_authors) {
    Status st = store_->Write([&](store::Tx& tx) -> Status {
      store::Workflow wf{.org_id = org,
                         .id = id,
                         .name = id,
                         .visibility = visibility,
                         .latest_version = static_cast<int>(version_authors.size()),
                         .live_version = 1,
                         .created_at = 1,
                         .updated_at = 1};
      if (Status s = tx.InsertWorkflow(wf); !s.ok()) return s;
      for (size_t v = 0; v < version_authors.size(); ++v) {
        store::WorkflowVersion version{.org_id = org,
                                       .workflow_id = id,
                                       .version = static_cast<int>(v + 1),
                                       .definition = "{}",
                                       .source = "{}",
                                       .created_by = version_authors[v],
                                       .created_at = 1};
        if (Status s = tx.InsertWorkflowVersion(version); !s.ok()) return s;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  void AddRun(const std::string& org, const std::string& id, const std::string& workflow,
              const std::string& status) {
    store::Run run;
    run.org_id = org;
    run.id = id;
    run.workflow_id = workflow;
    run.version = 1;
    run.status = status;
    run.input = "{}";
    run.trigger = R"({"type":"api"})";
    run.actor = "user:usr_owner";
    run.created_at = 1;
    Status st = store_->Write([&](store::Tx& tx) { return testing::InsertRunUnderCurrentWorkflow(tx, run); });
    ASSERT_TRUE(st.ok()) << st.error().message;
    all_.push_back(run);
  }

  // Every run listed with `filter` in pages of `limit`, newest first; checks that every
  // page but the last is full and that no run comes twice.
  std::vector<std::string> ListAll(const std::string& org, const store::RunFilter& filter,
                                   int limit) {
    std::vector<std::string> ids;
    store::PageRequest page{.after = "", .limit = limit};
    for (int pages = 0; pages < 100; ++pages) {
      std::optional<Result<store::Page<store::Run>>> read;
      Status st = store_->Read([&](store::Tx& tx) {
        read.emplace(tx.ListRuns(org, filter, page));
        return Status::Ok();
      });
      EXPECT_TRUE(st.ok() && read.has_value());
      if (!read.has_value()) break;
      auto& got = *read;
      EXPECT_TRUE(got.ok()) << got.error().message;
      if (!got.ok()) break;
      for (const store::Run& run : got->items) {
        EXPECT_EQ(run.org_id, org);
        ids.push_back(run.id);
      }
      if (got->next.empty()) return ids;
      EXPECT_EQ(static_cast<int>(got->items.size()), limit) << "a page before the last is short";
      page.after = got->next;
    }
    ADD_FAILURE() << "the pages never ended";
    return ids;
  }

  // What the filter must give, from the runs inserted, newest first.
  std::vector<std::string> Expected(const std::string& org, const store::RunFilter& filter) {
    std::vector<std::string> ids;
    for (auto it = all_.rbegin(); it != all_.rend(); ++it) {
      if (it->org_id != org) continue;
      if (!filter.workflow_id.empty() && it->workflow_id != filter.workflow_id) continue;
      if (!filter.status.empty() && it->status != filter.status) continue;
      if (filter.visible_to.has_value()) {
        const std::string& wf = it->workflow_id;
        const bool visible = wf == "open" || (wf == "dev-private" && *filter.visible_to == "usr_dev") ||
                             (wf == "owner-private" && *filter.visible_to == "usr_owner");
        if (!visible) continue;
      }
      ids.push_back(it->id);
    }
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::vector<store::Run> all_;
};

TEST_F(ListRunsTest, VisibleToHidesPrivateWorkflowsOfOthersBeforePaging) {
  for (const char* who : {"usr_dev", "usr_owner", "usr_nobody"}) {
    for (const char* workflow : {"", "open", "dev-private", "owner-private", "deleted"}) {
      for (const char* status : {"", "succeeded", "failed"}) {
        for (int limit : {1, 4, 7, 200}) {
          store::RunFilter filter{.workflow_id = workflow, .status = status, .visible_to = who};
          SCOPED_TRACE(std::string(who) + " workflow=" + workflow + " status=" + status +
                       " limit=" + std::to_string(limit));
          EXPECT_EQ(ListAll("org_a", filter, limit), Expected("org_a", filter));
        }
      }
    }
  }
  // The developer's view, spelled out: the org-visible and their own private runs only.
  store::RunFilter dev{.workflow_id = "", .status = "", .visible_to = "usr_dev"};
  const std::vector<std::string> seen = ListAll("org_a", dev, 4);
  EXPECT_EQ(seen.size(), 10u);
  for (const std::string& id : seen) {
    const int i = std::stoi(id.substr(5));
    EXPECT_TRUE(i % 6 == 1 || i % 6 == 3) << id;
  }
}

TEST_F(ListRunsTest, WithoutVisibleToEveryRunOfTheOrgIsListed) {
  for (const char* workflow : {"", "owner-private", "deleted"}) {
    store::RunFilter filter{.workflow_id = workflow, .status = "", .visible_to = std::nullopt};
    EXPECT_EQ(ListAll("org_a", filter, 4), Expected("org_a", filter)) << workflow;
  }
  store::RunFilter all{.workflow_id = "", .status = "", .visible_to = std::nullopt};
  EXPECT_EQ(ListAll("org_a", all, 200).size(), 30u);
  // org_b's runs of its org-visible "owner-private" are all listed there, and org_a's
  // private one with the same id never leaks into them (nor the other way round).
  store::RunFilter b{.workflow_id = "", .status = "", .visible_to = "usr_dev"};
  EXPECT_EQ(ListAll("org_b", b, 7), Expected("org_b", all));
}

}  // namespace
}  // namespace rampart::runs
