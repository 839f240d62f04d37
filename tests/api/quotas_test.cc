// End-to-end tests of the quotas on stored objects (ASVS V2.4.1, ApiOptions::
// max_workflows_per_org / max_versions_per_workflow / max_connectors_per_org, config
// `quotas`): a member with write permission cannot fill the disk with workflows, versions
// or connectors.
//
// Each quota is tried for real with small configured limits: the next create is refused
// 409 conflict with a message naming the limit, and nothing of it is stored (no row, no
// audit event); another org is unaffected; deleting frees a slot; old versions are never
// deleted to make room; racing creates for the last slot have exactly one winner (the
// count and the insert share the write transaction).
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve`
// (tests/support/api_server.h, with a keyring for the connector secrets).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "rampart/api/api.h"
#include "rampart/runs/runs.h"
#include "rampart/store/store.h"
#include "support/api_server.h"
#include "support/api_test_util.h"
#include "support/http_client.h"

namespace rampart {
namespace {

using rampart::testing::Bearer;
using rampart::testing::ErrorCodeOf;
using rampart::testing::ErrorMessageOf;
using rampart::testing::HttpHeaders;
using rampart::testing::HttpResponse;
using rampart::testing::NewId;
using std::chrono::seconds;

constexpr int kWorkflows = 3;
constexpr int kVersions = 3;
constexpr int kConnectors = 2;

std::string WorkflowYaml(const std::string& id, int value = 1) {
  return "rampart: 1\nid: " + id + "\nname: " + id +
         "\nsteps:\n  - id: s\n    type: set\n    values: { a: " + std::to_string(value) + " }\n";
}

std::string ConnectorJson(const std::string& id) {
  return R"({"id": ")" + id +
         R"(", "type": "bearer", "options": {"base_url": "https://api.acme.test"}, "secrets": {"token": "tok-)" +
         id + R"("}})";
}

class Server : public testing::ApiServer {
 public:
  Server()
      : ApiServer({.start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs = runs::RunServiceOptions{.workers = 1},
                   .api = [] {
                     api::ApiOptions options;
                     options.max_workflows_per_org = kWorkflows;
                     options.max_versions_per_workflow = kVersions;
                     options.max_connectors_per_org = kConnectors;
                     return options;
                   }(),
                   .keyring_master_key = "quotas-test-master-key-0123456789abcdef"}) {
    org_a_ = NewId("org_");
    org_b_ = NewId("org_");
    Status st = store().Write([&](store::Tx& tx) -> Status {
      if (Status s = tx.InsertOrg({org_a_, "org-a", "Org A", 10, now_ms()}); !s.ok()) return s;
      return tx.InsertOrg({org_b_, "org-b", "Org B", 10, now_ms()});
    });
    if (!st.ok()) std::abort();
    key_a_ = testing::InsertMemberWithKey(store(), org_a_, "owner@a.test", "owner", now_ms());
    key_b_ = testing::InsertMemberWithKey(store(), org_b_, "owner@b.test", "owner", now_ms());
  }

  HttpResponse Do(std::string_view method, const std::string& path, const std::string& key,
                  std::string_view body = {}, std::string_view type = "application/json") {
    HttpHeaders headers = Bearer(key);
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(type));
    return Send(method, path, headers, body);
  }
  HttpResponse CreateWorkflow(const std::string& org, const std::string& key,
                              const std::string& id) {
    return Do("POST", "/v1/orgs/" + org + "/workflows", key, WorkflowYaml(id), "application/yaml");
  }
  HttpResponse SaveVersion(const std::string& org, const std::string& key, const std::string& id,
                           int value) {
    return Do("PUT", "/v1/orgs/" + org + "/workflows/" + id, key, WorkflowYaml(id, value),
              "application/yaml");
  }
  HttpResponse CreateConnector(const std::string& org, const std::string& key,
                               const std::string& id) {
    return Do("POST", "/v1/orgs/" + org + "/connectors", key, ConnectorJson(id));
  }

  // Counted in the store itself, not through the API under test.
  int64_t Count(const std::function<Result<int64_t>(store::Tx&)>& count) {
    int64_t n = -1;
    Status read = store().Read([&](store::Tx& tx) -> Status {
      auto c = count(tx);
      if (!c.ok()) return c.error();
      n = *c;
      return Status::Ok();
    });
    EXPECT_TRUE(read.ok());
    return n;
  }
  size_t AuditCount(const std::string& org) {
    size_t n = 0;
    Status read = store().Read([&](store::Tx& tx) -> Status {
      auto events = tx.ListAudit(org, 0, 10'000);
      if (!events.ok()) return events.error();
      n = events->size();
      return Status::Ok();
    });
    EXPECT_TRUE(read.ok());
    return n;
  }

  std::string org_a_, org_b_, key_a_, key_b_;
};

void ExpectQuotaRefusal(const HttpResponse& r, const std::string& limit) {
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "conflict");
  EXPECT_NE(ErrorMessageOf(r).find(limit), std::string::npos) << ErrorMessageOf(r);
}

TEST(QuotasTest, WorkflowsPerOrg) {
  Server s;
  for (int i = 0; i < kWorkflows; ++i) {
    ASSERT_EQ(s.CreateWorkflow(s.org_a_, s.key_a_, "wf" + std::to_string(i)).status, 201) << i;
  }
  const size_t audit_before = s.AuditCount(s.org_a_);
  ExpectQuotaRefusal(s.CreateWorkflow(s.org_a_, s.key_a_, "one-too-many"), "at most 3 workflows");
  // Nothing stored: no workflow, no version, no audit event.
  EXPECT_EQ(s.Do("GET", "/v1/orgs/" + s.org_a_ + "/workflows/one-too-many", s.key_a_).status, 404);
  EXPECT_EQ(s.Count([&](store::Tx& tx) { return tx.CountWorkflows(s.org_a_); }), kWorkflows);
  EXPECT_EQ(s.Count([&](store::Tx& tx) {
              return tx.CountWorkflowVersions(s.org_a_, "one-too-many");
            }),
            0);
  EXPECT_EQ(s.AuditCount(s.org_a_), audit_before);
  // Another org has its own quota, whole.
  for (int i = 0; i < kWorkflows; ++i) {
    EXPECT_EQ(s.CreateWorkflow(s.org_b_, s.key_b_, "wf" + std::to_string(i)).status, 201) << i;
  }
  ExpectQuotaRefusal(s.CreateWorkflow(s.org_b_, s.key_b_, "b-extra"), "at most 3 workflows");
  // Deleting frees a slot, for one more workflow only.
  ASSERT_EQ(s.Do("DELETE", "/v1/orgs/" + s.org_a_ + "/workflows/wf0", s.key_a_).status, 200);
  EXPECT_EQ(s.CreateWorkflow(s.org_a_, s.key_a_, "one-too-many").status, 201);
  ExpectQuotaRefusal(s.CreateWorkflow(s.org_a_, s.key_a_, "another"), "at most 3 workflows");
}

TEST(QuotasTest, VersionsPerWorkflowAndOldVersionsAreNeverDeleted) {
  Server s;
  const std::string base = "/v1/orgs/" + s.org_a_ + "/workflows/";
  ASSERT_EQ(s.CreateWorkflow(s.org_a_, s.key_a_, "wf").status, 201);  // version 1
  for (int v = 2; v <= kVersions; ++v) {
    ASSERT_EQ(s.SaveVersion(s.org_a_, s.key_a_, "wf", v).status, 200) << v;
  }
  const size_t audit_before = s.AuditCount(s.org_a_);
  ExpectQuotaRefusal(s.SaveVersion(s.org_a_, s.key_a_, "wf", 99), "at most 3 versions");
  // Nothing stored or dropped: versions 1..3 are all still there, the draft is still 3.
  EXPECT_EQ(s.Count([&](store::Tx& tx) { return tx.CountWorkflowVersions(s.org_a_, "wf"); }),
            kVersions);
  EXPECT_EQ(s.Do("GET", base + "wf?version=4", s.key_a_).status, 404);
  for (int v = 1; v <= kVersions; ++v) {
    EXPECT_EQ(s.Do("GET", base + "wf?version=" + std::to_string(v), s.key_a_).status, 200) << v;
  }
  HttpResponse draft = s.Do("GET", base + "wf", s.key_a_);
  ASSERT_EQ(draft.status, 200);
  EXPECT_EQ(testing::Json(draft).at("version").as_int64(), kVersions);
  EXPECT_EQ(s.AuditCount(s.org_a_), audit_before);
  // Another workflow of the org, and the same id in another org, are unaffected.
  ASSERT_EQ(s.CreateWorkflow(s.org_a_, s.key_a_, "other").status, 201);
  EXPECT_EQ(s.SaveVersion(s.org_a_, s.key_a_, "other", 2).status, 200);
  ASSERT_EQ(s.CreateWorkflow(s.org_b_, s.key_b_, "wf").status, 201);
  EXPECT_EQ(s.SaveVersion(s.org_b_, s.key_b_, "wf", 2).status, 200);
  // Deleting the workflow frees its versions: created again, it takes new versions.
  ASSERT_EQ(s.Do("DELETE", base + "wf", s.key_a_).status, 200);
  ASSERT_EQ(s.CreateWorkflow(s.org_a_, s.key_a_, "wf").status, 201);
  EXPECT_EQ(s.SaveVersion(s.org_a_, s.key_a_, "wf", 2).status, 200);
}

TEST(QuotasTest, ConnectorsPerOrg) {
  Server s;
  for (int i = 0; i < kConnectors; ++i) {
    HttpResponse r = s.CreateConnector(s.org_a_, s.key_a_, "c" + std::to_string(i));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  const size_t audit_before = s.AuditCount(s.org_a_);
  ExpectQuotaRefusal(s.CreateConnector(s.org_a_, s.key_a_, "extra"), "at most 2 connectors");
  EXPECT_EQ(s.Do("GET", "/v1/orgs/" + s.org_a_ + "/connectors/extra", s.key_a_).status, 404);
  EXPECT_EQ(s.Count([&](store::Tx& tx) { return tx.CountConnectors(s.org_a_); }), kConnectors);
  EXPECT_EQ(s.AuditCount(s.org_a_), audit_before);
  // Another org is unaffected.
  for (int i = 0; i < kConnectors; ++i) {
    EXPECT_EQ(s.CreateConnector(s.org_b_, s.key_b_, "c" + std::to_string(i)).status, 201) << i;
  }
  // Deleting frees a slot.
  ASSERT_EQ(s.Do("DELETE", "/v1/orgs/" + s.org_a_ + "/connectors/c0", s.key_a_).status, 200);
  EXPECT_EQ(s.CreateConnector(s.org_a_, s.key_a_, "extra").status, 201);
  ExpectQuotaRefusal(s.CreateConnector(s.org_a_, s.key_a_, "extra2"), "at most 2 connectors");
}

// Count then insert in one write transaction: racing creates for the last slots cannot
// all pass. Each request on a client of its own (the server's shared one is serial).
TEST(QuotasTest, RacingCreatesCannotPassTheQuotaTogether) {
  Server s;
  ASSERT_EQ(s.CreateWorkflow(s.org_a_, s.key_a_, "first").status, 201);
  ASSERT_EQ(s.CreateConnector(s.org_a_, s.key_a_, "first").status, 201);
  constexpr int kRacers = 8;
  std::vector<int> workflow_status(kRacers, 0), connector_status(kRacers, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] {
      testing::HttpClient client("127.0.0.1", s.port(),
                                 testing::HttpClientOptions{.timeout = seconds(60)});
      HttpHeaders yaml = Bearer(s.key_a_);
      yaml.emplace_back("Content-Type", "application/yaml");
      const std::string id = "racer" + std::to_string(i);
      auto w = client.Request("POST", "/v1/orgs/" + s.org_a_ + "/workflows", yaml,
                              WorkflowYaml(id));
      if (w.ok()) workflow_status[i] = w->status;
      HttpHeaders json = Bearer(s.key_a_);
      json.emplace_back("Content-Type", "application/json");
      auto c = client.Request("POST", "/v1/orgs/" + s.org_a_ + "/connectors", json,
                              ConnectorJson(id));
      if (c.ok()) connector_status[i] = c->status;
    });
  }
  for (auto& t : threads) t.join();
  int workflows_created = 0, connectors_created = 0;
  for (int i = 0; i < kRacers; ++i) {
    EXPECT_TRUE(workflow_status[i] == 201 || workflow_status[i] == 409) << workflow_status[i];
    EXPECT_TRUE(connector_status[i] == 201 || connector_status[i] == 409) << connector_status[i];
    workflows_created += workflow_status[i] == 201;
    connectors_created += connector_status[i] == 201;
  }
  EXPECT_EQ(workflows_created, kWorkflows - 1);
  EXPECT_EQ(connectors_created, kConnectors - 1);
  EXPECT_EQ(s.Count([&](store::Tx& tx) { return tx.CountWorkflows(s.org_a_); }), kWorkflows);
  EXPECT_EQ(s.Count([&](store::Tx& tx) { return tx.CountConnectors(s.org_a_); }), kConnectors);
}

}  // namespace
}  // namespace rampart
