// Tx::ListWorkflows with WorkflowFilter::visible_to (ASVS V8.2.2): the same cases against
// the SQLite store (RAMPART_RUNS_WITH_SQLITE) and the in-memory fake, so both keep one
// contract. A developer listing workflows must not see a private workflow created by
// someone else (only version 1 makes the creator); the filter sits in the query, so every
// page but the last is full and following the cursors lists each visible workflow exactly
// once, however many hidden ones sit between them.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "rampart/store/store.h"
#include "runs/test_util.h"

namespace rampart::runs {
namespace {

using testing::MakeStore;
using testing::PutOrg;
using testing::TempDir;

struct Seeded {
  std::string org;
  std::string id;
  std::string visibility;
  std::vector<std::string> authors;  // of versions 1, 2, ...; empty: no version row
};

class ListWorkflowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MakeStore(dir_.path());
    PutOrg(*store_, "org_a");
    PutOrg(*store_, "org_b");
    // org_a, interleaved by id: runs of the owner's private workflows longer than a page
    // between the ones usr_dev may see.
    for (int i = 0; i < 12; ++i) {
      const std::string n = (i < 10 ? "0" : "") + std::to_string(i);
      Put("org_a", "wf-" + n + "-a-owner-private", "private", {"usr_owner"});
      Put("org_a", "wf-" + n + "-b-owner-private", "private", {"usr_owner", "usr_dev"});
      Put("org_a", "wf-" + n + "-c-owner-private", "private", {"usr_owner"});
      Put("org_a", "wf-" + n + "-d-owner-private", "private", {"usr_owner"});
      if (i % 3 == 0)
        Put("org_a", "wf-" + n + "-e-dev-private", "private", {"usr_dev", "usr_owner"});
      if (i % 2 == 0) Put("org_a", "wf-" + n + "-f-org", "org", {"usr_owner"});
      if (i % 4 == 1) Put("org_a", "wf-" + n + "-g-public", "public", {"usr_other"});
      if (i % 5 == 2) Put("org_a", "wf-" + n + "-h-dev-org", "org", {"usr_dev"});
    }
    // A private workflow whose version 1 is missing: nobody is its creator.
    Put("org_a", "wf-99-orphan-private", "private", {});
    // org_b: private workflows with the ids of org_a's owner-private ones, created there by
    // usr_dev: a join that ignored the org would show org_a's to usr_dev.
    for (int i = 0; i < 3; ++i) {
      Put("org_b", "wf-0" + std::to_string(i) + "-a-owner-private", "private", {"usr_dev"});
    }
    Put("org_b", "wf-50-b-owner", "private", {"usr_owner"});
  }

