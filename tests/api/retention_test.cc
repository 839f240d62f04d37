// End-to-end test of run retention (ASVS V14.2.4, runs_retention_days): runs finished
// through the API are purged by the retention sweep once older than the retention, after
// which GET of the run answers 404 and the org's audit log holds one `runs.purged` event
// (count, cutoff; no run data). A run within the retention, a run awaiting approval and
// another org's runs stay.
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve`
// (tests/support/api_server.h); the sweep runs on the server's ManualClock and store.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "rampart/audit/chain.h"
#include "rampart/runs/retention.h"
#include "rampart/store/store.h"
#include "support/api_server.h"
#include "support/api_test_util.h"
#include "support/http_client.h"

namespace rampart {
namespace {

namespace bj = boost::json;
using rampart::testing::Bearer;
using rampart::testing::HttpHeaders;
using rampart::testing::HttpResponse;
using rampart::testing::Json;
using rampart::testing::NewId;
using rampart::testing::Str;
using std::chrono::hours;
using std::chrono::seconds;

constexpr const char* kWorkflow =
    "rampart: 1\nid: wf\nname: wf\nsteps:\n  - id: s\n    type: set\n"
    "    values: { marker: \"{{ inputs.marker }}\" }\n"
    "output: { marker: \"{{ steps.s.output.marker }}\" }\n";

constexpr const char* kApprovalWorkflow =
    "rampart: 1\nid: gate\nname: gate\nsteps:\n  - id: ok\n    type: approval\n"
    "    approvers: { roles: [owner] }\n";

class Server : public testing::ApiServer {
 public:
  Server()
      : ApiServer({.start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs_on_manual_clock = true,
                   .runs = runs::RunServiceOptions{.workers = 1},
                   .api = [] {
                     api::ApiOptions options;
                     options.auth_failures_per_minute = 1000;
                     return options;
                   }()}) {
    std::tie(org_a_, org_b_) = testing::InsertTwoOrgs(store(), now_ms());
    key_a_ = testing::InsertMemberWithKey(store(), org_a_, "owner@a.test", "owner", now_ms());
    key_b_ = testing::InsertMemberWithKey(store(), org_b_, "owner@b.test", "owner", now_ms());
  }

  std::string Org(const std::string& org) const { return "/v1/orgs/" + org; }

  // Creates and publishes `yaml` (workflow `id`) in `org`.
  void Publish(const std::string& org, const std::string& key, const std::string& id,
               const std::string& yaml) {
    HttpHeaders h = Bearer(key);
    h.emplace_back("Content-Type", "application/yaml");
    HttpResponse r = Send("POST", Org(org) + "/workflows", h, yaml);
    ASSERT_EQ(r.status, 201) << r.body;
    h = Bearer(key);
    h.emplace_back("Content-Type", "application/json");
    r = Send("POST", Org(org) + "/workflows/" + id + "/publish", h, R"({"version": 1})");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Starts a run of `id` and waits for it to leave queued/running; returns its id.
  std::string RunToEnd(const std::string& org, const std::string& key, const std::string& id,
                       const std::string& marker, const std::string& want_status) {
    HttpHeaders h = Bearer(key);
    h.emplace_back("Content-Type", "application/json");
    HttpResponse r = Send("POST", Org(org) + "/workflows/" + id + "/runs", h,
                          R"({"input": {"marker": ")" + marker + R"("}, "wait": 20})");
    EXPECT_TRUE(r.status == 200 || r.status == 202) << r.body;
    const std::string run_id = Str(Json(r), "run_id");
    EXPECT_FALSE(run_id.empty()) << r.body;
    EXPECT_EQ(Str(Json(r), "status"), want_status) << r.body;
    return run_id;
  }

  int GetRunStatus(const std::string& org, const std::string& key, const std::string& run_id) {
    return Send("GET", Org(org) + "/runs/" + run_id, Bearer(key)).status;
  }

  std::string org_a_, org_b_, key_a_, key_b_;
};

std::vector<bj::object> AuditOf(Server& s, const std::string& org, const std::string& key,
                                const std::string& action) {
  HttpResponse r = s.Send("GET", s.Org(org) + "/audit?limit=200", Bearer(key));
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<bj::object> out;
  const bj::value v = Json(r);
  const bj::value* items = v.is_object() ? v.as_object().if_contains("items") : nullptr;
  if (items == nullptr || !items->is_array()) {
    ADD_FAILURE() << r.body;
    return out;
  }
  for (const bj::value& e : items->as_array()) {
    if (Str(e, "action") == action) out.push_back(e.as_object());
  }
  return out;
}

TEST(RunRetentionApiTest, PurgedRunsAnswer404AndTheSweepIsAudited) {
  Server s;
  s.Publish(s.org_a_, s.key_a_, "wf", kWorkflow);
  s.Publish(s.org_a_, s.key_a_, "gate", kApprovalWorkflow);
  s.Publish(s.org_b_, s.key_b_, "wf", kWorkflow);

  const std::string old_a1 = s.RunToEnd(s.org_a_, s.key_a_, "wf", "secret-ish-1", "succeeded");
  const std::string old_a2 = s.RunToEnd(s.org_a_, s.key_a_, "wf", "secret-ish-2", "succeeded");
  const std::string waiting = s.RunToEnd(s.org_a_, s.key_a_, "gate", "x", "awaiting_approval");
  s.clock().AdvanceWall(hours(24 * 5));
  const std::string old_b = s.RunToEnd(s.org_b_, s.key_b_, "wf", "b", "succeeded");
  s.clock().AdvanceWall(hours(24 * 3));  // a1, a2: 8 days old; b: 3 days
  const std::string recent_a = s.RunToEnd(s.org_a_, s.key_a_, "wf", "recent", "succeeded");

  runs::RunRetention off(s.store(), s.clock(), {.retention_days = 0});
  EXPECT_EQ(*off.RunOnce(), 0);  // retention off: keep forever
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, old_a1), 200);

  // 7 days, one run per batch: the two old runs of org A go in two batches.
  runs::RunRetention retention(s.store(), s.clock(), {.retention_days = 7, .batch = 1});
  auto purged = retention.RunOnce();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 2);

  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, old_a1), 404);
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, old_a2), 404);
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, waiting), 200);  // never a non-final run
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, recent_a), 200);
  EXPECT_EQ(s.GetRunStatus(s.org_b_, s.key_b_, old_b), 200);

  std::vector<bj::object> events = AuditOf(s, s.org_a_, s.key_a_, "runs.purged");
  ASSERT_EQ(events.size(), 2u);  // one per batch that deleted something
  const std::string cutoff = FormatRfc3339(s.clock().Now() - hours(24 * 7));
  for (const bj::object& e : events) {
    EXPECT_EQ(Str(e, "actor"), "system");
    EXPECT_EQ(Str(e, "outcome"), "success");
    const bj::object& details = e.at("details").as_object();
    EXPECT_EQ(details.at("count").to_number<int64_t>(), 1);
    EXPECT_EQ(Str(details, "cutoff"), cutoff);
    EXPECT_EQ(details.size(), 2u);  // count and cutoff only: no run ids, no run data
  }
  EXPECT_TRUE(AuditOf(s, s.org_b_, s.key_b_, "runs.purged").empty());

  // Nothing more is due: no event for an empty sweep.
  EXPECT_EQ(*retention.RunOnce(), 0);
  EXPECT_EQ(AuditOf(s, s.org_a_, s.key_a_, "runs.purged").size(), 2u);

  // 5 days later org B's run (10 days old) goes, audited in org B; org A's recent run
  // (5 days old) and the run awaiting approval (13 days) stay.
  s.clock().AdvanceWall(hours(24 * 5));
  EXPECT_EQ(*retention.RunOnce(), 1);
  EXPECT_EQ(s.GetRunStatus(s.org_b_, s.key_b_, old_b), 404);
  EXPECT_EQ(AuditOf(s, s.org_b_, s.key_b_, "runs.purged").size(), 1u);
  EXPECT_EQ(AuditOf(s, s.org_a_, s.key_a_, "runs.purged").size(), 2u);
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, recent_a), 200);
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, waiting), 200);

  // Deleting runs leaves the audit chain intact (events are never deleted).
  auto report = audit::Verify(s.store());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->reason;
}

// As `rampart serve` runs it: Start() sweeps at once on its own thread, Stop() joins it.
TEST(RunRetentionApiTest, TheBackgroundSweepPurgesOnStart) {
  Server s;
  s.Publish(s.org_a_, s.key_a_, "wf", kWorkflow);
  const std::string old_run = s.RunToEnd(s.org_a_, s.key_a_, "wf", "old", "succeeded");
  s.clock().AdvanceWall(hours(24 * 31));
  const std::string recent = s.RunToEnd(s.org_a_, s.key_a_, "wf", "recent", "succeeded");

  runs::RunRetention off(s.store(), s.clock(), {.retention_days = 0});
  off.Start();  // retention off: no thread, nothing deleted
  off.Stop();

  int status = 0;
  {
    runs::RunRetention retention(s.store(), s.clock(), {.retention_days = 30});
    retention.Start();
    // Polls for the outcome (no timing is asserted; the bound only ends a broken run).
    for (int i = 0; i < 2000; ++i) {
      status = s.GetRunStatus(s.org_a_, s.key_a_, old_run);
      if (status == 404) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    retention.Stop();
  }
  EXPECT_EQ(status, 404);
  EXPECT_EQ(s.GetRunStatus(s.org_a_, s.key_a_, recent), 200);
  EXPECT_EQ(AuditOf(s, s.org_a_, s.key_a_, "runs.purged").size(), 1u);
}

}  // namespace
}  // namespace rampart
