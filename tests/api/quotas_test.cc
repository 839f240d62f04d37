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
#include <tuple>
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
    std::tie(org_a_, org_b_) = testing::InsertTwoOrgs(store(), now_ms());
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

// ----- stored runs per org (quotas.runs), and the refusals counted in /metrics -----

constexpr int kRuns = 3;
constexpr const char* kBearerToken = "quota-bearer-token-0123456789";

class RunsServer : public testing::ApiServer {
 public:
  RunsServer()
      : ApiServer({.start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs = runs::RunServiceOptions{.workers = 1, .max_runs_per_org = kRuns},
                   .api = [] {
                     api::ApiOptions options;
                     options.definition_refusal_audits_per_minute = 2;
                     return options;
                   }(),
                   .keyring_master_key = "quotas-test-master-key-0123456789abcdef"}) {
    org_a_ = NewId("org_");
    org_b_ = NewId("org_");
    Status st = store().Write([&](store::Tx& tx) -> Status {
      if (Status s = tx.InsertOrg({org_a_, "runs-a", "Org A", 10, now_ms()}); !s.ok()) return s;
      return tx.InsertOrg({org_b_, "runs-b", "Org B", 10, now_ms()});
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
  // A published workflow of `org` (public with a strict inputs schema, or with a bearer
  // webhook trigger).
  void Publish(const std::string& org, const std::string& key, const std::string& yaml,
               const std::string& id) {
    HttpResponse r = Do("POST", "/v1/orgs/" + org + "/workflows", key, yaml, "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    r = Do("POST", "/v1/orgs/" + org + "/workflows/" + id + "/publish", key, R"({"version": 1})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  HttpResponse StartRun(const std::string& org, const std::string& key, const std::string& id,
                        std::string_view body = R"({"version": "draft"})") {
    return Do("POST", "/v1/orgs/" + org + "/workflows/" + id + "/runs", key, body);
  }
  int64_t Runs(const std::string& org) {
    return testing::CountListedRuns(store(), org);
  }
  std::vector<store::AuditEvent> Audit(const std::string& org) {
    std::vector<store::AuditEvent> events;
    Status read = store().Read([&](store::Tx& tx) -> Status {
      auto listed = tx.ListAudit(org, 0, 10'000);
      if (!listed.ok()) return listed.error();
      events = std::move(*listed);
      return Status::Ok();
    });
    EXPECT_TRUE(read.ok());
    return events;
  }
  // The value of rampart_http_refusals_total{route, code}; 0 when absent.
  int64_t Refusals(const std::string& route, const std::string& code) {
    HttpResponse r = Do("GET", "/metrics", key_a_);
    EXPECT_EQ(r.status, 200);
    const std::string series =
        "rampart_http_refusals_total{route=\"" + route + "\",code=\"" + code + "\"} ";
    size_t at = r.body.find(series);
    if (at == std::string::npos) return 0;
    return std::stoll(r.body.substr(at + series.size()));
  }
  std::string Metrics() { return Do("GET", "/metrics", key_a_).body; }

  std::string org_a_, org_b_, key_a_, key_b_;
};

const std::string kStrictInputs =
    "inputs:\n  type: object\n  properties:\n    name: { type: string, maxLength: 20 }\n"
    "  additionalProperties: false\n";

std::string RunsWorkflow(const std::string& id, const std::string& extra = "") {
  return "rampart: 1\nid: " + id + "\nname: " + id + "\n" + extra +
         "steps:\n  - id: s\n    type: set\n    values: { a: 1 }\noutput: ok\n";
}

TEST(QuotasTest, StoredRunsPerOrgAcrossEveryWayToStartOne) {
  RunsServer s;
  s.Publish(s.org_a_, s.key_a_, RunsWorkflow("wf"), "wf");
  s.Publish(s.org_a_, s.key_a_, RunsWorkflow("pub", "visibility: public\n" + kStrictInputs), "pub");
  HttpResponse c = s.Do("POST", "/v1/orgs/" + s.org_a_ + "/connectors", s.key_a_,
                        std::string(R"({"id": "bt", "type": "bearer", "secrets": {"token": ")") +
                            kBearerToken + R"("}})");
  ASSERT_EQ(c.status, 201) << c.body;
  s.Publish(s.org_a_, s.key_a_,
            RunsWorkflow("hooked", "triggers:\n  - type: webhook\n    auth: { type: bearer, "
                                   "connector: bt }\n"),
            "hooked");
  HttpResponse hook =
      s.Do("POST", "/v1/orgs/" + s.org_a_ + "/workflows/hooked/webhooks", s.key_a_);
  ASSERT_EQ(hook.status, 201) << hook.body;
  const std::string hook_url(testing::Json(hook).at("url").as_string());
  const HttpHeaders hook_headers = {{"Content-Type", "application/json"},
                                    {"Authorization", std::string("Bearer ") + kBearerToken}};

  // Three runs fit: through the API (queued, and inline with wait), the public endpoint.
  EXPECT_EQ(s.StartRun(s.org_a_, s.key_a_, "wf").status, 202);
  EXPECT_EQ(s.StartRun(s.org_a_, s.key_a_, "wf", R"({"version": "draft", "wait": 5})").status,
            200);
  EXPECT_EQ(s.Send("POST", "/p/runs-a/pub", {{"Content-Type", "application/json"}}, "{}").status,
            200);
  ASSERT_EQ(s.Runs(s.org_a_), kRuns);
  const size_t audit_before = s.Audit(s.org_a_).size();

  // Past it: refused, nothing stored, nothing audited.
  for (std::string_view body : {R"({"version": "draft"})", R"({"version": "live", "wait": 5})"}) {
    HttpResponse r = s.StartRun(s.org_a_, s.key_a_, "wf", body);
    ExpectQuotaRefusal(r, "at most 3 stored runs");
  }
  HttpResponse pub = s.Send("POST", "/p/runs-a/pub", {{"Content-Type", "application/json"}}, "{}");
  EXPECT_EQ(pub.status, 409) << pub.body;
  EXPECT_EQ(ErrorCodeOf(pub), "conflict");
  // A webhook trigger answers 429 (409 means a replay there), with a Retry-After.
  HttpResponse hooked = s.Send("POST", hook_url, hook_headers, "{}");
  EXPECT_EQ(hooked.status, 429) << hooked.body;
  EXPECT_EQ(ErrorCodeOf(hooked), "rate_limited");
  EXPECT_TRUE(hooked.Header("Retry-After").has_value());
  EXPECT_EQ(s.Runs(s.org_a_), kRuns);
  EXPECT_EQ(s.Audit(s.org_a_).size(), audit_before);

  // Another org has its own quota.
  s.Publish(s.org_b_, s.key_b_, RunsWorkflow("wf"), "wf");
  for (int i = 0; i < kRuns; ++i) EXPECT_EQ(s.StartRun(s.org_b_, s.key_b_, "wf").status, 202) << i;
  ExpectQuotaRefusal(s.StartRun(s.org_b_, s.key_b_, "wf"), "at most 3 stored runs");

  // Each refusal is counted in /metrics by its route template and code.
  EXPECT_EQ(s.Refusals("/v1/orgs/{org}/workflows/{id}/runs", "conflict"), 3);
  EXPECT_EQ(s.Refusals("/p/{org_slug}/{workflow_id}", "conflict"), 1);
  EXPECT_EQ(s.Refusals("/hooks/{token}", "rate_limited"), 1);
}

// Validation failures (400), conflicts (409), oversized bodies (413) and rate limits (429)
// are counted by route template and code, never by raw path; nothing is written for them
// except the sampled audit of definitions reaching for secrets.
TEST(QuotasTest, RefusalsAreCountedByRouteTemplateAndCode) {
  RunsServer s;
  const std::string workflows = "/v1/orgs/" + s.org_a_ + "/workflows";
  // 400 invalid_argument: an unknown field; 400 invalid_definition: a broken definition.
  EXPECT_EQ(s.Do("POST", workflows + "/nope/runs", s.key_a_, R"({"bogus": 1})").status, 400);
  EXPECT_EQ(s.Do("POST", workflows, s.key_a_, "rampart: 1\nid: x\n", "application/yaml").status,
            400);
  // 409: the same workflow twice.
  ASSERT_EQ(s.Do("POST", workflows, s.key_a_, RunsWorkflow("dup"), "application/yaml").status, 201);
  EXPECT_EQ(s.Do("POST", workflows, s.key_a_, RunsWorkflow("dup"), "application/yaml").status, 409);
  // 413: a body past the route's limit.
  EXPECT_EQ(s.Do("POST", workflows, s.key_a_, std::string(2 << 20, 'x'), "application/yaml").status,
            413);
  // 429: the public endpoint past its requests per minute from one source.
  int limited = 0;
  for (int i = 0; i < 125; ++i) {
    limited += s.Send("POST", "/p/runs-a/none", {{"Content-Type", "application/json"}}, "{}")
                   .status == 429;
  }
  EXPECT_EQ(limited, 5);
  EXPECT_EQ(s.Refusals("/v1/orgs/{org}/workflows/{id}/runs", "invalid_argument"), 1);
  EXPECT_EQ(s.Refusals("/v1/orgs/{org}/workflows", "invalid_definition"), 1);
  EXPECT_EQ(s.Refusals("/v1/orgs/{org}/workflows", "conflict"), 1);
  EXPECT_EQ(s.Refusals("/v1/orgs/{org}/workflows", "payload_too_large"), 1);
  EXPECT_EQ(s.Refusals("/p/{org_slug}/{workflow_id}", "rate_limited"), 5);
  // Labels are route templates only: no org id, workflow id or other raw path text.
  const std::string metrics = s.Metrics();
  for (size_t at = metrics.find("rampart_http_refusals_total{"); at != std::string::npos;
       at = metrics.find("rampart_http_refusals_total{", at + 1)) {
    const std::string line = metrics.substr(at, metrics.find('\n', at) - at);
    EXPECT_EQ(line.find(s.org_a_), std::string::npos) << line;
    EXPECT_EQ(line.find("nope"), std::string::npos) << line;
    bool template_route = false;
    for (const server::Route& r : s.router().routes()) {
      template_route = template_route || line.find("route=\"" + r.pattern + "\"") != std::string::npos;
    }
    EXPECT_TRUE(template_route) << line;
  }
}

// A definition reaching for `secrets` outside a connector is refused
// (forbidden_secret_access) and audited as definition.refused, sampled per org (2 a
// minute here), with the error paths and codes and never the definition's text.
TEST(QuotasTest, DefinitionsReachingForSecretsAreAuditedSampled) {
  RunsServer s;
  const std::string workflows = "/v1/orgs/" + s.org_a_ + "/workflows";
  const std::string sneaky =
      "rampart: 1\nid: sneaky\nsteps:\n  - id: leak\n    type: set\n"
      "    values: { v: \"{{ secrets.SUPER_SECRET_MARKER }}\" }\n";
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = s.Do("POST", workflows, s.key_a_, sneaky, "application/yaml");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_definition");
  }
  // Another kind of invalid definition is only counted.
  EXPECT_EQ(s.Do("POST", workflows, s.key_a_, "rampart: 1\nid: x\n", "application/yaml").status,
            400);
  std::vector<store::AuditEvent> refused;
  for (const auto& e : s.Audit(s.org_a_)) {
    if (e.action == "definition.refused") refused.push_back(e);
  }
  ASSERT_EQ(refused.size(), 2u);
  for (const auto& e : refused) {
    EXPECT_EQ(e.outcome, "failure");
    EXPECT_NE(e.actor.find("key:"), std::string::npos) << e.actor;
    EXPECT_NE(e.details.find("forbidden_secret_access"), std::string::npos) << e.details;
    EXPECT_NE(e.details.find("/steps/0/values/v"), std::string::npos) << e.details;
    EXPECT_EQ(e.details.find("SUPER_SECRET_MARKER"), std::string::npos) << e.details;
    EXPECT_EQ(e.details.find("secrets."), std::string::npos) << e.details;
  }
  EXPECT_EQ(s.Refusals("/v1/orgs/{org}/workflows", "invalid_definition"), 6);
  // The sample is per minute: a minute later, audited again.
  s.clock().Advance(std::chrono::minutes(1));
  EXPECT_EQ(s.Do("POST", workflows, s.key_a_, sneaky, "application/yaml").status, 400);
  size_t after = 0;
  for (const auto& e : s.Audit(s.org_a_)) after += e.action == "definition.refused";
  EXPECT_EQ(after, 3u);
}

}  // namespace
}  // namespace rampart