  void Put(const std::string& org, const std::string& id, const std::string& visibility,
           const std::vector<std::string>& authors) {
    Status st = store_->Write([&](store::Tx& tx) -> Status {
      store::Workflow wf{.org_id = org,
                         .id = id,
                         .name = id,
                         .visibility = visibility,
                         .latest_version = static_cast<int>(authors.size()),
                         .live_version = authors.empty() ? 0 : 1,
                         .created_at = 1,
                         .updated_at = 1};
      if (Status s = tx.InsertWorkflow(wf); !s.ok()) return s;
      for (size_t v = 0; v < authors.size(); ++v) {
        store::WorkflowVersion version{.org_id = org,
                                       .workflow_id = id,
                                       .version = static_cast<int>(v + 1),
                                       .definition = "{}",
                                       .source = "{}",
                                       .created_by = authors[v],
                                       .created_at = 1};
        if (Status s = tx.InsertWorkflowVersion(version); !s.ok()) return s;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
    seeded_.push_back({org, id, visibility, authors});
  }

  Result<store::Page<store::Workflow>> ListPage(const std::string& org,
                                                const store::WorkflowFilter& filter,
                                                const store::PageRequest& page) {
    std::optional<Result<store::Page<store::Workflow>>> read;
    Status st = store_->Read([&](store::Tx& tx) {
      read.emplace(tx.ListWorkflows(org, filter, page));
      return Status::Ok();
    });
    if (!st.ok()) return st.error();
    return std::move(*read);
  }

  // Every workflow listed with `filter` in pages of `limit`; checks that every page but
  // the last is full and ordered by id.
  std::vector<std::string> ListAll(const std::string& org, const store::WorkflowFilter& filter,
                                   int limit) {
    std::vector<std::string> ids;
    store::PageRequest page{.after = "", .limit = limit};
    for (int pages = 0; pages < 500; ++pages) {
      auto got = ListPage(org, filter, page);
      EXPECT_TRUE(got.ok()) << got.error().message;
      if (!got.ok()) break;
      for (const store::Workflow& wf : got->items) {
        EXPECT_EQ(wf.org_id, org);
        EXPECT_TRUE(ids.empty() || ids.back() < wf.id) << "out of order or twice: " << wf.id;
        ids.push_back(wf.id);
      }
      if (got->next.empty()) return ids;
      EXPECT_EQ(static_cast<int>(got->items.size()), limit) << "a page before the last is short";
      page.after = got->next;
    }
    ADD_FAILURE() << "the pages never ended";
    return ids;
  }

  // What the filter must give, from the rows seeded, by id.
  std::vector<std::string> Expected(const std::string& org, const store::WorkflowFilter& filter) {
    std::vector<std::string> ids;
    for (const Seeded& wf : seeded_) {
      if (wf.org != org) continue;
      if (filter.visible_to.has_value() && wf.visibility == "private" &&
          (wf.authors.empty() || wf.authors[0] != *filter.visible_to)) {
        continue;
      }
      ids.push_back(wf.id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::vector<Seeded> seeded_;
};

TEST_F(ListWorkflowsTest, VisibleToHidesPrivateWorkflowsOfOthersBeforePaging) {
  for (const char* who : {"usr_dev", "usr_owner", "usr_other", "usr_nobody"}) {
    for (int limit : {1, 2, 5, 7, 200}) {
      store::WorkflowFilter filter{.visible_to = who};
      SCOPED_TRACE(std::string(who) + " limit=" + std::to_string(limit));
      EXPECT_EQ(ListAll("org_a", filter, limit), Expected("org_a", filter));
    }
  }
  // The developer's view, spelled out: the org-visible, public and their own private ones.
  const std::vector<std::string> seen = ListAll("org_a", {.visible_to = "usr_dev"}, 3);
  ASSERT_EQ(seen.size(), 4u + 6u + 3u + 2u);
  for (const std::string& id : seen) {
    EXPECT_EQ(id.find("owner-private"), std::string::npos) << id;
    EXPECT_EQ(id.find("orphan"), std::string::npos) << id;
  }
  // Someone who created nothing sees only what is not private.
  for (const std::string& id : ListAll("org_a", {.visible_to = "usr_nobody"}, 4)) {
    EXPECT_TRUE(id.ends_with("-f-org") || id.ends_with("-g-public") || id.ends_with("-h-dev-org"))
        << id;
  }
}

TEST_F(ListWorkflowsTest, APageOfHiddenWorkflowsDoesNotEndTheList) {
  // The first 4 workflows of org_a are the owner's private ones: a store that cut the page
  // before filtering would answer usr_dev an empty first page, or stop there.
  auto first = ListPage("org_a", {.visible_to = "usr_dev"}, {.after = "", .limit = 4});
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->items.size(), 4u);
  EXPECT_EQ(first->items[0].id, "wf-00-e-dev-private");
  EXPECT_EQ(first->items[1].id, "wf-00-f-org");
  EXPECT_EQ(first->items[2].id, "wf-01-g-public");
  EXPECT_EQ(first->items[3].id, "wf-02-f-org");
  EXPECT_FALSE(first->next.empty());
  // The last page: nothing visible after it, however many hidden ones follow.
  auto last = ListPage("org_a", {.visible_to = "usr_dev"}, {.after = "", .limit = 200});
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_TRUE(last->next.empty());
  // A cursor from another list is refused the same way by both stores.
  auto bad = ListPage("org_a", {.visible_to = "usr_dev"}, {.after = "r.5", .limit = 4});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ListWorkflowsTest, WithoutVisibleToEveryWorkflowOfTheOrgIsListed) {
  for (int limit : {1, 6, 200}) {
    EXPECT_EQ(ListAll("org_a", {}, limit), Expected("org_a", {})) << limit;
  }
  EXPECT_EQ(ListAll("org_a", {}, 200).size(), 4u * 12u + 4u + 6u + 3u + 2u + 1u);
  // org_b's own private workflows of usr_dev are listed there, org_a's with the same ids
  // are not (nor the other way round).
  EXPECT_EQ(ListAll("org_b", {.visible_to = "usr_dev"}, 2),
            (std::vector<std::string>{"wf-00-a-owner-private", "wf-01-a-owner-private",
                                      "wf-02-a-owner-private"}));
  EXPECT_EQ(ListAll("org_b", {}, 2).size(), 4u);
}

}  // namespace
}  // namespace rampart::runs
