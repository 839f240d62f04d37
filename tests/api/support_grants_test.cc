// End-to-end tests of support grants (spec/security.md section 2: "rps_" tokens,
// expiring <= 72 h, revocable, diagnostics only) and of the diagnostics routes.
//
// Every security promise is tried as an attack: a grant walks the whole route table and
// only the diagnostics of its own org answer 2xx; another org's routes answer 404; a
// revoked, expired, malformed, bad-checksum or unknown grant answers the same 401 as any
// failed authentication; the token is never stored, listed, logged or audited in
// plaintext; every use is audited.
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve`
// (tests/support/api_server.h). Principals are API keys inserted in the store.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "rampart/api/api.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/tokens.h"
#include "rampart/server/router.h"
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
using rampart::testing::NewId;
using rampart::testing::Str;
using std::chrono::seconds;

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

class Server : public testing::ApiServer {
 public:
  Server()
      : ApiServer({.start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs = runs::RunServiceOptions{.workers = 1},
                   .api = [] {
                     api::ApiOptions options;
                     options.version = "9.8.7";
                     options.build = "abc123 Debug";
                     options.auth_failures_per_minute = 1000;
                     return options;
                   }()}) {
    std::tie(org_a_, org_b_) = testing::InsertTwoOrgs(store(), now_ms());
    owner_key_ = testing::InsertMemberWithKey(store(), org_a_, "owner@a.test", "owner", now_ms());
    owner2_key_ = testing::InsertMemberWithKey(store(), org_a_, "owner2@a.test", "owner", now_ms());
    dev_key_ = testing::InsertMemberWithKey(store(), org_a_, "dev@a.test", "developer", now_ms());
    owner_b_key_ = testing::InsertMemberWithKey(store(), org_b_, "owner@b.test", "owner", now_ms());
  }

  HttpResponse Do(std::string_view method, const std::string& path, const HttpHeaders& headers,
                  std::string_view body = {}, std::string_view type = "application/json") {
    HttpHeaders h = headers;
    if (!body.empty()) h.emplace_back("Content-Type", std::string(type));
    HttpResponse r = Send(method, path, h, body);
    responses_.push_back(r.body);
    return r;
  }

  std::string A() const { return "/v1/orgs/" + org_a_; }
  std::string B() const { return "/v1/orgs/" + org_b_; }

  // Creates a grant with `key`; returns the 201 body.
  bj::object Grant(const std::string& key, const std::string& org_path,
                   const std::string& body = "{}") {
    HttpResponse r = Do("POST", org_path + "/support-grants", Bearer(key), body);
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return {};
    return Json(r).as_object();
  }

  std::string org_a_, org_b_, owner_key_, owner2_key_, dev_key_, owner_b_key_;
  std::vector<std::string> responses_;
};

class SupportGrantsTest : public ::testing::Test {
 protected:
  void SetUp() override { s_ = std::make_unique<Server>(); }
  void TearDown() override {
    // A token appears in exactly one response: the one that created it.
    for (const std::string& token : tokens_) {
      int holders = 0;
      for (const std::string& body : s_->responses_) holders += body.find(token) != std::string::npos;
      EXPECT_EQ(holders, 1) << token;
    }
    s_.reset();
  }
  Server& s() { return *s_; }
  std::string NewGrant(const std::string& body = "{}") {
    bj::object g = s().Grant(s().owner_key_, s().A(), body);
    std::string token = Str(g, "token");
    tokens_.push_back(token);
    return token;
  }
  std::unique_ptr<Server> s_;
  std::vector<std::string> tokens_;
};

std::vector<store::AuditEvent> AuditEvents(store::Store& store, const std::string& org) {
  std::vector<store::AuditEvent> events;
  Status read = store.Read([&](store::Tx& tx) -> Status {
    auto l = tx.ListAudit(org, 0, 1000);
    if (!l.ok()) return l.error();
    events = *l;
    return Status::Ok();
  });
  EXPECT_TRUE(read.ok());
  return events;
}

TEST_F(SupportGrantsTest, CreateShowsTheTokenOnceAndStoresOnlyItsHash) {
  HttpResponse r = s().Do("POST", s().A() + "/support-grants", Bearer(s().owner_key_),
                          R"({"expires_in": 3600, "reason": "ticket 4711"})");
  ASSERT_EQ(r.status, 201) << r.body;
  bj::value v = Json(r);
  const std::string token = Str(v, "token");
  tokens_.push_back(token);
  EXPECT_TRUE(crypto::SupportGrantWellFormed(token)) << token;
  EXPECT_EQ(Str(v, "id").substr(0, 4), "sgr_");
  EXPECT_EQ(Str(v, "reason"), "ticket 4711");
  EXPECT_EQ(Str(v, "status"), "active");
  EXPECT_EQ(Str(v, "created_at"), "2030-01-01T00:00:00.000Z");
  EXPECT_EQ(Str(v, "expires_at"), "2030-01-01T01:00:00.000Z");
  EXPECT_FALSE(Str(v, "created_by").empty());
  EXPECT_TRUE(v.at("revoked_at").is_null());

  // The store holds the SHA-256, never the token.
  std::optional<store::SupportGrant> row;
  ASSERT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                auto g = tx.GetSupportGrant(s().org_a_, Str(v, "id"));
                if (!g.ok()) return g.error();
                row = *g;
                return Status::Ok();
              }).ok());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->hash, crypto::Sha256Hex(token));
  EXPECT_EQ(row->expires_at - row->created_at, 3600 * 1000);
  for (const auto& entry : std::filesystem::directory_iterator(s().dir())) {
    std::string bytes = testing::ReadFile(entry.path().string());
    EXPECT_EQ(bytes.find(token.substr(4, 43)), std::string::npos) << entry.path();
  }

  // Listed without the token, and the default is 24 h.
  bj::object second = s().Grant(s().owner_key_, s().A());
  tokens_.push_back(Str(second, "token"));
  EXPECT_EQ(Str(second, "expires_at"), "2030-01-02T00:00:00.000Z");
  EXPECT_EQ(Str(second, "reason"), "");
  r = s().Do("GET", s().A() + "/support-grants", Bearer(s().owner_key_));
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value listed = Json(r);
  const bj::array& items = listed.at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  for (const auto& item : items) {
    EXPECT_FALSE(item.as_object().contains("token"));
    EXPECT_EQ(Str(item, "status"), "active");
  }
}

TEST_F(SupportGrantsTest, BodyIsAllowlistedAndBounded) {
  for (const char* body : {R"({"expires_in": 0})", R"({"expires_in": 259201})",
                           R"({"expires_in": -5})", R"({"expires_in": "3600"})",
                           R"({"expires_in": 1.5})", R"({"reason": 7})",
                           R"({"reason": "line\nbreak"})", R"({"scope": "all"})",
                           R"({"permissions": ["runs:read"]})"}) {
    HttpResponse r = s().Do("POST", s().A() + "/support-grants", Bearer(s().owner_key_), body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << body;
  }
  HttpResponse r = s().Do("POST", s().A() + "/support-grants", Bearer(s().owner_key_),
                          bj::serialize(bj::object{{"reason", std::string(201, 'r')}}));
  EXPECT_EQ(r.status, 400);
  // The bounds themselves are accepted: 1 s and 72 h.
  tokens_.push_back(Str(s().Grant(s().owner_key_, s().A(), R"({"expires_in": 1})"), "token"));
  bj::object longest = s().Grant(s().owner_key_, s().A(), R"({"expires_in": 259200})");
  tokens_.push_back(Str(longest, "token"));
  EXPECT_EQ(Str(longest, "expires_at"), "2030-01-04T00:00:00.000Z");
}

TEST_F(SupportGrantsTest, AtMostTenActiveGrantsPerOrg) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    bj::object g = s().Grant(s().owner_key_, s().A());
    tokens_.push_back(Str(g, "token"));
    ids.push_back(Str(g, "id"));
  }
  HttpResponse r = s().Do("POST", s().A() + "/support-grants", Bearer(s().owner_key_), "{}");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCodeOf(r), "conflict");
  // Another org has its own budget.
  tokens_.push_back(Str(s().Grant(s().owner_b_key_, s().B()), "token"));
  // A revoked grant no longer counts; an expired one neither.
  ASSERT_EQ(s().Do("DELETE", s().A() + "/support-grants/" + ids[0], Bearer(s().owner_key_)).status,
            204);
  tokens_.push_back(Str(s().Grant(s().owner_key_, s().A(), R"({"expires_in": 10})"), "token"));
  EXPECT_EQ(s().Do("POST", s().A() + "/support-grants", Bearer(s().owner_key_), "{}").status, 409);
  s().clock().Advance(std::chrono::milliseconds(10'000));
  tokens_.push_back(Str(s().Grant(s().owner_key_, s().A()), "token"));
  // Paged like the other lists: 12 grants of org A, 5 at a time.
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    r = s().Do("GET", s().A() + "/support-grants?limit=5" + (cursor.empty() ? "" : "&cursor=" + cursor),
               Bearer(s().owner_key_));
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    for (const auto& item : v.at("items").as_array()) seen.insert(Str(item, "id"));
    cursor = v.at("next_cursor").is_string() ? std::string(v.at("next_cursor").as_string()) : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(pages, 3);
}

TEST_F(SupportGrantsTest, DiagnosticsAnswerCountsWithoutNamesIdsOrPayloads) {
  // A run of org A with a distinctive input, and a workflow name to look for.
  const std::string marker = "DIAG-MARKER-5f1e";
  const std::string yaml =
      "rampart: 1\nid: diag-wf\nname: Very Secret Project Name\n"
      "inputs:\n  type: object\n  properties:\n    x: { type: string, maxLength: 64 }\n"
      "  additionalProperties: false\n"
      "steps:\n  - id: s\n    type: set\n    values: { v: \"{{ inputs.x }}\" }\n";
  HttpResponse created =
      s().Do("POST", s().A() + "/workflows", Bearer(s().owner_key_), yaml, "application/yaml");
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(s().Do("POST", s().A() + "/workflows/diag-wf/publish", Bearer(s().owner_key_),
                   R"({"version": 1})")
                .status,
            200);
  HttpResponse r = s().Do("POST", s().A() + "/workflows/diag-wf/runs", Bearer(s().owner_key_),
                          R"({"input": {"x": ")" + marker + R"("}, "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string run_id = Str(Json(r), "run_id");
  if (run_id.empty()) run_id = Str(Json(r), "id");
  ASSERT_EQ(run_id.substr(0, 4), "run_") << r.body;

  const std::string token = NewGrant();
  for (const std::string& key : {token, s().owner_key_}) {
    r = s().Do("GET", s().A() + "/diagnostics", Bearer(key));
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    EXPECT_EQ(Str(v, "version"), "9.8.7");
    EXPECT_EQ(Str(v, "build"), "abc123 Debug");
    EXPECT_TRUE(v.at("uptime_s").is_int64());
    EXPECT_EQ(v.at("store").at("reachable"), bj::value(true));
    EXPECT_EQ(v.at("runs_by_status").at("succeeded"), bj::value(1));
    EXPECT_EQ(v.at("runs_by_status").at("queued"), bj::value(0));
    EXPECT_EQ(v.at("queue_depth"), bj::value(0));
    for (const std::string& leak : {marker, run_id, std::string("diag-wf"),
                                    std::string("Very Secret Project Name"), s().org_b_}) {
      EXPECT_EQ(r.body.find(leak), std::string::npos) << leak << " in " << r.body;
    }
  }
  // A developer has no org:write.
  r = s().Do("GET", s().A() + "/diagnostics", Bearer(s().dev_key_));
  EXPECT_EQ(r.status, 403);
}

TEST_F(SupportGrantsTest, LogsAreTheOrgsOwnRedactedRecords) {
  const std::string token = NewGrant();
  const std::string marker = "LOG-INPUT-MARKER-77c1";
  // Failed requests of org A: their operation and code reach A's ring, their input never.
  HttpResponse r = s().Do("POST", s().A() + "/workflows/missing/runs", Bearer(s().owner_key_),
                          R"({"input": {"email": ")" + marker + R"("}})");
  ASSERT_EQ(r.status, 404);
  r = s().Do("GET", s().A() + "/runs/run_nothing", Bearer(s().owner_key_));
  ASSERT_EQ(r.status, 404);
  // Org B's failure stays in B.
  r = s().Do("GET", s().B() + "/runs/run_of_b", Bearer(s().owner_b_key_));
  ASSERT_EQ(r.status, 404);

  r = s().Do("GET", s().A() + "/diagnostics/logs?limit=10", Bearer(token));
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value listed = Json(r);
  const bj::array& items = listed.at("items").as_array();
  ASSERT_GE(items.size(), 2u) << r.body;
  std::set<std::string> messages;
  for (const auto& item : items) {
    const bj::object& o = item.as_object();
    EXPECT_EQ(o.size(), 5u) << bj::serialize(o);  // time, level, event, code, message
    EXPECT_FALSE(Str(o, "time").empty());
    EXPECT_EQ(Str(o, "event"), "request.failed");
    messages.insert(Str(o, "message"));
  }
  EXPECT_TRUE(messages.count("getRun failed: not_found")) << r.body;
  EXPECT_TRUE(messages.count("startRun failed: not_found")) << r.body;
  EXPECT_EQ(Str(items[0], "message"), "getRun failed: not_found");  // newest first
  for (const std::string& leak : {marker, std::string("run_nothing"), std::string("run_of_b"),
                                  s().owner_key_, token, std::string("rpk_")}) {
    EXPECT_EQ(r.body.find(leak), std::string::npos) << leak << " in " << r.body;
  }
  r = s().Do("GET", s().A() + "/diagnostics/logs?limit=1", Bearer(s().owner_key_));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r).at("items").as_array().size(), 1u);
  for (const char* bad : {"0", "501", "-1", "x"}) {
    r = s().Do("GET", s().A() + "/diagnostics/logs?limit=" + bad, Bearer(token));
    EXPECT_EQ(r.status, 400) << bad;
  }
}

// The promise of spec/security.md section 2, tried on every route of the table: with a
// grant of org A, only A's diagnostics answer 2xx. Another org's routes answer 404; routes
// without an org answer 403; public routes answer as they do without any credential.
TEST_F(SupportGrantsTest, AGrantWalkingTheWholeRouteTableReachesOnlyItsDiagnostics) {
  const std::string token = NewGrant();
  // Objects for the routes' parameters, so a refusal is not a mere "no such object".
  const std::string yaml =
      "rampart: 1\nid: wf\nname: wf\nsteps:\n  - id: s\n    type: set\n    values: { v: 1 }\n";
  ASSERT_EQ(s().Do("POST", s().A() + "/workflows", Bearer(s().owner_key_), yaml,
                   "application/yaml").status, 201);
  ASSERT_EQ(s().Do("POST", s().A() + "/workflows/wf/publish", Bearer(s().owner_key_),
                   R"({"version": 1})").status, 200);
  HttpResponse r = s().Do("POST", s().A() + "/workflows/wf/runs", Bearer(s().owner_key_),
                          R"({"input": {}, "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string run_id = Str(Json(r), "run_id");
  if (run_id.empty()) run_id = Str(Json(r), "id");
  ASSERT_EQ(run_id.substr(0, 4), "run_") << r.body;
  r = s().Do("POST", s().A() + "/workflows/wf/webhooks", Bearer(s().owner_key_), "{}");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string hook_id = Str(Json(r), "id");
  ASSERT_EQ(s().Do("POST", s().A() + "/connectors", Bearer(s().owner_key_),
                   R"({"id": "conn", "type": "custom"})").status, 201);
  bj::object other_grant = s().Grant(s().owner_key_, s().A());
  tokens_.push_back(Str(other_grant, "token"));

  const std::set<std::string> kDiagnostics = {"getDiagnostics", "getDiagnosticsLogs"};
  int org_routes = 0, successes = 0;
  for (const server::Route& route : s().router().routes()) {
    std::string path = route.pattern;
    path = Replace(path, "/workflows/{id}", "/workflows/wf");
    path = Replace(path, "/support-grants/{id}", "/support-grants/" + Str(other_grant, "id"));
    path = Replace(path, "/connectors/{id}", "/connectors/conn");
    path = Replace(path, "/api-keys/{id}", "/api-keys/key_whatever");
    path = Replace(path, "{run_id}", run_id);
    path = Replace(path, "{hook_id}", hook_id);
    path = Replace(path, "{user}", "usr_whatever");
    path = Replace(path, "{token}", "rwh_nothing");
    path = Replace(path, "{org_slug}", "org-a");
    path = Replace(path, "{workflow_id}", "wf");
    const std::string body = route.method == std::string("GET") ? "" : "{}";
    const bool org_route = route.pattern.find("{org}") != std::string::npos;
    SCOPED_TRACE(route.method + " " + route.pattern);
    if (!org_route) {
      HttpResponse with = s().Do(route.method, path, Bearer(token), body);
      if ((route.permission.empty() &&
           (route.operation_id == "logout" || route.operation_id == "listOrgs" ||
            route.operation_id == "metrics" || route.operation_id == "changePassword")) ||
          route.permission == "operator") {
        // Authenticated routes without an org (the operator's account routes among them):
        // refused like a missing permission.
        EXPECT_EQ(with.status, 403) << with.body;
        EXPECT_EQ(ErrorCodeOf(with), "permission_denied");
      } else {
        // Public routes: the grant adds nothing to no credential at all.
        HttpResponse without = s().Do(route.method, path, {}, body);
        EXPECT_EQ(with.status, without.status) << with.body;
      }
      continue;
    }
    ++org_routes;
    r = s().Do(route.method, Replace(path, "{org}", s().org_a_), Bearer(token), body);
    if (kDiagnostics.count(route.operation_id)) {
      EXPECT_EQ(r.status, 200) << r.body;
      ++successes;
    } else {
      EXPECT_EQ(r.status, 403) << r.body;
      EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
    }
    // Another org: as if it did not exist.
    r = s().Do(route.method, Replace(path, "{org}", s().org_b_), Bearer(token), body);
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(ErrorMessageOf(r), "organization not found");
  }
  EXPECT_GT(org_routes, 30);
  EXPECT_EQ(successes, 2);
  // Nothing happened on the grant's behalf: no run started, the other grant and the
  // trigger URL are intact, the owner's key still works.
  r = s().Do("GET", s().A() + "/runs", Bearer(s().owner_key_));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r).at("items").as_array().size(), 1u);
  r = s().Do("GET", s().A() + "/diagnostics", Bearer(Str(other_grant, "token")));
  EXPECT_EQ(r.status, 200);
  // A grant cannot mint a grant, nor its owner's API key anything through it.
  r = s().Do("POST", s().A() + "/support-grants", Bearer(token), "{}");
  EXPECT_EQ(r.status, 403);
}

TEST_F(SupportGrantsTest, RevokedExpiredAndForgedGrantsLookLikeAnyFailedAuthentication) {
  const std::string token = NewGrant(R"({"expires_in": 60})");
  const std::string to_revoke = NewGrant();
  const std::string path = s().A() + "/diagnostics";
  ASSERT_EQ(s().Do("GET", path, Bearer(token)).status, 200);
  ASSERT_EQ(s().Do("GET", path, Bearer(to_revoke)).status, 200);

  HttpResponse reference = s().Do("GET", path, Bearer("rpk_garbage"));
  ASSERT_EQ(reference.status, 401);
  auto same_as_reference = [&](const HttpResponse& r, const std::string& what) {
    EXPECT_EQ(r.status, 401) << what << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), ErrorCodeOf(reference)) << what;
    EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(reference)) << what;
    EXPECT_EQ(r.Header("WWW-Authenticate"), reference.Header("WWW-Authenticate")) << what;
  };

  // Revoked: at once.
  bj::value list = Json(s().Do("GET", s().A() + "/support-grants", Bearer(s().owner_key_)));
  std::string revoke_id;
  for (const auto& item : list.at("items").as_array()) {
    if (Str(item, "expires_at") == "2030-01-02T00:00:00.000Z") revoke_id = Str(item, "id");
  }
  ASSERT_FALSE(revoke_id.empty());
  HttpResponse r = s().Do("DELETE", s().A() + "/support-grants/" + revoke_id, Bearer(s().owner_key_));
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  same_as_reference(s().Do("GET", path, Bearer(to_revoke)), "revoked");
  // Idempotent for the owner; unknown ids and another org's ids are 404.
  EXPECT_EQ(s().Do("DELETE", s().A() + "/support-grants/" + revoke_id, Bearer(s().owner_key_)).status,
            204);
  EXPECT_EQ(s().Do("DELETE", s().A() + "/support-grants/sgr_unknown", Bearer(s().owner_key_)).status,
            404);
  bj::object b_grant = s().Grant(s().owner_b_key_, s().B());
  tokens_.push_back(Str(b_grant, "token"));
  r = s().Do("DELETE", s().A() + "/support-grants/" + Str(b_grant, "id"), Bearer(s().owner_key_));
  EXPECT_EQ(r.status, 404);
  r = s().Do("DELETE", s().B() + "/support-grants/" + Str(b_grant, "id"), Bearer(s().owner_key_));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(s().Do("GET", s().B() + "/diagnostics", Bearer(Str(b_grant, "token"))).status, 200);
  list = Json(s().Do("GET", s().A() + "/support-grants", Bearer(s().owner_key_)));
  for (const auto& item : list.at("items").as_array()) {
    if (Str(item, "id") == revoke_id) {
      EXPECT_EQ(Str(item, "status"), "revoked");
      EXPECT_FALSE(Str(item, "revoked_at").empty());
    }
  }

  // Forged or damaged tokens.
  std::string bad_checksum = token;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  std::string flipped = token;
  flipped[10] = flipped[10] == 'x' ? 'y' : 'x';
  same_as_reference(s().Do("GET", path, Bearer(bad_checksum)), "bad checksum");
  same_as_reference(s().Do("GET", path, Bearer(flipped)), "flipped character");
  same_as_reference(s().Do("GET", path, Bearer(crypto::NewSupportGrantToken(SystemRandom()))),
                    "unknown well-formed");
  same_as_reference(s().Do("GET", path, Bearer("rps_garbage")), "malformed");
  same_as_reference(s().Do("GET", path, Bearer(token.substr(0, 52))), "truncated");
  same_as_reference(s().Do("GET", path, Bearer("rpk_" + token.substr(4))), "as an API key");
  // The token's hash is no credential either.
  same_as_reference(s().Do("GET", path, Bearer(crypto::Sha256Hex(token))), "its hash");

  // Expired: valid up to the last millisecond, refused from expires_at on.
  s().clock().AdvanceWall(std::chrono::milliseconds(59'999));
  EXPECT_EQ(s().Do("GET", path, Bearer(token)).status, 200);
  s().clock().AdvanceWall(std::chrono::milliseconds(1));
  same_as_reference(s().Do("GET", path, Bearer(token)), "expired");
  list = Json(s().Do("GET", s().A() + "/support-grants", Bearer(s().owner_key_)));
  int expired = 0;
  for (const auto& item : list.at("items").as_array()) expired += Str(item, "status") == "expired";
  EXPECT_EQ(expired, 1);
}

TEST_F(SupportGrantsTest, AGrantDiesWithItsCreatorsOwnership) {
  // Created by the second owner, who is then made a developer.
  bj::object g = s().Grant(s().owner2_key_, s().A());
  const std::string token = Str(g, "token");
  tokens_.push_back(token);
  ASSERT_EQ(s().Do("GET", s().A() + "/diagnostics", Bearer(token)).status, 200);
  std::string user = Str(g, "created_by");
  HttpResponse r = s().Do("PATCH", s().A() + "/members/" + user, Bearer(s().owner_key_),
                          R"({"role": "developer"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(s().Do("GET", s().A() + "/diagnostics", Bearer(token)).status, 401);
}

TEST_F(SupportGrantsTest, CreateRevokeAndEveryUseAreAuditedWithoutTheToken) {
  bj::object g = s().Grant(s().owner_key_, s().A(), R"({"reason": "ticket 9"})");
  const std::string token = Str(g, "token");
  const std::string id = Str(g, "id");
  tokens_.push_back(token);
  ASSERT_EQ(s().Do("GET", s().A() + "/diagnostics", Bearer(token)).status, 200);
  ASSERT_EQ(s().Do("GET", s().A() + "/diagnostics/logs", Bearer(token)).status, 200);
  ASSERT_EQ(s().Do("GET", s().A() + "/runs", Bearer(token)).status, 403);
  ASSERT_EQ(s().Do("GET", s().B() + "/diagnostics", Bearer(token)).status, 404);
  ASSERT_EQ(s().Do("GET", "/v1/orgs", Bearer(token)).status, 403);
  ASSERT_EQ(s().Do("DELETE", s().A() + "/support-grants/" + id, Bearer(s().owner_key_)).status, 204);

  std::vector<std::string> uses;
  bool created = false, revoked = false;
  for (const store::AuditEvent& e : AuditEvents(s().store(), s().org_a_)) {
    EXPECT_EQ(e.details.find(token.substr(4, 20)), std::string::npos) << e.details;
    EXPECT_EQ(e.target.find("rps_"), std::string::npos);
    if (e.action == "support_grant.create" && e.target == id) {
      created = true;
      EXPECT_NE(e.details.find("ticket 9"), std::string::npos);
    }
    if (e.action == "support_grant.revoke" && e.target == id) revoked = true;
    if (e.action == "support_grant.use") {
      EXPECT_EQ(e.target, id);
      EXPECT_EQ(e.actor, "grant:" + id);
      uses.push_back(e.outcome + " " + std::string(bj::parse(e.details).at("operation").as_string()));
    }
  }
  EXPECT_TRUE(created);
  EXPECT_TRUE(revoked);
  EXPECT_EQ(uses, (std::vector<std::string>{"success getDiagnostics", "success getDiagnosticsLogs",
                                            "denied listRuns", "denied getDiagnostics",
                                            "denied listOrgs"}));
  // Org B learns nothing of A's grant trying its door.
  for (const store::AuditEvent& e : AuditEvents(s().store(), s().org_b_)) {
    EXPECT_NE(e.action, "support_grant.use");
  }
}

}  // namespace
}  // namespace rampart
