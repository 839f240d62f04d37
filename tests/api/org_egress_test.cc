// End-to-end tests of per-org egress rules (spec/security.md section 5: "Domain
// allow/deny lists and port rules are per connector or per org"): PATCH /v1/orgs/{org}
// `egress`, and every outbound call of the org's runs under server policy -> org rules ->
// connector rules.
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve` (per-run services
// over the store and a keyring). The server's policy allows http to 127.0.0.1 and the
// port of a loopback test server (net::testing::TestServer); names resolve through a
// StaticResolver to 127.0.0.1 only, and the client refuses to connect anywhere but
// loopback: no packet leaves the machine.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "net/testing/test_server.h"
#include "rampart/net/http_client.h"
#include "rampart/net/egress.h"
#include "rampart/net/resolver.h"
#include "rampart/runs/runs.h"
#include "rampart/store/store.h"
#include "support/api_server.h"
#include "support/api_test_util.h"
#include "support/http_client.h"

namespace rampart {
namespace {

namespace bj = boost::json;
using rampart::testing::Bearer;
using rampart::testing::ErrorCodeOf;
using rampart::testing::ErrorMessageOf;
using rampart::testing::HttpHeaders;
using rampart::testing::HttpResponse;
using rampart::testing::Json;
using std::chrono::seconds;

constexpr const char* kMasterKey = "org-egress-test-master-key-0123456789abcdef";
constexpr const char* kWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// The outbound side shared by the servers of a test (it outlives a restart).
struct Outbound {
  Outbound() {
    resolver.Add("api.allowed.test", {*net::ParseIp("127.0.0.1")});
    resolver.Add("other.allowed.test", {*net::ParseIp("127.0.0.1")});
    client = std::make_shared<net::CurlHttpClient>(resolver);
    client->SetConnectObserverForTest([this](const net::CurlHttpClient::ConnectAttempt& a) {
      const bool loopback = a.address == *net::ParseIp("127.0.0.1");
      if (!loopback) ++non_loopback;
      return loopback;
    });
    auto p = std::make_shared<net::EgressPolicy>();
    p->allow_http = true;
    p->allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
    p->allow_ports = {target.port(), 443, 80};
    policy = p;
  }
  std::string Url(const std::string& host, const std::string& path = "/ok") const {
    return "http://" + host + ":" + std::to_string(target.port()) + path;
  }

  net::testing::TestServer target;
  net::StaticResolver resolver;
  std::shared_ptr<net::CurlHttpClient> client;
  std::shared_ptr<const net::EgressPolicy> policy;
  std::atomic<int> non_loopback{0};
};

class Server : public testing::ApiServer {
 public:
  Server(Outbound& out, const std::string& dir = "")
      : ApiServer({.dir = dir,
                   .start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs = runs::RunServiceOptions{.workers = 2},
                   .keyring_master_key = kMasterKey,
                   .outbound = out.client,
                   .egress = out.policy,
                   .per_run_services = true}) {}

  HttpResponse Do(std::string_view method, const std::string& path, const std::string& key,
                  std::string_view body = {}, std::string_view type = "application/json") {
    HttpHeaders headers = Bearer(key);
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(type));
    return Send(method, path, headers, body);
  }
};

class OrgEgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s_ = std::make_unique<Server>(out_);
    std::tie(org_a_, org_b_) = testing::InsertTwoOrgs(s_->store(), s_->now_ms());
    owner_ = testing::InsertMemberWithKey(s_->store(), org_a_, "owner@a.test", "owner",
                                          s_->now_ms());
    dev_ = testing::InsertMemberWithKey(s_->store(), org_a_, "dev@a.test", "developer",
                                        s_->now_ms());
    owner_b_ = testing::InsertMemberWithKey(s_->store(), org_b_, "owner@b.test", "owner",
                                            s_->now_ms());
  }
  void TearDown() override {
    s_.reset();
    EXPECT_EQ(out_.non_loopback.load(), 0);
  }

  std::string Org(const std::string& org) const { return "/v1/orgs/" + org; }

  HttpResponse PatchEgress(const std::string& egress, const std::string& key = "",
                           const std::string& org = "") {
    return s_->Do("PATCH", Org(org.empty() ? org_a_ : org), key.empty() ? owner_ : key,
                  R"({"egress": )" + egress + "}");
  }

  // A workflow of org A with one outbound step; `step` is its YAML (indented 4).
  void Workflow(const std::string& id, const std::string& step) {
    const std::string yaml = "rampart: 1\nid: " + id + "\nsteps:\n  - id: call\n    type: action\n" +
                             step + "output:\n  status: \"{{ steps.call.output.status }}\"\n";
    HttpResponse r = s_->Do("POST", Org(org_a_) + "/workflows", owner_, yaml, "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void HttpWorkflow(const std::string& id, const std::string& url,
                    const std::string& connector = "") {
    Workflow(id, "    uses: http.request\n" +
                     (connector.empty() ? std::string() : "    connector: " + connector + "\n") +
                     "    with:\n      url: \"" + url + "\"\n      allow_http: true\n");
  }
  void Connector(const std::string& body) {
    HttpResponse r = s_->Do("POST", Org(org_a_) + "/connectors", owner_, body);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // Runs workflow `id` of org A and waits for its record.
  bj::value Run(const std::string& id) {
    HttpResponse r = s_->Do("POST", Org(org_a_) + "/workflows/" + id + "/runs", owner_,
                            R"({"version": "draft", "wait": 20})");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Json(r) : bj::value();
  }
  // The run succeeds, and its one request reached the target.
  void ExpectReaches(const std::string& id) {
    const int before = out_.target.hits();
    bj::value record = Run(id);
    ASSERT_TRUE(record.is_object());
    EXPECT_EQ(record.at("status"), "succeeded") << bj::serialize(record);
    EXPECT_EQ(out_.target.hits(), before + 1);
  }
  // The run fails ssrf_blocked and nothing reached the target.
  void ExpectBlocked(const std::string& id) {
    const int before = out_.target.hits();
    bj::value record = Run(id);
    ASSERT_TRUE(record.is_object());
    EXPECT_EQ(record.at("status"), "failed") << bj::serialize(record);
    EXPECT_EQ(record.at("error").at("code"), "ssrf_blocked") << bj::serialize(record);
    EXPECT_EQ(out_.target.hits(), before);
  }

  bj::value StoredEgress(const std::string& org) {
    bj::value egress;
    Status st = s_->store().Read([&](store::Tx& tx) -> Status {
      auto o = tx.GetOrg(org);
      if (!o.ok()) return o.error();
      egress = bj::parse((*o)->egress);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return egress;
  }

  Outbound out_;
  std::unique_ptr<Server> s_;
  std::string org_a_, org_b_, owner_, dev_, owner_b_;
};

// Each org rule that excludes the target stops the same run's request before it is sent;
// taking the rule away lets it through again.
TEST_F(OrgEgressTest, EveryOrgRuleBlocksARunThatTheServerPolicyAllows) {
  HttpWorkflow("call", out_.Url("api.allowed.test"));
  ExpectReaches("call");
  const std::string port = std::to_string(out_.target.port());
  for (const std::string& rules :
       {std::string(R"({"deny_domains": ["api.allowed.test"]})"),
        std::string(R"({"deny_domains": ["*.allowed.test"]})"),
        std::string(R"({"allow_domains": ["other.allowed.test"]})"),
        std::string(R"({"allow_ports": [443]})"), std::string(R"({"allow_http": false})")}) {
    SCOPED_TRACE(rules);
    HttpResponse r = PatchEgress(rules);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Json(r).at("egress"), bj::parse(rules));
    ExpectBlocked("call");
    ASSERT_EQ(PatchEgress("{}").status, 200);
    ExpectReaches("call");
  }
  // Rules that include the target keep it reachable; http stays the server's decision.
  ASSERT_EQ(PatchEgress(R"({"allow_domains": ["*.allowed.test"], "allow_ports": [)" + port +
                        R"(], "allow_http": true, "deny_domains": ["evil.test"]})")
                .status,
            200);
  ExpectReaches("call");
  HttpResponse got = s_->Do("GET", Org(org_a_), dev_);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Json(got).at("egress").at("allow_ports").as_array().size(), 1u);
}

// An IP-literal URL cannot slip past an org's name allow list.
TEST_F(OrgEgressTest, AnOrgAllowListRefusesIpLiterals) {
  HttpWorkflow("ip", out_.Url("127.0.0.1"));
  ExpectReaches("ip");
  ASSERT_EQ(PatchEgress(R"({"allow_domains": ["api.allowed.test"]})").status, 200);
  ExpectBlocked("ip");
}

// What the org took away a connector cannot give back: names, ports, http.
TEST_F(OrgEgressTest, AConnectorCannotWidenTheOrgRules) {
  const std::string port = std::to_string(out_.target.port());
  Connector(R"({"id": "wide", "type": "bearer", "secrets": {"token": "t0ken-value"},
      "egress": {"allow_domains": ["api.allowed.test", "other.allowed.test"],
                 "allow_ports": [)" + port + R"(, 443], "allow_http": true}})");
  HttpWorkflow("via-connector", out_.Url("api.allowed.test"), "wide");
  ExpectReaches("via-connector");
  for (const std::string& rules :
       {std::string(R"({"allow_domains": ["other.allowed.test"]})"),
        std::string(R"({"deny_domains": ["api.allowed.test"]})"),
        std::string(R"({"allow_ports": [443]})"), std::string(R"({"allow_http": false})")}) {
    SCOPED_TRACE(rules);
    ASSERT_EQ(PatchEgress(rules).status, 200);
    ExpectBlocked("via-connector");
  }
  // A connector narrowing inside the org's rules works as before.
  ASSERT_EQ(PatchEgress(R"({"allow_domains": ["*.allowed.test"]})").status, 200);
  Connector(R"({"id": "narrow", "type": "bearer", "secrets": {"token": "t0ken-value"},
      "egress": {"allow_domains": ["other.allowed.test"]}})");
  HttpWorkflow("narrow-ok", out_.Url("other.allowed.test"), "narrow");
  ExpectReaches("narrow-ok");
  HttpWorkflow("narrow-no", out_.Url("api.allowed.test"), "narrow");
  ExpectBlocked("narrow-no");
}

TEST_F(OrgEgressTest, WebhookSendObeysTheOrgRules) {
  Connector(R"({"id": "signer", "type": "webhook_secret", "secrets": {"secret": ")" +
            std::string(kWebhookSecret) + R"("}})");
  Workflow("notify", "    uses: webhook.send\n    connector: signer\n    with:\n      url: \"" +
                         out_.Url("api.allowed.test", "/echo") +
                         "\"\n      allow_http: true\n      payload: {n: 1}\n");
  ExpectReaches("notify");
  ASSERT_EQ(PatchEgress(R"({"deny_domains": ["api.allowed.test"]})").status, 200);
  ExpectBlocked("notify");
}

TEST_F(OrgEgressTest, PatchRefusesWideningUnknownRulesOthersAndNonOwners) {
  ASSERT_EQ(PatchEgress(R"({"deny_domains": ["evil.test"]})").status, 200);
  const bj::value before = StoredEgress(org_a_);
  struct Case {
    std::string egress, key, org;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {R"({"allow_cidrs": ["127.0.0.1/32"]})", owner_, org_a_, 400, "invalid_argument"},
      {R"({"allow_cidrs": []})", owner_, org_a_, 400, "invalid_argument"},
      {R"({"deny_domains": [], "proxy": "x"})", owner_, org_a_, 400, "invalid_argument"},
      {R"({"allow_ports": [0]})", owner_, org_a_, 400, "invalid_argument"},
      {R"({"allow_domains": ["http://x.test"]})", owner_, org_a_, 400, "invalid_argument"},
      {R"(["deny_domains"])", owner_, org_a_, 400, "invalid_argument"},
      {R"({})", dev_, org_a_, 403, "permission_denied"},
      {R"({})", owner_b_, org_a_, 404, "not_found"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.egress + " as " + (c.key == dev_ ? "developer" : c.key == owner_b_ ? "owner of B" : "owner"));
    HttpResponse r = PatchEgress(c.egress, c.key, c.org);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), c.code) << r.body;
  }
  EXPECT_NE(ErrorMessageOf(PatchEgress(R"({"allow_cidrs": ["10.0.0.0/8"]})")).find("allow_cidrs"),
            std::string::npos);
  EXPECT_EQ(StoredEgress(org_a_), before);
  EXPECT_EQ(StoredEgress(org_b_), bj::object());
  // Other top-level fields are still refused (the route's allowlist).
  EXPECT_EQ(s_->Do("PATCH", Org(org_a_), owner_, R"({"egress": {}, "slug": "x"})").status, 400);
}

// The audit event says which rules changed, never their values.
TEST_F(OrgEgressTest, TheChangeIsAuditedWithoutValues) {
  ASSERT_EQ(PatchEgress(R"({"deny_domains": ["secret-partner.test"], "allow_ports": [443]})").status,
            200);
  ASSERT_EQ(PatchEgress(R"({"deny_domains": ["secret-partner.test"]})").status, 200);
  std::vector<store::AuditEvent> events;
  Status st = s_->store().Read([&](store::Tx& tx) -> Status {
    auto l = tx.ListAudit(org_a_, 0, 100);
    if (!l.ok()) return l.error();
    for (const auto& e : *l) {
      if (e.action == "org.update") events.push_back(e);
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(bj::parse(events[0].details).at("egress"),
            bj::parse(R"(["deny_domains", "allow_ports"])"));
  EXPECT_EQ(bj::parse(events[1].details).at("egress"), bj::parse(R"(["allow_ports"])"));
  for (const auto& e : events) {
    EXPECT_EQ(e.details.find("secret-partner"), std::string::npos) << e.details;
    EXPECT_EQ(e.outcome, "success");
  }
}

TEST_F(OrgEgressTest, TheRulesSurviveARestart) {
  HttpWorkflow("call", out_.Url("api.allowed.test"));
  ASSERT_EQ(PatchEgress(R"({"deny_domains": ["api.allowed.test"]})").status, 200);
  ExpectBlocked("call");
  const std::string dir = s_->dir();
  s_->KeepDir();
  s_.reset();
  s_ = std::make_unique<Server>(out_, dir);
  HttpResponse got = s_->Do("GET", Org(org_a_), owner_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Json(got).at("egress"), bj::parse(R"({"deny_domains": ["api.allowed.test"]})"));
  ExpectBlocked("call");
}

TEST_F(OrgEgressTest, OpenApiListsTheEgressField) {
  HttpResponse r = s_->Send("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  const bj::value doc = Json(r);
  const bj::value& op = doc.at("paths").at("/v1/orgs/{org}").at("patch");
  bool listed = false;
  for (const bj::value& f : op.at("x-rampart-body-fields").as_array()) listed |= f == "egress";
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace rampart
