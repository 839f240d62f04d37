// End-to-end tests of the HTTP API (spec/interfaces.md, spec/security.md sections 2-4 and 7).
//
// A real server runs in-process on 127.0.0.1:0 with the wiring of `rampart serve`
// (tests/support/api_server.h: SQLite store in a temp dir, RunService, WorkflowCache,
// Authenticator with the master key and the JWT fixtures of tests/testdata/jwt, Api,
// Router, HttpServer). A shared ::testing::Environment sets the server up once and builds the cast
// (owner, developer, keys of every kind, a second org, dead credentials), because Argon2
// costs tens of milliseconds per hash.
//
// Time: the wall clock of the Api and the Authenticator is a ManualClock fixed at the JWT
// fixtures' `now` (2030-01-01), so the fixture tokens are valid. The failed-authentication
// limiter runs on the same clock's monotonic time, and the tests move that forward
// (ResetLimits) so that a batch of deliberate failures never throttles the next test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rampart/api/api.h"
#include "rampart/audit/chain.h"
#include "rampart/auth/auth.h"
#include "rampart/core/clock.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/jwt.h"
#include "rampart/crypto/password.h"
#include "rampart/crypto/tokens.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"
#include "rampart/server/router.h"
#include "rampart/store/store.h"
#include "support/api_server.h"
#include "support/api_test_util.h"
#include "support/http_client.h"

namespace rampart {
namespace {

namespace bj = boost::json;
using rampart::testing::HttpHeaders;
using rampart::testing::Bearer;
using rampart::testing::ErrorCodeOf;
using rampart::testing::ErrorMessageOf;
using rampart::testing::HttpResponse;
using rampart::testing::Json;
using rampart::testing::NewId;
using rampart::testing::Str;
using rampart::testing::ReadFile;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPassword = "correct horse battery staple";
// The developer's own password: the owner added them with kPassword, which they had to
// change before doing anything else.
constexpr const char* kDevPassword = "dev's own chosen password";
constexpr const char* kMasterKey = "master-key-0123456789-abcdefghijklmnop";

// ---------------------------------------------------------------------------------------
// Helpers

const bj::object& JwtFixture() {
  static const bj::object* fixture = [] {
    auto* o = new bj::object(
        bj::parse(ReadFile(std::string(RAMPART_SOURCE_DIR) + "/tests/testdata/jwt/tokens.json"))
            .as_object());
    return o;
  }();
  return *fixture;
}

// Strict UTF-8 (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF).
bool ValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t len = lead < 0x80 ? 1 : (lead >= 0xC2 && lead <= 0xDF) ? 2
                             : (lead >= 0xE0 && lead <= 0xEF) ? 3
                             : (lead >= 0xF0 && lead <= 0xF4) ? 4 : 0;
    if (len == 0 || i + len > text.size()) return false;
    uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string WorkflowYaml(const std::string& id, const std::string& visibility = "org",
                         const std::string& marker = "one", const std::string& extra = "") {
  return "rampart: 1\nid: " + id + "\nname: " + id + "\nvisibility: " + visibility + "\n" + extra +
         "steps:\n  - id: s\n    type: set\n    values: { marker: " + marker +
         " }\noutput: { marker: \"{{ steps.s.output.marker }}\" }\n";
}

// ---------------------------------------------------------------------------------------
// The server, wired as `rampart serve` does it.

struct ServerConfig {
  bool jwt = true;
  std::string master_key = kMasterKey;
  int auth_failures_per_minute = 10;
  std::string jwks;  // "" = tests/testdata/jwt/jwks.json
};

// The API server (tests/support/api_server.h) with the JWT fixtures' verifier, a master
// key, a setup token and 4 io threads; the runs share its ManualClock (approval deadlines).
class TestServer : public testing::ApiServer {
 public:
  explicit TestServer(ServerConfig config = {}) : ApiServer(Options(config)) {}

  static testing::ApiServerOptions Options(const ServerConfig& config) {
    testing::ApiServerOptions options;
    options.start = std::chrono::system_clock::time_point(
        seconds(JwtFixture().at("now").to_number<int64_t>()));
    options.runs_on_manual_clock = true;
    options.auth.master_key = config.master_key;
    options.auth.session_idle = std::chrono::hours(24);
    options.auth.session_absolute = std::chrono::hours(48);
    if (config.jwt) {
      crypto::JwtConfig jwt;
      jwt.issuer = std::string(JwtFixture().at("issuer").as_string());
      jwt.audience = std::string(JwtFixture().at("audience").as_string());
      auto verifier = crypto::JwtVerifier::FromJwks(
          jwt, !config.jwks.empty()
                   ? config.jwks
                   : ReadFile(std::string(RAMPART_SOURCE_DIR) + "/tests/testdata/jwt/jwks.json"));
      if (!verifier.ok()) std::abort();
      options.auth.jwt = std::make_shared<crypto::JwtVerifier>(std::move(verifier).value());
    }
    options.api.auth_failures_per_minute = config.auth_failures_per_minute;
    options.setup_token = true;
    options.http_threads = 4;
    return options;
  }

  // One request; checks the invariants every response must hold (error shape, security
  // headers) and returns it.
  HttpResponse Do(std::string_view method, const std::string& path, HttpHeaders headers = {},
                  std::string_view body = {}, std::string_view content_type = "application/json") {
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    HttpResponse response = Send(method, path, headers, body);
    if (response.status == 0) return response;  // no answer: Send reported the failure
    CheckInvariants(method, path, response);
    return response;
  }

  static void CheckInvariants(std::string_view method, const std::string& path,
                              const HttpResponse& r) {
    SCOPED_TRACE(std::string(method) + " " + path + " -> " + std::to_string(r.status) + " " +
                 r.body.substr(0, 300));
    EXPECT_EQ(r.Header("X-Content-Type-Options").value_or(""), "nosniff");
    EXPECT_TRUE(r.Header("X-Frame-Options").has_value());
    EXPECT_TRUE(r.Header("X-Request-Id").has_value());
    if (r.status >= 400) {
      bj::value v = Json(r);
      ASSERT_TRUE(v.is_object());
      ASSERT_EQ(v.as_object().size(), 1u);
      const bj::value* e = v.as_object().if_contains("error");
      ASSERT_TRUE(e != nullptr && e->is_object());
      EXPECT_FALSE(Str(*e, "code").empty());
      // The closed set of spec/interfaces.md, each with its status (405 and 431 are HTTP's
      // own answers to a wrong method and an oversized head).
      static const std::map<std::string, int> kCodes = {
          {"invalid_argument", 400}, {"invalid_definition", 400}, {"unauthenticated", 401},
          {"permission_denied", 403}, {"not_found", 404},         {"conflict", 409},
          {"payload_too_large", 413}, {"rate_limited", 429},      {"internal", 500}};
      auto code = kCodes.find(Str(*e, "code"));
      EXPECT_TRUE(code != kCodes.end()) << "code outside the closed set";
      if (code != kCodes.end() && r.status != 405 && r.status != 431) {
        EXPECT_EQ(r.status, code->second) << "status of " << code->first;
      }
      EXPECT_FALSE(Str(*e, "message").empty());
      EXPECT_EQ(Str(*e, "request_id"), r.Header("X-Request-Id").value_or("?"));
      EXPECT_EQ(r.Header("Cache-Control").value_or(""), "no-store");
      EXPECT_NE(r.status, 500);
      if (r.status == 429) {
        EXPECT_TRUE(r.Header("Retry-After").has_value());
      }
    }
  }

  // Starts a fresh window of the failed-authentication limiter.
  void ResetLimits() { clock().AdvanceMonotonic(seconds(61)); }
};

// ---------------------------------------------------------------------------------------
// The cast

struct Session {
  std::string cookie;  // "rampart_session=rss_..."
  std::string csrf;
  HttpHeaders headers() const { return {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}; }
};

struct Cast {
  std::string org_a, org_a_slug, org_b, org_b_slug;
  std::string owner_id, dev_id, ada_id, owner_b_id;
  std::string shared_hash;  // Argon2id of kPassword, reused for users made via the store
  Session owner_session, dev_session, owner_b_session;
  std::string owner_read_key, owner_read_key_id, owner_rw_key, owner_rw_key_id;
  std::string dev_rw_key, owner_b_key;
  std::string revoked_key, expired_key, removed_member_key, expired_session_cookie;
  // Support grants (spec/security.md section 2): diagnostics of their own org only.
  std::string grant, grant_b, revoked_grant, expired_grant;
  std::string workflow_id = "wf-a";
  std::string run_id;
};

TestServer* g_server = nullptr;
Cast* g_cast = nullptr;

// The session a successful login (or password change) answered.
Session SessionOf(const HttpResponse& r) {
  std::string set_cookie = r.Header("Set-Cookie").value_or("");
  Session session;
  session.cookie = set_cookie.substr(0, set_cookie.find(';'));
  session.csrf = Str(Json(r), "csrf_token");
  return session;
}

std::optional<Session> Login(TestServer& s, const std::string& email,
                             const std::string& password = kPassword) {
  HttpResponse r = s.Do("POST", "/v1/auth/login", {},
                        bj::serialize(bj::object{{"email", email}, {"password", password}}));
  if (r.status != 200) return std::nullopt;
  return SessionOf(r);
}

HttpResponse ChangePassword(TestServer& s, const HttpHeaders& headers, const std::string& current,
                            const std::string& next) {
  return s.Do("POST", "/v1/auth/password", headers,
              bj::serialize(bj::object{{"current_password", current}, {"new_password", next}}));
}

// Inserts a user (password kPassword) and optionally a membership, via the store.
std::string InsertUser(TestServer& s, const std::string& email, const std::string& org,
                       const std::string& role) {
  std::string id = NewId("usr_");
  Status st = s.store().Write([&](store::Tx& tx) -> Status {
    if (Status x = tx.InsertUser({.id = id, .email = email, .password_hash = g_cast->shared_hash,
                                  .created_at = s.now_ms()});
        !x.ok()) {
      return x;
    }
    if (org.empty()) return Status::Ok();
    return tx.UpsertMembership({org, id, role, s.now_ms()});
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return id;
}

// Inserts an API key row via the store; returns {key, id}.
std::pair<std::string, std::string> InsertKey(TestServer& s, const std::string& org,
                                              const std::string& user, const std::string& scope,
                                              std::optional<store::Millis> expires_at = {}) {
  std::string key = crypto::NewApiKey(SystemRandom());
  store::ApiKey row{.id = NewId("key_"),
                    .org_id = org,
                    .user_id = user,
                    .name = "inserted",
                    .hash = crypto::Sha256Hex(key),
                    .hint = key.substr(0, 8) + "..." + key.substr(key.size() - 4),
                    .scope = scope,
                    .created_at = s.now_ms(),
                    .expires_at = expires_at,
                    .last_used_at = std::nullopt,
                    .revoked_at = std::nullopt};
  Status st = s.store().Write([&](store::Tx& tx) { return tx.InsertApiKey(row); });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return {key, row.id};
}

class ApiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_server = new TestServer();
    g_cast = new Cast();
    TestServer& s = *g_server;
    Cast& c = *g_cast;
    auto hash = crypto::HashPassword(kPassword, SystemRandom());
    ASSERT_TRUE(hash.ok());
    c.shared_hash = *hash;

    // Org A through the setup token.
    std::string token = ReadFile(s.setup_token_path());
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    ASSERT_EQ(token.substr(0, 4), "rpt_");
    HttpResponse r = s.Do("POST", "/v1/setup", {},
                          bj::serialize(bj::object{{"setup_token", token},
                                                   {"org_name", "Org A"},
                                                   {"email", "owner@a.test"},
                                                   {"password", kPassword}}));
    ASSERT_EQ(r.status, 201) << r.body;
    bj::value v = Json(r);
    c.org_a = Str(v.at("org"), "id");
    c.org_a_slug = Str(v.at("org"), "slug");
    c.owner_id = Str(v.at("user"), "id");
    ASSERT_FALSE(c.org_a.empty());
    ASSERT_FALSE(c.org_a_slug.empty());
    auto owner = Login(s, "owner@a.test");
    ASSERT_TRUE(owner.has_value());
    c.owner_session = *owner;
    const std::string a = "/v1/orgs/" + c.org_a;

    r = s.Do("POST", a + "/members", c.owner_session.headers(),
             bj::serialize(bj::object{
                 {"email", "dev@a.test"}, {"role", "developer"}, {"password", kPassword}}));
    ASSERT_EQ(r.status, 201) << r.body;
    c.dev_id = Str(Json(r), "user_id");
    auto dev = Login(s, "dev@a.test");
    ASSERT_TRUE(dev.has_value());
    // The owner chose the developer's password: they change it first (MustChangePassword).
    r = ChangePassword(s, dev->headers(), kPassword, kDevPassword);
    ASSERT_EQ(r.status, 200) << r.body;
    c.dev_session = SessionOf(r);

    r = s.Do("POST", a + "/api-keys", c.owner_session.headers(),
             R"({"name": "owner read", "scope": "read"})");
    ASSERT_EQ(r.status, 201) << r.body;
    c.owner_read_key = Str(Json(r), "key");
    c.owner_read_key_id = Str(Json(r), "id");
    r = s.Do("POST", a + "/api-keys", c.owner_session.headers(),
             R"({"name": "owner rw", "scope": "read_write"})");
    ASSERT_EQ(r.status, 201) << r.body;
    c.owner_rw_key = Str(Json(r), "key");
    c.owner_rw_key_id = Str(Json(r), "id");
    // A developer cannot create keys (no api_keys:write): their key is made in the store.
    c.dev_rw_key = InsertKey(s, c.org_a, c.dev_id, "read_write").first;
    // The JWT fixtures' user (email claim ada@example.test) is a developer of org A.
    c.ada_id = InsertUser(s, "ada@example.test", c.org_a, "developer");

    // Org B, made directly in the store.
    c.org_b = NewId("org_");
    c.org_b_slug = "org-b";
    Status st = s.store().Write([&](store::Tx& tx) {
      return tx.InsertOrg({.id = c.org_b, .slug = c.org_b_slug, .name = "Org B",
                           .max_concurrent_runs = 10, .created_at = s.now_ms()});
    });
    ASSERT_TRUE(st.ok());
    c.owner_b_id = InsertUser(s, "owner@b.test", c.org_b, "owner");
    c.owner_b_key = InsertKey(s, c.org_b, c.owner_b_id, "read_write").first;
    auto owner_b = Login(s, "owner@b.test");
    ASSERT_TRUE(owner_b.has_value());
    c.owner_b_session = *owner_b;

    // Dead credentials.
    r = s.Do("POST", a + "/api-keys", c.owner_session.headers(), R"({"name": "to revoke"})");
    ASSERT_EQ(r.status, 201);
    c.revoked_key = Str(Json(r), "key");
    r = s.Do("DELETE", a + "/api-keys/" + Str(Json(r), "id"), c.owner_session.headers());
    ASSERT_EQ(r.status, 200) << r.body;
    c.expired_key = InsertKey(s, c.org_a, c.owner_id, "read_write", s.now_ms() - 1000).first;
    std::string gone = InsertUser(s, "gone@a.test", c.org_a, "developer");
    c.removed_member_key = InsertKey(s, c.org_a, gone, "read_write").first;
    st = s.store().Write([&](store::Tx& tx) -> Status {
      auto removed = tx.DeleteMembership(c.org_a, gone);
      return removed.ok() ? Status::Ok() : Status(removed.error());
    });
    ASSERT_TRUE(st.ok());
    std::string session_token = crypto::NewOpaqueToken(SystemRandom(), crypto::kSessionPrefix);
    st = s.store().Write([&](store::Tx& tx) {
      return tx.InsertSession({.token_hash = crypto::Sha256Hex(session_token),
                               .user_id = c.owner_id,
                               .csrf_hash = crypto::Sha256Hex("csr_x"),
                               .created_at = s.now_ms() - 100'000,
                               .last_seen_at = s.now_ms() - 2000,
                               .expires_at = s.now_ms() - 1000,
                               .revoked = false});
    });
    ASSERT_TRUE(st.ok());
    c.expired_session_cookie = std::string(auth::kSessionCookie) + "=" + session_token;

    // Support grants: a live one of each org, a revoked one, an expired one.
    r = s.Do("POST", a + "/support-grants", c.owner_session.headers(), R"({"reason": "matrix"})");
    ASSERT_EQ(r.status, 201) << r.body;
    c.grant = Str(Json(r), "token");
    r = s.Do("POST", "/v1/orgs/" + c.org_b + "/support-grants", Bearer(c.owner_b_key), "{}");
    ASSERT_EQ(r.status, 201) << r.body;
    c.grant_b = Str(Json(r), "token");
    r = s.Do("POST", a + "/support-grants", c.owner_session.headers(), "{}");
    ASSERT_EQ(r.status, 201) << r.body;
    c.revoked_grant = Str(Json(r), "token");
    r = s.Do("DELETE", a + "/support-grants/" + Str(Json(r), "id"), c.owner_session.headers());
    ASSERT_EQ(r.status, 204) << r.body;
    c.expired_grant = crypto::NewSupportGrantToken(SystemRandom());
    st = s.store().Write([&](store::Tx& tx) {
      return tx.InsertSupportGrant({.org_id = c.org_a,
                                    .id = NewId("sgr_"),
                                    .hash = crypto::Sha256Hex(c.expired_grant),
                                    .created_by = c.owner_id,
                                    .reason = "",
                                    .created_at = s.now_ms() - 10'000,
                                    .expires_at = s.now_ms() - 1,
                                    .revoked_at = std::nullopt});
    });
    ASSERT_TRUE(st.ok());

    // A published workflow of org A and a finished run of it.
    r = s.Do("POST", a + "/workflows", Bearer(c.owner_rw_key), WorkflowYaml(c.workflow_id),
             "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    r = s.Do("POST", a + "/workflows/" + c.workflow_id + "/publish", Bearer(c.owner_rw_key),
             R"({"version": 1})");
    ASSERT_EQ(r.status, 200) << r.body;
    r = s.Do("POST", a + "/workflows/" + c.workflow_id + "/runs", Bearer(c.owner_rw_key),
             R"({"input": {}, "wait": 20})");
    ASSERT_EQ(r.status, 200) << r.body;
    c.run_id = Str(Json(r), "run_id");
    if (c.run_id.empty()) c.run_id = Str(Json(r), "id");
    ASSERT_EQ(c.run_id.substr(0, 4), "run_") << r.body;
  }

  void TearDown() override {
    if (g_server != nullptr) {
      auto report = audit::Verify(g_server->store());
      EXPECT_TRUE(report.ok());
      if (report.ok()) {
        EXPECT_TRUE(report->intact) << report->reason;
      }
    }
    delete g_server;
    delete g_cast;
    g_server = nullptr;
    g_cast = nullptr;
  }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ApiEnvironment);

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_server, nullptr);
    ASSERT_FALSE(g_cast->run_id.empty()) << "the environment's setup failed";
    s().ResetLimits();
  }
  static TestServer& s() { return *g_server; }
  static Cast& c() { return *g_cast; }
  static std::string A() { return "/v1/orgs/" + g_cast->org_a; }
  static std::string B() { return "/v1/orgs/" + g_cast->org_b; }
  // Every audit event of the org at `org_path`, oldest first, following next_cursor: the
  // tests share one server, so an org's events can outgrow any single page.
  static bj::array AuditItems(const std::string& org_path, const HttpHeaders& key) {
    bj::array items;
    std::string cursor;
    for (int pages = 0; pages < 1000; ++pages) {
      HttpResponse r = s().Do(
          "GET", org_path + "/audit?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      const bj::value page = Json(r);
      for (const auto& e : page.at("items").as_array()) items.push_back(e);
      if (page.at("next_cursor").is_null()) break;
      cursor = std::string(page.at("next_cursor").as_string());
    }
    return items;
  }
};

// ---------------------------------------------------------------------------------------
// 1. Authorization matrix generated from the route table

struct Credential {
  enum Kind { kMember, kOtherOrg, kDead, kSupportGrant };
  std::string name;
  Kind kind;
  HttpHeaders headers;
  std::string role;   // kMember
  bool read_scope = false;
  bool master_key = false;  // the server operator's credential (the account routes)
};

Credential Cred(std::string name, Credential::Kind kind, HttpHeaders headers,
                std::string role = "", bool read_scope = false) {
  return Credential{std::move(name), kind, std::move(headers), std::move(role), read_scope};
}

std::vector<Credential> Credentials() {
  const Cast& c = *g_cast;
  std::string well_formed_unknown = crypto::NewApiKey(SystemRandom());
  std::string bad_checksum = c.owner_rw_key;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  std::string grant_bad_checksum = c.grant;
  grant_bad_checksum.back() = grant_bad_checksum.back() == 'A' ? 'B' : 'A';
  return {
      Cred("owner session", Credential::kMember, c.owner_session.headers(), "owner"),
      Cred("developer session", Credential::kMember, c.dev_session.headers(), "developer"),
      Cred("owner read key", Credential::kMember, Bearer(c.owner_read_key), "owner", true),
      Cred("owner read_write key", Credential::kMember, Bearer(c.owner_rw_key), "owner"),
      Cred("developer read_write key", Credential::kMember, Bearer(c.dev_rw_key), "developer"),
      Credential{"master key as developer", Credential::kMember,
                 Bearer(std::string(kMasterKey) + ":" + c.dev_id), "developer", false, true},
      Cred("JWT of a developer", Credential::kMember,
       Bearer(std::string(JwtFixture().at("tokens").at("valid_rs256").as_string())),
       "developer"),
      Cred("org B key", Credential::kOtherOrg, Bearer(c.owner_b_key)),
      Cred("org B owner session", Credential::kOtherOrg, c.owner_b_session.headers()),
      Cred("no credential", Credential::kDead, {}),
      Cred("revoked key", Credential::kDead, Bearer(c.revoked_key)),
      Cred("expired key", Credential::kDead, Bearer(c.expired_key)),
      Cred("key of a removed member", Credential::kDead, Bearer(c.removed_member_key)),
      Cred("expired session", Credential::kDead, {{"Cookie", c.expired_session_cookie}}),
      Cred("garbage key", Credential::kDead, Bearer("rpk_garbage")),
      Cred("key with bad checksum", Credential::kDead, Bearer(bad_checksum)),
      Cred("unknown well-formed key", Credential::kDead, Bearer(well_formed_unknown)),
      Cred("garbage authorization", Credential::kDead, {{"Authorization", "Basic Zm9vOmJhcg=="}}),
      Cred("support grant", Credential::kSupportGrant, Bearer(c.grant)),
      Cred("org B support grant", Credential::kOtherOrg, Bearer(c.grant_b)),
      Cred("revoked support grant", Credential::kDead, Bearer(c.revoked_grant)),
      Cred("expired support grant", Credential::kDead, Bearer(c.expired_grant)),
      Cred("support grant with bad checksum", Credential::kDead, Bearer(grant_bad_checksum)),
      Cred("unknown well-formed support grant", Credential::kDead,
           Bearer(crypto::NewSupportGrantToken(SystemRandom()))),
      Cred("garbage support grant", Credential::kDead, Bearer("rps_garbage")),
  };
}

enum class Expected { kAllowed, kDenied, kOrgNotFound, kUnauthenticated };

Expected ExpectedFor(const Credential& credential, const server::Route& route) {
  if (credential.kind == Credential::kDead) return Expected::kUnauthenticated;
  // The account routes (no org): the operator's master key, and no other credential.
  if (route.permission == "operator") {
    return credential.master_key ? Expected::kAllowed : Expected::kDenied;
  }
  if (credential.kind == Credential::kOtherOrg) return Expected::kOrgNotFound;
  // A support grant reads its org's diagnostics and nothing else.
  if (credential.kind == Credential::kSupportGrant) {
    return route.operation_id == "getDiagnostics" || route.operation_id == "getDiagnosticsLogs"
               ? Expected::kAllowed
               : Expected::kDenied;
  }
  if (route.permission == "member") return Expected::kAllowed;
  std::optional<auth::Permission> p = auth::ParsePermission(route.permission);
  EXPECT_TRUE(p.has_value()) << route.permission;
  if (!p.has_value()) return Expected::kDenied;
  auth::PermissionSet set = auth::RolePermissions(credential.role);
  if (credential.read_scope) set = set.Intersect(auth::ReadPermissions());
  return set.Has(*p) ? Expected::kAllowed : Expected::kDenied;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

struct Prepared {
  std::string path;
  std::string body;
  std::string content_type = "application/json";
};

// Real ids of org A objects for the route's parameters; fresh objects for the routes that
// destroy or change them, so every credential meets an object in the same state.
Prepared Prepare(TestServer& s, const server::Route& route) {
  static int counter = 0;
  ++counter;
  const Cast& c = *g_cast;
  const std::string n = std::to_string(counter);
  const std::string method = route.method;
  Prepared p;
  p.path = Replace(route.pattern, "{org}", c.org_a);
  if (p.path.find("/workflows/{id}") != std::string::npos) {
    std::string id = c.workflow_id;
    // A fresh workflow for the routes that destroy it, and for those of a trigger URL (a
    // workflow holds at most 20 of them; every credential gets a fresh one).
    if (method == "DELETE" || p.path.find("{hook_id}") != std::string::npos) {
      id = "mx-del-" + n;
      HttpResponse r = s.Do("POST", "/v1/orgs/" + c.org_a + "/workflows", Bearer(c.owner_rw_key),
                            WorkflowYaml(id), "application/yaml");
      EXPECT_EQ(r.status, 201) << r.body;
    }
    p.path = Replace(p.path, "{id}", id);
  }
  if (p.path.find("{hook_id}") != std::string::npos) {
    // A fresh trigger URL of the chosen workflow for every request.
    const std::string workflows = "/v1/orgs/" + c.org_a + "/workflows/";
    const size_t start = p.path.find(workflows) + workflows.size();
    const std::string workflow = p.path.substr(start, p.path.find('/', start) - start);
    HttpResponse r = s.Do("POST", workflows + workflow + "/webhooks", Bearer(c.owner_rw_key), "{}");
    EXPECT_EQ(r.status, 201) << r.body;
    boost::system::error_code ec;
    bj::value v = bj::parse(r.body, ec);
    p.path = Replace(p.path, "{hook_id}", ec ? std::string("none") : std::string(v.at("id").as_string()));
  }
  if (p.path.find("/support-grants/{id}") != std::string::npos) {
    // A fresh grant row each time (inserted: the route's 10-active limit is not under test).
    std::string id = NewId("sgr_");
    Status st = s.store().Write([&](store::Tx& tx) {
      return tx.InsertSupportGrant({.org_id = c.org_a,
                                    .id = id,
                                    .hash = crypto::Sha256Hex(id),
                                    .created_by = c.owner_id,
                                    .reason = "",
                                    .created_at = s.now_ms(),
                                    .expires_at = s.now_ms() + 60'000,
                                    .revoked_at = std::nullopt});
    });
    EXPECT_TRUE(st.ok());
    p.path = Replace(p.path, "{id}", id);
  }
  if (p.path.find("/api-keys/{id}") != std::string::npos) {
    p.path = Replace(p.path, "{id}", InsertKey(s, c.org_a, c.owner_id, "read").second);
  }
  if (p.path.find("/connectors/{id}") != std::string::npos) {
    std::string id = "mx-conn-" + n;
    HttpResponse r = s.Do("POST", "/v1/orgs/" + c.org_a + "/connectors", Bearer(c.owner_rw_key),
                          R"({"id": ")" + id + R"(", "type": "custom"})");
    EXPECT_EQ(r.status, 201) << r.body;
    p.path = Replace(p.path, "{id}", id);
  }
  if (p.path.find("{user}") != std::string::npos) {
    p.path = Replace(p.path, "{user}",
                     InsertUser(s, "mx-member-" + n + "@a.test", c.org_a, "developer"));
  }
  p.path = Replace(p.path, "{run_id}", c.run_id);
  const std::string op = route.operation_id;
  if (op == "addMember") {
    p.body = bj::serialize(bj::object{
        {"email", "mx-new-" + n + "@a.test"}, {"role", "developer"}, {"password", kPassword}});
  } else if (op == "updateMember") {
    p.body = R"({"role": "developer"})";
  } else if (op == "createApiKey") {
    p.body = R"({"name": "matrix"})";
  } else if (op == "createWorkflow") {
    p.body = WorkflowYaml("mx-new-" + n);
    p.content_type = "application/yaml";
  } else if (op == "updateWorkflow") {
    p.body = WorkflowYaml(c.workflow_id);
    p.content_type = "application/yaml";
  } else if (op == "publishWorkflow") {
    p.body = R"({"version": 1})";
  } else if (op == "createConnector") {
    p.body = R"({"id": "mx-new-conn-)" + n + R"(", "type": "custom"})";
  } else if (op == "updateConnector") {
    p.body = R"({"allowed_workflows": []})";
  } else if (op == "startRun") {
    p.body = R"({"input": {}})";
  }
  return p;
}

TEST_F(ApiTest, AuthorizationMatrixFromTheRouteTable) {
  const std::vector<Credential> credentials = Credentials();
  std::optional<std::pair<std::string, std::string>> unauthenticated_body;
  int checked = 0;
  for (const server::Route& route : s().router().routes()) {
    if (route.permission.empty()) continue;
    bool any_success = false;
    // The operator's account routes act across orgs; every other one is an org's.
    ASSERT_TRUE(route.pattern.find("{org}") != std::string::npos ||
                (route.permission == "operator" && route.pattern.starts_with("/v1/users/")))
        << route.pattern << ": a route with a permission must be scoped to an org";
    for (const Credential& credential : credentials) {
      Expected expected = ExpectedFor(credential, route);
      if (expected == Expected::kUnauthenticated) s().ResetLimits();
      Prepared p = Prepare(s(), route);
      HttpResponse r = s().Do(route.method, p.path, credential.headers, p.body, p.content_type);
      SCOPED_TRACE(credential.name + " on " + route.method + " " + route.pattern + " (" +
                   route.permission + ") -> " + std::to_string(r.status) + " " +
                   r.body.substr(0, 200));
      ++checked;
      switch (expected) {
        case Expected::kUnauthenticated: {
          EXPECT_EQ(r.status, 401);
          auto body = std::make_pair(ErrorCodeOf(r), ErrorMessageOf(r));
          if (!unauthenticated_body) unauthenticated_body = body;
          EXPECT_EQ(body, *unauthenticated_body) << "401 bodies differ";
          EXPECT_EQ(body.first, "unauthenticated");
          break;
        }
        case Expected::kOrgNotFound:
          EXPECT_EQ(r.status, 404);
          EXPECT_EQ(ErrorCodeOf(r), "not_found");
          break;
        case Expected::kDenied:
          EXPECT_EQ(r.status, 403);
          EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
          break;
        case Expected::kAllowed:
          EXPECT_NE(r.status, 401);
          EXPECT_NE(r.status, 403);
          EXPECT_FALSE(r.status == 404 && ErrorMessageOf(r) == "organization not found");
          EXPECT_LT(r.status, 500);
          any_success = any_success || r.status < 300;
          // /v1/openapi.json documents the success statuses the route really answers.
          if (r.status < 300) {
            EXPECT_TRUE(r.status == route.success_status ||
                        std::count(route.other_success_statuses.begin(),
                                   route.other_success_statuses.end(), r.status) > 0)
                << "undocumented success status";
          }
          break;
      }
    }
    // The matrix is not vacuous: some holder really did it (a finished run cannot be
    // cancelled or approved, so those routes answer 400/409 to everyone; ApprovalSteps
    // covers a real decision).
    if (route.operation_id != "cancelRun" && route.operation_id != "decideApproval") {
      EXPECT_TRUE(any_success) << route.method << " " << route.pattern;
    }
  }
  EXPECT_GT(checked, 20 * static_cast<int>(credentials.size()));
  // The 404 of another org is indistinguishable from the 404 of an org that does not exist.
  HttpResponse missing = s().Do("GET", "/v1/orgs/org_doesnotexist0000000", Bearer(c().owner_b_key));
  HttpResponse other = s().Do("GET", A(), Bearer(c().owner_b_key));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorMessageOf(missing), ErrorMessageOf(other));
}

TEST_F(ApiTest, RoutesWithoutPermissionAreExactlyThePublicAndAuthenticatedOnes) {
  const std::set<std::string> kPublic = {"setup", "login", "healthz", "readyz", "openapi",
                                         "runPublicWorkflow", "receiveWebhook"};
  const std::set<std::string> kAuthenticatedOnly = {"logout", "changePassword", "listOrgs",
                                                    "metrics"};
  std::set<std::string> without;
  for (const server::Route& route : s().router().routes()) {
    if (route.permission.empty()) without.insert(route.operation_id);
    if (!route.permission.empty() && route.permission != "member" &&
        route.permission != "operator") {
      EXPECT_TRUE(auth::ParsePermission(route.permission).has_value()) << route.permission;
    }
  }
  std::set<std::string> expected = kPublic;
  expected.insert(kAuthenticatedOnly.begin(), kAuthenticatedOnly.end());
  EXPECT_EQ(without, expected);
  for (const server::Route& route : s().router().routes()) {
    if (!kAuthenticatedOnly.count(route.operation_id)) continue;
    s().ResetLimits();
    HttpResponse r = s().Do(route.method, route.pattern);
    EXPECT_EQ(r.status, 401) << route.pattern;
    r = s().Do(route.method, route.pattern, Bearer("rpk_garbage"));
    EXPECT_EQ(r.status, 401) << route.pattern;
  }
  for (const char* path : {"/healthz", "/readyz", "/v1/openapi.json"}) {
    EXPECT_EQ(s().Do("GET", path).status, 200) << path;
  }
}

// spec/interfaces.md: request bodies are allowlisted per endpoint; unknown fields are a
// 400, never silently applied. That holds for the routes that take no body fields at all
// (cancel, create/rotate a trigger URL, deletes, logout) as much as for the others.
TEST_F(ApiTest, UnknownBodyFieldsAreRefusedOnEveryRoute) {
  // A workflow of this test; every other id names nothing (the body is checked first).
  const std::string workflow = "body-allowlist";
  HttpResponse r = s().Do("POST", A() + "/workflows", Bearer(c().owner_rw_key),
                          WorkflowYaml(workflow), "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  int checked = 0;
  for (const server::Route& route : s().router().routes()) {
    const std::string op = route.operation_id;
    // GET has no body; a trigger URL and a public workflow take the caller's payload.
    if (route.method == "GET" || op == "receiveWebhook" || op == "runPublicWorkflow") continue;
    std::string path = Replace(route.pattern, "{org}", c().org_a);
    path = Replace(path, "/workflows/{id}", "/workflows/" + workflow);
    for (const char* param : {"{id}", "{user}", "{run_id}", "{hook_id}"}) {
      path = Replace(path, param, "nothing_here");
    }
    // The account routes take the operator's master key; the others an owner's key.
    const HttpHeaders caller = route.permission == "operator"
                                   ? Bearer(std::string(kMasterKey) + ":" + c().owner_id)
                                   : Bearer(c().owner_rw_key);
    r = s().Do(route.method, path, caller, R"({"unexpected_field": true})");
    SCOPED_TRACE(route.method + " " + route.pattern + " -> " + std::to_string(r.status) + " " +
                 r.body.substr(0, 200));
    ++checked;
    EXPECT_EQ(r.status, 400);
    if (op == "createWorkflow" || op == "updateWorkflow") {
      EXPECT_EQ(ErrorCodeOf(r), "invalid_definition");  // the body is a definition
    } else {
      EXPECT_EQ(ErrorCodeOf(r), "invalid_argument");
      EXPECT_NE(ErrorMessageOf(r).find("unexpected_field"), std::string::npos);
    }
  }
  EXPECT_GT(checked, 20);
  // An empty object is no unknown field: a body-less route accepts it.
  r = s().Do("POST", A() + "/workflows/" + workflow + "/webhooks", Bearer(c().owner_rw_key), "{}");
  EXPECT_EQ(r.status, 201) << r.body;
}

// ---------------------------------------------------------------------------------------
// 2. API key lifecycle

bj::object FindById(const bj::value& list, const std::string& id) {
  for (const auto& item : list.at("items").as_array()) {
    if (Str(item, "id") == id) return item.as_object();
  }
  return {};
}

TEST_F(ApiTest, ApiKeyLifecycle) {
  HttpResponse r = s().Do("POST", A() + "/api-keys", c().owner_session.headers(),
                          R"({"name": "life", "scope": "read_write"})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string key = Str(Json(r), "key");
  std::string id = Str(Json(r), "id");
  ASSERT_TRUE(crypto::ApiKeyWellFormed(key)) << key;
  std::string hint = Str(Json(r), "hint");
  EXPECT_FALSE(hint.empty());
  EXPECT_EQ(hint.find(key.substr(8, 30)), std::string::npos) << "hint shows too much";

  // Listed without the key, with its hint.
  r = s().Do("GET", A() + "/api-keys?limit=200", c().owner_session.headers());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find(key), std::string::npos);
  const bj::value key_list = Json(r);
  for (const auto& item : key_list.at("items").as_array()) {
    EXPECT_FALSE(item.as_object().contains("key")) << bj::serialize(item);
    EXPECT_FALSE(item.as_object().contains("hash")) << bj::serialize(item);
  }
  bj::object listed = FindById(Json(r), id);
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(Str(listed, "hint"), hint);
  EXPECT_TRUE(listed["last_used_at"].is_null());

  // Use: last_used_at is set.
  EXPECT_EQ(s().Do("GET", A(), Bearer(key)).status, 200);
  r = s().Do("GET", A() + "/api-keys?limit=200", c().owner_session.headers());
  EXPECT_FALSE(FindById(Json(r), id)["last_used_at"].is_null()) << r.body;

  // A read key cannot write.
  r = s().Do("POST", A() + "/workflows", Bearer(c().owner_read_key), WorkflowYaml("ro-1"),
             "application/yaml");
  EXPECT_EQ(r.status, 403);
  r = s().Do("POST", A() + "/api-keys", Bearer(c().owner_read_key), R"({"name": "x"})");
  EXPECT_EQ(r.status, 403);

  // Revoke: the next use is a 401.
  r = s().Do("DELETE", A() + "/api-keys/" + id, c().owner_session.headers());
  EXPECT_EQ(r.status, 200) << r.body;
  r = s().Do("GET", A(), Bearer(key));
  EXPECT_EQ(r.status, 401);
  r = s().Do("DELETE", A() + "/api-keys/key_doesnotexist00000000", c().owner_session.headers());
  EXPECT_EQ(r.status, 404);

  // Expiry.
  r = s().Do("POST", A() + "/api-keys", c().owner_session.headers(),
             R"({"name": "past", "expires_at": "2020-01-01T00:00:00Z"})");
  EXPECT_EQ(r.status, 400) << r.body;
  // Any RFC 3339 time: an offset names the same instant, shown back in UTC.
  r = s().Do("POST", A() + "/api-keys", c().owner_session.headers(),
             R"({"name": "tz", "expires_at": "2099-01-01T00:00:00+02:00"})");
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Str(Json(r), "expires_at"), "2098-12-31T22:00:00.000Z");
  ASSERT_EQ(s().Do("DELETE", A() + "/api-keys/" + Str(Json(r), "id"), Bearer(c().owner_rw_key))
                .status,
            200);
  // What is not one is refused, never read as some other time.
  for (const char* bad : {"2099-01-01T00:00:00 and then some Z", "2099-13-01T00:00:00Z",
                          "2099-02-30T00:00:00Z", "2099-01-01", "4102444800", "tomorrow"}) {
    r = s().Do("POST", A() + "/api-keys", c().owner_session.headers(),
               bj::serialize(bj::object{{"name", "bad"}, {"expires_at", bad}}));
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument");
  }
  r = s().Do("POST", A() + "/api-keys", c().owner_session.headers(),
             R"({"name": "future", "expires_at": "2031-01-01T00:00:00Z"})");
  ASSERT_EQ(r.status, 201) << r.body;
  std::string future_key = Str(Json(r), "key");
  EXPECT_EQ(s().Do("GET", A(), Bearer(future_key)).status, 200);
  s().clock().AdvanceWall(std::chrono::hours(24 * 366));  // past 2031-01-01
  EXPECT_EQ(s().Do("GET", A(), Bearer(future_key)).status, 401);
  s().clock().AdvanceWall(-std::chrono::hours(24 * 366));
  EXPECT_EQ(s().Do("GET", A(), Bearer(future_key)).status, 200);
  EXPECT_EQ(s().Do("GET", A(), Bearer(c().expired_key)).status, 401);

  // A key stops working when its creator leaves the org.
  std::string leaver = InsertUser(s(), "leaver@a.test", c().org_a, "developer");
  std::string leaver_key = InsertKey(s(), c().org_a, leaver, "read_write").first;
  EXPECT_EQ(s().Do("GET", A() + "/workflows", Bearer(leaver_key)).status, 200);
  r = s().Do("DELETE", A() + "/members/" + leaver, c().owner_session.headers());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(s().Do("GET", A() + "/workflows", Bearer(leaver_key)).status, 401);

  // Other org's key, unknown and typo'd keys.
  r = s().Do("GET", A() + "/workflows", Bearer(c().owner_b_key));
  EXPECT_EQ(r.status, 404);
  s().ResetLimits();
  HttpResponse none = s().Do("GET", A());
  std::string typo = c().owner_rw_key;
  typo[10] = typo[10] == 'x' ? 'y' : 'x';
  for (const std::string& bad : {crypto::NewApiKey(SystemRandom()), typo,
                                 c().owner_rw_key.substr(0, c().owner_rw_key.size() - 1),
                                 c().owner_rw_key + "A", std::string("rpk_")}) {
    r = s().Do("GET", A(), Bearer(bad));
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(ErrorCodeOf(r), ErrorCodeOf(none));
    EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(none));
  }
}

TEST_F(ApiTest, AtMostFiftyActiveKeysPerOrg) {
  std::string org = NewId("org_");
  Status st = s().store().Write([&](store::Tx& tx) {
    return tx.InsertOrg({.id = org, .slug = "org-c", .name = "Org C", .max_concurrent_runs = 10,
                         .created_at = s().now_ms()});
  });
  ASSERT_TRUE(st.ok());
  std::string owner = InsertUser(s(), "owner@c.test", org, "owner");
  std::string key = InsertKey(s(), org, owner, "read_write").first;
  const std::string base = "/v1/orgs/" + org + "/api-keys";
  std::string last_id;
  for (int i = 2; i <= 50; ++i) {
    HttpResponse r = s().Do("POST", base, Bearer(key), R"({"name": "k"})");
    ASSERT_EQ(r.status, 201) << i << ": " << r.body;
    last_id = Str(Json(r), "id");
  }
  HttpResponse r = s().Do("POST", base, Bearer(key), R"({"name": "k51"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "conflict");
  // Revoked keys do not count.
  EXPECT_EQ(s().Do("DELETE", base + "/" + last_id, Bearer(key)).status, 200);
  EXPECT_EQ(s().Do("POST", base, Bearer(key), R"({"name": "again"})").status, 201);
}

// ---------------------------------------------------------------------------------------
// 3. Sessions and CSRF

TEST_F(ApiTest, SessionCookieCsrfAndLogout) {
  HttpResponse r = s().Do("POST", "/v1/auth/login", {},
                          bj::serialize(bj::object{{"email", "OWNER@a.test"},
                                                   {"password", kPassword}}));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string set_cookie = r.Header("Set-Cookie").value_or("");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "Secure without TLS: " << set_cookie;
  EXPECT_EQ(set_cookie.rfind(std::string(auth::kSessionCookie) + "=rss_", 0), 0u) << set_cookie;
  Session session{set_cookie.substr(0, set_cookie.find(';')), Str(Json(r), "csrf_token")};
  ASSERT_FALSE(session.csrf.empty());
  EXPECT_EQ(r.body.find(session.cookie.substr(session.cookie.find('=') + 1)), std::string::npos)
      << "the session token is in the body";

  const std::string publish = A() + "/workflows/" + c().workflow_id + "/publish";
  // Reads need no CSRF token.
  EXPECT_EQ(s().Do("GET", A(), {{"Cookie", session.cookie}}).status, 200);
  r = s().Do("POST", publish, {{"Cookie", session.cookie}}, R"({"version": 1})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
  r = s().Do("POST", publish, {{"Cookie", session.cookie}, {"X-CSRF-Token", "csr_wrong"}},
             R"({"version": 1})");
  EXPECT_EQ(r.status, 403);
  r = s().Do("POST", publish, {{"Cookie", session.cookie}, {"X-CSRF-Token", c().dev_session.csrf}},
             R"({"version": 1})");
  EXPECT_EQ(r.status, 403) << "another session's CSRF token was accepted";
  r = s().Do("POST", publish, session.headers(), R"({"version": 1})");
  EXPECT_EQ(r.status, 200) << r.body;

  // Logout needs the CSRF token too, then the cookie is dead.
  EXPECT_EQ(s().Do("POST", "/v1/auth/logout", {{"Cookie", session.cookie}}).status, 403);
  r = s().Do("POST", "/v1/auth/logout", session.headers());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("Set-Cookie").value_or("").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(s().Do("GET", A(), {{"Cookie", session.cookie}}).status, 401);
  EXPECT_EQ(s().Do("GET", "/v1/orgs", {{"Cookie", session.cookie}}).status, 401);
  EXPECT_EQ(s().Do("POST", publish, session.headers(), R"({"version": 1})").status, 401);
}

TEST_F(ApiTest, FailedLoginsLookTheSame) {
  HttpResponse wrong_password = s().Do(
      "POST", "/v1/auth/login", {},
      bj::serialize(bj::object{{"email", "owner@a.test"}, {"password", "not the password!"}}));
  HttpResponse unknown_email = s().Do(
      "POST", "/v1/auth/login", {},
      bj::serialize(bj::object{{"email", "nobody@a.test"}, {"password", kPassword}}));
  HttpResponse missing = s().Do("POST", "/v1/auth/login", {}, R"({"email": "owner@a.test"})");
  HttpResponse none = s().Do("GET", A());
  for (const HttpResponse* r : {&wrong_password, &unknown_email, &missing}) {
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(ErrorCodeOf(*r), ErrorCodeOf(none));
    EXPECT_EQ(ErrorMessageOf(*r), ErrorMessageOf(none));
    EXPECT_EQ(r->HeaderCount("Set-Cookie"), 0u);
  }
  // Unknown body fields are refused, not ignored.
  HttpResponse extra = s().Do("POST", "/v1/auth/login", {},
                              bj::serialize(bj::object{{"email", "owner@a.test"},
                                                       {"password", kPassword},
                                                       {"admin", true}}));
  EXPECT_EQ(extra.status, 400);
}

// Password checks run on a bounded pool of their own: a burst of logins past its backlog
// is refused at once with 429 + Retry-After (not queued without end, nor run on the io
// threads or in a write transaction); the logins it took succeed.
TEST_F(ApiTest, ALoginBurstPastThePasswordBacklogIsRefused) {
  constexpr int kLogins = 80;
  const std::string body =
      bj::serialize(bj::object{{"email", "owner@a.test"}, {"password", kPassword}});
  std::vector<int> statuses(kLogins, 0);
  std::vector<std::string> codes(kLogins);
  // Not vector<bool>: its elements share words, and each thread writes its own element.
  std::vector<char> retry_after(kLogins, 0);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kLogins; ++i) {
    threads.emplace_back([&, i] {
      testing::HttpClient client("127.0.0.1", s().port(),
                                 testing::HttpClientOptions{.timeout = seconds(120)});
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      auto r = client.Request("POST", "/v1/auth/login", {{"Content-Type", "application/json"}}, body);
      if (!r.ok()) return;
      statuses[i] = r->status;
      retry_after[i] = r->Header("Retry-After").has_value();
      if (r->status != 200) codes[i] = ErrorCodeOf(*r);
    });
  }
  while (ready.load() < kLogins) std::this_thread::yield();
  go = true;
  for (auto& t : threads) t.join();
  int ok = 0;
  int refused = 0;
  for (int i = 0; i < kLogins; ++i) {
    if (statuses[i] == 200) {
      ++ok;
    } else {
      EXPECT_EQ(statuses[i], 429) << i;
      EXPECT_EQ(codes[i], "rate_limited") << i;
      EXPECT_TRUE(retry_after[i]) << i;
      ++refused;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, 0);
  // The pool is free again afterwards.
  EXPECT_EQ(s().Do("POST", "/v1/auth/login", {}, body).status, 200);
}

// Adding members: a new user needs a password (hashed off the write transaction) and can
// log in; an existing user is added without one; a member twice is 409; each addition is
// audited with the user as target.
TEST_F(ApiTest, AddMemberRulesAndAudit) {
  const std::string members = A() + "/members";
  HttpResponse r = s().Do("POST", members, c().owner_session.headers(),
                          R"({"email": "nopass@a.test", "role": "developer"})");
  EXPECT_EQ(r.status, 400);
  r = s().Do("POST", members, c().owner_session.headers(),
             R"({"email": "short@a.test", "role": "developer", "password": "too short"})");
  EXPECT_EQ(r.status, 400);
  r = s().Do("POST", members, c().owner_session.headers(),
             R"({"email": "dev@a.test", "role": "developer"})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = s().Do("POST", members, c().owner_session.headers(),
             bj::serialize(bj::object{
                 {"email", "New.Member@A.test"}, {"role", "developer"}, {"password", kPassword}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string new_id = Str(Json(r), "user_id");
  EXPECT_EQ(Str(Json(r), "email"), "new.member@a.test");
  EXPECT_TRUE(Login(s(), "new.member@a.test").has_value());
  // An existing user (of org A) joins org B without a password.
  r = s().Do("POST", B() + "/members", Bearer(c().owner_b_key),
             R"({"email": "new.member@a.test", "role": "developer"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Str(Json(r), "user_id"), new_id);
  std::map<std::string, int> added;  // org -> member.add events targeting the new user
  ASSERT_TRUE(s().store()
                  .Read([&](store::Tx& tx) -> Status {
                    auto events = tx.ListAllAudit(0, 100000);
                    if (!events.ok()) return events.error();
                    for (const auto& e : *events) {
                      if (e.action == "member.add" && e.target == new_id) ++added[e.org_id];
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(added[c().org_a], 1);
  EXPECT_EQ(added[c().org_b], 1);
}

TEST_F(ApiTest, RepeatedAuthFailuresAreRateLimitedAndAudited) {
  // Failures on authenticated routes: after the budget, 429 with Retry-After, even for a
  // valid credential from the same source.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s().Do("GET", A(), Bearer("rpk_garbage")).status, 401);
  HttpResponse r = s().Do("GET", A(), Bearer("rpk_garbage"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(ErrorCodeOf(r), "rate_limited");
  EXPECT_TRUE(r.Header("Retry-After").has_value());
  r = s().Do("GET", A(), Bearer(c().owner_rw_key));
  EXPECT_EQ(r.status, 429);
  s().ResetLimits();
  EXPECT_EQ(s().Do("GET", A(), Bearer(c().owner_rw_key)).status, 200);

  int64_t failed = 0;
  Status st = s().store().Read([&](store::Tx& tx) -> Status {
    auto events = tx.ListAllAudit(0, 100000);
    if (!events.ok()) return events.error();
    for (const auto& e : *events) {
      if (e.action == "auth.failed") {
        ++failed;
        EXPECT_EQ(e.outcome, "failure");
        EXPECT_EQ(e.source_ip, "127.0.0.1");
      }
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_GE(failed, 10);
}

// Password guessing on /v1/auth/login is never throttled: Dispatch checks the limiter only
// for routes whose access is not kNone, and login is kNone (src/api/api.cc, Dispatch).
TEST_F(ApiTest, RepeatedFailedLoginsAreRateLimited) {
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = s().Do(
        "POST", "/v1/auth/login", {},
        bj::serialize(bj::object{{"email", "owner@a.test"}, {"password", "guess " + std::to_string(i)}}));
    EXPECT_EQ(r.status, 401);
  }
  HttpResponse r = s().Do(
      "POST", "/v1/auth/login", {},
      bj::serialize(bj::object{{"email", "owner@a.test"}, {"password", "guess 11"}}));
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_TRUE(r.Header("Retry-After").has_value());
  s().ResetLimits();
}

// spec/security.md 2: idle AND absolute expiry. A session kept busy (never idle) still
// ends at its absolute limit (the fixture's: 48 h), for reads and writes alike.
TEST_F(ApiTest, BusySessionEndsAtItsAbsoluteExpiry) {
  auto session = Login(s(), "dev@a.test", kDevPassword);
  ASSERT_TRUE(session.has_value());
  for (int i = 0; i < 2; ++i) {
    s().clock().AdvanceWall(std::chrono::hours(20));  // under the 24 h idle limit
    EXPECT_EQ(s().Do("GET", A(), session->headers()).status, 200) << "after " << 20 * (i + 1)
                                                                   << " h";
  }
  s().clock().AdvanceWall(std::chrono::hours(9));  // 49 h since login, 9 h since last use
  HttpResponse r = s().Do("GET", A(), session->headers());
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "unauthenticated");
  r = s().Do("POST", A() + "/api-keys", session->headers(), R"({"name": "late", "scope": "read"})");
  EXPECT_EQ(r.status, 401) << r.body;
  s().clock().AdvanceWall(-std::chrono::hours(49));
  s().ResetLimits();
}

TEST_F(ApiTest, SessionIdleExpiryAndLastOwner) {
  auto session = Login(s(), "dev@a.test", kDevPassword);
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(s().Do("GET", A(), session->headers()).status, 200);
  s().clock().AdvanceWall(std::chrono::hours(25));  // idle limit of the fixture: 24 h
  EXPECT_EQ(s().Do("GET", A(), session->headers()).status, 401);
  s().clock().AdvanceWall(-std::chrono::hours(25));
  s().ResetLimits();

  // The last owner can be neither demoted nor removed.
  HttpResponse r = s().Do("PATCH", A() + "/members/" + c().owner_id, Bearer(c().owner_rw_key),
                          R"({"role": "developer"})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = s().Do("DELETE", A() + "/members/" + c().owner_id, Bearer(c().owner_rw_key));
  EXPECT_EQ(r.status, 409) << r.body;
  r = s().Do("PATCH", A() + "/members/" + c().dev_id, Bearer(c().owner_rw_key),
             R"({"role": "admin"})");
  EXPECT_EQ(r.status, 400) << r.body;
  // A developer cannot promote themself.
  r = s().Do("PATCH", A() + "/members/" + c().dev_id, c().dev_session.headers(),
             R"({"role": "owner"})");
  EXPECT_EQ(r.status, 403) << r.body;
}

// Removing a member revokes their API keys of that org for good (ASVS V7.4.2): adding the
// user back, even as an owner, never brings an old key back to life.
TEST_F(ApiTest, RemovedMembersKeysStayDeadWhenTheUserIsAddedBack) {
  const std::string id = InsertUser(s(), "comeback@a.test", c().org_a, "developer");
  auto [key, key_id] = InsertKey(s(), c().org_a, id, "read_write");
  auto [other_org_key, other_org_key_id] = InsertKey(s(), c().org_b, c().owner_b_id, "read");
  ASSERT_EQ(s().Do("GET", A(), Bearer(key)).status, 200);

  HttpResponse r = s().Do("DELETE", A() + "/members/" + id, Bearer(c().owner_rw_key));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(s().Do("GET", A(), Bearer(key)).status, 401);
  r = s().Do("POST", A() + "/members", c().owner_session.headers(),
             R"({"email": "comeback@a.test", "role": "owner"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(s().Do("GET", A(), Bearer(key)).status, 401) << "a removed member's key came back";
  EXPECT_EQ(s().Do("GET", A() + "/workflows", Bearer(key)).status, 401);
  s().ResetLimits();

  // The key is listed as revoked; keys of other members and other orgs are untouched.
  bool listed = false;
  std::string after;
  for (int page = 0; page < 100 && !listed; ++page) {
    r = s().Do("GET", A() + "/api-keys?limit=200" + (after.empty() ? "" : "&cursor=" + after),
               Bearer(c().owner_rw_key));
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    for (const auto& item : v.at("items").as_array()) {
      if (Str(item, "id") == key_id) {
        listed = true;
        EXPECT_FALSE(item.at("revoked_at").is_null());
      }
    }
    if (v.at("next_cursor").is_null()) break;
    after = Str(v, "next_cursor");
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(s().Do("GET", A(), Bearer(c().owner_rw_key)).status, 200);
  EXPECT_EQ(s().Do("GET", A(), Bearer(c().dev_rw_key)).status, 200);
  EXPECT_EQ(s().Do("GET", B(), Bearer(other_org_key)).status, 200);
  r = s().Do("DELETE", A() + "/members/" + id, Bearer(c().owner_rw_key));
  EXPECT_EQ(r.status, 200) << r.body;
}

// An API key request reads its creator's membership and org once (Authenticate) and
// AuthorizeOrg reuses that row in the same transaction: every request still sees the
// store as it is now. Role changes, a removed and re-added membership and a renamed org
// take effect on the next request; a key of org A never reaches org B, even when its
// creator is an owner there.
TEST_F(ApiTest, ApiKeyAccessFollowsTheStoreOnTheNextRequest) {
  const std::string id = InsertUser(s(), "follows@a.test", c().org_a, "developer");
  ASSERT_TRUE(s().store().Write([&](store::Tx& tx) {
                       return tx.UpsertMembership({c().org_b, id, "owner", s().now_ms()});
                     }).ok());
  const HttpHeaders key = Bearer(InsertKey(s(), c().org_a, id, "read_write").first);
  auto set_role = [&](const std::string& role) {
    ASSERT_TRUE(s().store().Write([&](store::Tx& tx) {
                         return tx.UpsertMembership({c().org_a, id, role, s().now_ms()});
                       }).ok());
  };
  EXPECT_EQ(s().Do("GET", A(), key).status, 200);
  EXPECT_EQ(s().Do("GET", A() + "/api-keys", key).status, 403) << "a developer's key";
  EXPECT_EQ(s().Do("GET", B(), key).status, 404) << "org A's key in org B";
  EXPECT_EQ(s().Do("GET", B() + "/api-keys", key).status, 404);

  set_role("owner");
  EXPECT_EQ(s().Do("GET", A() + "/api-keys", key).status, 200) << "promotion";
  EXPECT_EQ(s().Do("GET", B(), key).status, 404);
  set_role("developer");
  EXPECT_EQ(s().Do("GET", A() + "/api-keys", key).status, 403) << "demotion";

  // The org in the answer is the org row of this request's read.
  HttpResponse r = s().Do("GET", A(), key);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string name = Str(Json(r), "name");
  ASSERT_FALSE(name.empty()) << r.body;
  auto rename = [&](const std::string& to) {
    ASSERT_TRUE(s().store().Write([&](store::Tx& tx) -> Status {
                         auto org = tx.GetOrg(c().org_a);
                         if (!org.ok()) return org.error();
                         store::Org renamed = **org;
                         renamed.name = to;
                         return tx.UpdateOrg(renamed);
                       }).ok());
  };
  rename("Org A renamed");
  r = s().Do("GET", A(), key);
  EXPECT_EQ(Str(Json(r), "name"), "Org A renamed") << r.body;
  rename(name);

  // Membership removed in the store (the key itself stays unrevoked): dead at once;
  // back when the membership is.
  ASSERT_TRUE(s().store().Write([&](store::Tx& tx) -> Status {
                       auto removed = tx.DeleteMembership(c().org_a, id);
                       return removed.ok() ? Status::Ok() : Status(removed.error());
                     }).ok());
  EXPECT_EQ(s().Do("GET", A(), key).status, 401);
  EXPECT_EQ(s().Do("GET", B(), key).status, 401);
  s().ResetLimits();
  set_role("developer");
  EXPECT_EQ(s().Do("GET", A(), key).status, 200);
  EXPECT_EQ(s().Do("GET", A() + "/api-keys", key).status, 403);
}

// AuthorizeOrg takes a membership row read earlier in the same transaction only when it
// is the principal's own membership of the org asked for; otherwise it reads the store.
TEST_F(ApiTest, AuthorizeOrgReusesOnlyTheCallersOwnMembershipOfThatOrg) {
  auth::Principal dev;
  dev.kind = auth::Principal::Kind::kSession;
  dev.user_id = c().dev_id;
  std::optional<store::Org> org_a, org_b;
  ASSERT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                       auto a = tx.GetOrg(c().org_a);
                       auto b = tx.GetOrg(c().org_b);
                       if (!a.ok() || !b.ok()) return MakeError(ErrorCode::kInternal, "read");
                       org_a = *a;
                       org_b = *b;
                       return Status::Ok();
                     }).ok());
  ASSERT_TRUE(org_a.has_value() && org_b.has_value());
  // Rows that claim "owner" but are not the developer's membership of org A.
  const store::MemberOrg owner_of_a{{c().org_a, c().owner_id, "owner", 0}, *org_a};
  const store::MemberOrg dev_of_b{{c().org_b, c().dev_id, "owner", 0}, *org_b};
  const store::MemberOrg dev_of_a{{c().org_a, c().dev_id, "owner", 0}, *org_a};
  ASSERT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                       for (const store::MemberOrg* other : {&owner_of_a, &dev_of_b}) {
                         auto access = auth::AuthorizeOrg(tx, dev, c().org_a, std::nullopt, other);
                         EXPECT_TRUE(access.ok());
                         if (access.ok()) {
                           EXPECT_EQ(access->role, "developer") << "read from the store";
                           EXPECT_EQ(access->org.id, c().org_a);
                         }
                         auto denied = auth::AuthorizeOrg(tx, dev, c().org_a,
                                                          auth::Permission::kApiKeysRead, other);
                         EXPECT_FALSE(denied.ok());
                         if (!denied.ok()) {
                           EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
                         }
                       }
                       // Not a member of B: the row of A does not make it one.
                       auto b = auth::AuthorizeOrg(tx, dev, c().org_b, std::nullopt, &dev_of_a);
                       EXPECT_FALSE(b.ok());
                       if (!b.ok()) {
                         EXPECT_EQ(b.error().code, ErrorCode::kNotFound);
                       }
                       // Its own row of that org is what the caller read in this transaction.
                       auto own = auth::AuthorizeOrg(tx, dev, c().org_a, std::nullopt, &dev_of_a);
                       EXPECT_TRUE(own.ok() && own->role == "owner");
                       return Status::Ok();
                     }).ok());
}

// ---------------------------------------------------------------------------------------
// 3b. Password change (ASVS V6, V7.4): POST /v1/auth/password

// The audit events of `action` for `target`, every org's.
std::vector<store::AuditEvent> EventsOf(TestServer& s, const std::string& action,
                                        const std::string& target) {
  std::vector<store::AuditEvent> out;
  Status st = s.store().Read([&](store::Tx& tx) -> Status {
    auto events = tx.ListAllAudit(0, 100000);
    if (!events.ok()) return events.error();
    for (const auto& e : *events) {
      if (e.action == action && e.target == target) out.push_back(e);
    }
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok());
  return out;
}

std::string StoredHash(TestServer& s, const std::string& user_id) {
  std::string hash;
  Status st = s.store().Read([&](store::Tx& tx) -> Status {
    auto user = tx.GetUser(user_id);
    if (!user.ok()) return user.error();
    if (user->has_value()) hash = (*user)->password_hash;
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok());
  return hash;
}

// A successful change ends every other session of the user at once, in every org, and
// replaces the caller's own (new cookie and CSRF token; the old pair is dead); the old
// password stops working, the user's API keys keep working, and each org of the user
// audits the change. The answer carries the user, never a hash.
TEST_F(ApiTest, PasswordChangeEndsEveryOtherSessionAndRotatesTheCallers) {
  const std::string id = InsertUser(s(), "changer@a.test", c().org_a, "developer");
  ASSERT_TRUE(s().store().Write([&](store::Tx& tx) {
                       return tx.UpsertMembership({c().org_b, id, "developer", s().now_ms()});
                     }).ok());
  auto [key, key_id] = InsertKey(s(), c().org_a, id, "read");
  auto caller = Login(s(), "changer@a.test");
  auto other = Login(s(), "changer@a.test");
  auto third = Login(s(), "changer@a.test");
  ASSERT_TRUE(caller && other && third);
  const std::string old_hash = StoredHash(s(), id);
  const std::string next = "a brand new passphrase";

  HttpResponse r = ChangePassword(s(), caller->headers(), kPassword, next);
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value body = Json(r);
  ASSERT_TRUE(body.as_object().contains("user")) << r.body;
  EXPECT_EQ(Str(body.at("user"), "id"), id);
  EXPECT_EQ(Str(body.at("user"), "email"), "changer@a.test");
  EXPECT_EQ(body.at("user").at("must_change_password"), bj::value(false));
  EXPECT_EQ(r.body.find("$argon2"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("hash"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(next), std::string::npos) << r.body;
  const Session fresh = SessionOf(r);
  const std::string set_cookie = r.Header("Set-Cookie").value_or("");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
  ASSERT_EQ(fresh.cookie.rfind(std::string(auth::kSessionCookie) + "=rss_", 0), 0u) << set_cookie;
  EXPECT_NE(fresh.cookie, caller->cookie);
  EXPECT_NE(fresh.csrf, caller->csrf);

  // The other sessions, and the caller's old one, are dead at once, in both orgs.
  for (const Session* dead : {&*other, &*third, &*caller}) {
    s().ResetLimits();  // 4 failures each: stay under the budget
    EXPECT_EQ(s().Do("GET", A(), dead->headers()).status, 401);
    EXPECT_EQ(s().Do("GET", B(), dead->headers()).status, 401);
    EXPECT_EQ(s().Do("GET", "/v1/orgs", dead->headers()).status, 401);
    EXPECT_EQ(ChangePassword(s(), dead->headers(), next, "yet another passphrase").status, 401);
  }
  s().ResetLimits();
  // The new session works, with its own CSRF token only.
  EXPECT_EQ(s().Do("GET", A(), fresh.headers()).status, 200);
  EXPECT_EQ(s().Do("GET", B(), fresh.headers()).status, 200);
  EXPECT_EQ(s().Do("POST", "/v1/auth/logout", {{"Cookie", fresh.cookie}, {"X-CSRF-Token", caller->csrf}})
                .status,
            403);
  // The old password is gone, the new one logs in; the stored hash is a new Argon2id hash.
  EXPECT_FALSE(Login(s(), "changer@a.test").has_value());
  EXPECT_TRUE(Login(s(), "changer@a.test", next).has_value());
  s().ResetLimits();
  const std::string new_hash = StoredHash(s(), id);
  EXPECT_NE(new_hash, old_hash);
  EXPECT_EQ(new_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(crypto::VerifyPassword(new_hash, next));
  // API keys are not derived from the password: they stay valid.
  EXPECT_EQ(s().Do("GET", A(), Bearer(key)).status, 200);

  // Audited once in each org of the user, as a success by the user; no password in it.
  std::map<std::string, int> per_org;
  for (const auto& e : EventsOf(s(), "auth.password_change", id)) {
    if (e.outcome != "success") continue;
    ++per_org[e.org_id];
    EXPECT_EQ(e.actor, "user:" + id);
    EXPECT_EQ(e.source_ip, "127.0.0.1");
    EXPECT_EQ(e.details.find(next), std::string::npos);
    EXPECT_EQ(e.details.find(kPassword), std::string::npos);
    EXPECT_NE(e.details.find("\"other_sessions_revoked\":2"), std::string::npos) << e.details;
  }
  EXPECT_EQ(per_org, (std::map<std::string, int>{{c().org_a, 1}, {c().org_b, 1}}));
  EXPECT_EQ(s().Do("POST", "/v1/auth/logout", fresh.headers()).status, 200);
}

// A wrong current password is a failed authentication: the 401 of every other one, the
// password and the session unchanged, audited as auth.password_change failure in the
// user's org (never with the guess), and counted against the source: past the budget the
// source gets 429, even with the right password.
TEST_F(ApiTest, WrongCurrentPasswordIsAFailedAuthentication) {
  const std::string id = InsertUser(s(), "guessed@a.test", c().org_a, "developer");
  auto session = Login(s(), "guessed@a.test");
  ASSERT_TRUE(session.has_value());
  const std::string hash = StoredHash(s(), id);
  const HttpResponse none = s().Do("GET", A());
  s().ResetLimits();  // that 401 counted too

  HttpResponse r = ChangePassword(s(), session->headers(), "a wrong guess 0", "new passphrase 1234");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), ErrorCodeOf(none));
  EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(none));
  EXPECT_EQ(r.HeaderCount("Set-Cookie"), 0u);
  std::vector<store::AuditEvent> failures = EventsOf(s(), "auth.password_change", id);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].outcome, "failure");
  EXPECT_EQ(failures[0].org_id, c().org_a);
  EXPECT_EQ(failures[0].actor, "user:" + id);
  EXPECT_EQ(failures[0].details.find("wrong guess"), std::string::npos) << failures[0].details;
  EXPECT_EQ(failures[0].details.find("new passphrase"), std::string::npos) << failures[0].details;
  // The failure did not end the session or change the password.
  EXPECT_EQ(s().Do("GET", A(), session->headers()).status, 200);
  EXPECT_EQ(StoredHash(s(), id), hash);

  // 10 failures a minute per source (the fixture's budget): the first one above, 9 more.
  for (int i = 1; i < 10; ++i) {
    r = ChangePassword(s(), session->headers(), "a wrong guess " + std::to_string(i),
                       "new passphrase 1234");
    EXPECT_EQ(r.status, 401) << i << ": " << r.body;
  }
  r = ChangePassword(s(), session->headers(), kPassword, "new passphrase 1234");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "rate_limited");
  EXPECT_TRUE(r.Header("Retry-After").has_value());
  EXPECT_EQ(StoredHash(s(), id), hash);
  s().ResetLimits();
  EXPECT_EQ(ChangePassword(s(), session->headers(), kPassword, "new passphrase 1234").status, 200);
}

// The new password follows the policy of added members (12 to 1024 characters) and must
// differ from the current one: 400 invalid_argument, nothing changed, no failure counted.
TEST_F(ApiTest, NewPasswordPolicy) {
  const std::string id = InsertUser(s(), "policy@a.test", c().org_a, "developer");
  auto session = Login(s(), "policy@a.test");
  ASSERT_TRUE(session.has_value());
  const std::string hash = StoredHash(s(), id);
  const std::string long_password(1025, 'x');
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"too short", R"({"current_password": "correct horse battery staple", "new_password": "11 chars ok"})"},
      {"same", bj::serialize(bj::object{{"current_password", kPassword}, {"new_password", kPassword}})},
      {"too long", bj::serialize(bj::object{{"current_password", kPassword}, {"new_password", long_password}})},
      {"empty", bj::serialize(bj::object{{"current_password", kPassword}, {"new_password", ""}})},
      {"missing new", bj::serialize(bj::object{{"current_password", kPassword}})},
      {"missing current", bj::serialize(bj::object{{"new_password", "a good new passphrase"}})},
      {"not a string", R"({"current_password": "correct horse battery staple", "new_password": 123456789012})"},
  };
  for (int round = 0; round < 2; ++round) {  // twice the budget: none of them counts
    for (const auto& [name, body] : bad) {
      HttpResponse r = s().Do("POST", "/v1/auth/password", session->headers(), body);
      EXPECT_EQ(r.status, 400) << name << ": " << r.body;
      EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << name;
    }
  }
  EXPECT_EQ(StoredHash(s(), id), hash);
  EXPECT_EQ(s().Do("GET", A(), session->headers()).status, 200);
  // Exactly 12 characters is enough.
  EXPECT_EQ(ChangePassword(s(), session->headers(), kPassword, "twelve chars").status, 200);
}

// Only a person's password session changes a password: API keys, the master key and JWTs
// get 403 even with the right current password, which stays unchanged; a session needs its
// CSRF token (403 without it or with another session's).
TEST_F(ApiTest, PasswordChangeNeedsAPasswordSessionAndItsCsrfToken) {
  const std::string owner_hash = StoredHash(s(), c().owner_id);
  const std::string dev_hash = StoredHash(s(), c().dev_id);
  const std::vector<std::pair<std::string, HttpHeaders>> refused = {
      {"owner read_write key", Bearer(c().owner_rw_key)},
      {"owner read key", Bearer(c().owner_read_key)},
      {"master key as the owner", Bearer(std::string(kMasterKey) + ":" + c().owner_id)},
  };
  for (const auto& [name, headers] : refused) {
    HttpResponse r = ChangePassword(s(), headers, kPassword, "an attacker's passphrase");
    EXPECT_EQ(r.status, 403) << name << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "permission_denied") << name;
  }
  const std::string jwt(JwtFixture().at("tokens").at("valid_rs256").as_string());
  HttpResponse r = ChangePassword(s(), Bearer(jwt), kPassword, "an attacker's passphrase");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
  r = ChangePassword(s(), Bearer(std::string(kMasterKey) + ":" + c().dev_id), kDevPassword,
                     "an attacker's passphrase");
  EXPECT_EQ(r.status, 403) << r.body;

  // CSRF: the cookie alone, a wrong token, another session's token.
  const std::string cookie = c().owner_session.cookie;
  for (const HttpHeaders& headers :
       {HttpHeaders{{"Cookie", cookie}}, HttpHeaders{{"Cookie", cookie}, {"X-CSRF-Token", "csr_wrong"}},
        HttpHeaders{{"Cookie", cookie}, {"X-CSRF-Token", c().dev_session.csrf}}}) {
    r = ChangePassword(s(), headers, kPassword, "an attacker's passphrase");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
  }
  EXPECT_EQ(StoredHash(s(), c().owner_id), owner_hash);
  EXPECT_EQ(StoredHash(s(), c().dev_id), dev_hash);
  EXPECT_EQ(s().Do("GET", A(), c().owner_session.headers()).status, 200);
  EXPECT_EQ(s().Do("GET", A(), c().dev_session.headers()).status, 200);
}

// A member whose password the owner chose must change it first: their session may only
// change it, log out and list its orgs (403 naming the reason elsewhere; the 404 of an org
// they are not in stays a 404). The login and the change show the flag; after the change
// the member works normally. The setup owner, who chose their own password, is not flagged.
TEST_F(ApiTest, MemberAddedWithAPasswordMustChangeItFirst) {
  HttpResponse r = s().Do("POST", A() + "/members", c().owner_session.headers(),
                          bj::serialize(bj::object{{"email", "flagged@a.test"},
                                                   {"role", "owner"},
                                                   {"password", kPassword}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = Str(Json(r), "user_id");
  r = s().Do("POST", "/v1/auth/login", {},
             bj::serialize(bj::object{{"email", "flagged@a.test"}, {"password", kPassword}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("user").at("must_change_password"), bj::value(true));
  const Session flagged = SessionOf(r);
  auto second = Login(s(), "flagged@a.test");
  ASSERT_TRUE(second.has_value());

  // Everything else is refused, reads and writes, org routes and not.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", A()}, {"GET", A() + "/workflows"}, {"GET", A() + "/audit"},
           {"GET", A() + "/members"}, {"POST", A() + "/api-keys"}, {"GET", "/metrics"},
           {"PATCH", A()}}) {
    std::string body = method == "POST" ? R"({"name": "k"})" : method == "PATCH" ? R"({"name": "x"})" : "";
    r = s().Do(method, path, flagged.headers(), body);
    EXPECT_EQ(r.status, 403) << method << " " << path << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
    EXPECT_NE(ErrorMessageOf(r).find("password must be changed"), std::string::npos)
        << ErrorMessageOf(r);
  }
  EXPECT_EQ(s().Do("GET", B(), flagged.headers()).status, 404);
  r = s().Do("GET", "/v1/orgs", flagged.headers());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(c().org_a), std::string::npos);
  EXPECT_EQ(s().Do("POST", "/v1/auth/logout", second->headers()).status, 200);

  r = ChangePassword(s(), flagged.headers(), kPassword, "the member's own passphrase");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("user").at("must_change_password"), bj::value(false));
  const Session fresh = SessionOf(r);
  EXPECT_EQ(s().Do("GET", A(), fresh.headers()).status, 200);
  EXPECT_EQ(s().Do("POST", A() + "/api-keys", fresh.headers(), R"({"name": "mine"})").status, 201);
  r = s().Do("POST", "/v1/auth/login", {},
             bj::serialize(bj::object{{"email", "flagged@a.test"},
                                      {"password", "the member's own passphrase"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("user").at("must_change_password"), bj::value(false));

  // An existing user added to another org keeps their own password: not flagged again.
  r = s().Do("POST", B() + "/members", Bearer(c().owner_b_key),
             R"({"email": "flagged@a.test", "role": "developer"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(s().Do("GET", B(), fresh.headers()).status, 200);

  // The setup owner chose their own password.
  r = s().Do("POST", "/v1/auth/login", {},
             bj::serialize(bj::object{{"email", "owner@a.test"}, {"password", kPassword}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("user").at("must_change_password"), bj::value(false));
  EXPECT_EQ(s().Do("GET", A(), SessionOf(r).headers()).status, 200);
}

// Two changes racing on one session: one wins; the other gets 409 (it passed the check of
// the old password but the password or session changed before it committed) or 401 (it
// started after the winner revoked the session). The stored password is the winner's.
TEST_F(ApiTest, RacingPasswordChangesHaveOneWinner) {
  const std::string id = InsertUser(s(), "racer@a.test", c().org_a, "developer");
  auto session = Login(s(), "racer@a.test");
  ASSERT_TRUE(session.has_value());
  const std::vector<std::string> candidates = {"first new passphrase", "second new passphrase"};
  std::vector<HttpResponse> answers(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      // A client of its own: the server's shared one serves one request at a time.
      testing::HttpClient client("127.0.0.1", s().port(),
                                 testing::HttpClientOptions{.timeout = seconds(60)});
      HttpHeaders headers = session->headers();
      headers.emplace_back("Content-Type", "application/json");
      auto r = client.Request("POST", "/v1/auth/password", headers,
                              bj::serialize(bj::object{{"current_password", kPassword},
                                                       {"new_password", candidates[i]}}));
      if (r.ok()) answers[i] = std::move(r).value();
    });
  }
  for (auto& t : threads) t.join();
  int winner = -1;
  for (int i = 0; i < 2; ++i) {
    if (answers[i].status == 200) {
      EXPECT_EQ(winner, -1) << "two winners";
      winner = i;
    } else {
      EXPECT_TRUE(answers[i].status == 409 || answers[i].status == 401) << answers[i].body;
    }
  }
  ASSERT_NE(winner, -1);
  EXPECT_TRUE(crypto::VerifyPassword(StoredHash(s(), id), candidates[winner]));
  EXPECT_FALSE(crypto::VerifyPassword(StoredHash(s(), id), candidates[1 - winner]));
}

// ---------------------------------------------------------------------------------------
// 4. Setup token (own servers: the shared one is set up already)

TEST(SetupTokenTest, SingleUseFileModeAndWrongToken) {
  TestServer server(ServerConfig{.jwt = false, .master_key = "", .auth_failures_per_minute = 100, .jwks = ""});
  struct stat st {};
  ASSERT_EQ(::stat(server.setup_token_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string token = ReadFile(server.setup_token_path());
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  ASSERT_TRUE(crypto::OpaqueTokenWellFormed(token, crypto::kSetupTokenPrefix)) << token;
  auto body = [&](const std::string& t) {
    return bj::serialize(bj::object{{"setup_token", t},
                                    {"org_name", "First"},
                                    {"email", "first@x.test"},
                                    {"password", kPassword}});
  };
  HttpResponse none = server.Do("GET", "/v1/orgs");
  std::string wrong = token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  HttpResponse r = server.Do("POST", "/v1/setup", {}, body(wrong));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(none));
  EXPECT_EQ(server.Do("POST", "/v1/setup", {}, body("")).status, 401);
  EXPECT_EQ(::access(server.setup_token_path().c_str(), F_OK), 0) << "a wrong token used it up";

  r = server.Do("POST", "/v1/setup", {}, body(token));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(::access(server.setup_token_path().c_str(), F_OK), 0) << "token file left behind";
  r = server.Do("POST", "/v1/setup", {}, body(token));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(none));
  // The owner it made can log in.
  EXPECT_TRUE(Login(server, "first@x.test").has_value());
  // A restart of a set-up store writes no token.
  auto again = api::EnsureSetupToken(server.store(), server.setup_token_path(), server.clock(),
                                     SystemRandom());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "");
}

// spec/interfaces.md: POST /v1/setup {setup_token, org_name, email, password} -> owner +
// org. The answer names both (`owner`; `user` too, as before), and they are what was made.
TEST(SetupTokenTest, AnswersTheOwnerAndTheOrg) {
  TestServer server(ServerConfig{.jwt = false, .master_key = "", .auth_failures_per_minute = 100, .jwks = ""});
  std::string token = ReadFile(server.setup_token_path());
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  HttpResponse r = server.Do("POST", "/v1/setup", {},
                             bj::serialize(bj::object{{"setup_token", token},
                                                      {"org_name", "Acme Corp"},
                                                      {"email", "Boss@Acme.test"},
                                                      {"password", kPassword}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const bj::value v = Json(r);
  ASSERT_TRUE(v.as_object().contains("owner")) << r.body;
  const std::string org = Str(v.at("org"), "id");
  const std::string owner = Str(v.at("owner"), "id");
  EXPECT_EQ(Str(v.at("org"), "name"), "Acme Corp");
  EXPECT_FALSE(Str(v.at("org"), "slug").empty());
  EXPECT_EQ(Str(v.at("owner"), "email"), "boss@acme.test");
  EXPECT_EQ(Str(v.at("owner"), "role"), "owner");
  EXPECT_EQ(v.at("user"), v.at("owner"));
  auto session = Login(server, "boss@acme.test");
  ASSERT_TRUE(session.has_value());
  r = server.Do("GET", "/v1/orgs/" + org + "/members", session->headers());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Json(r).at("items").as_array().size(), 1u);
  EXPECT_EQ(Str(Json(r).at("items").at(0), "user_id"), owner);
  EXPECT_EQ(Str(Json(r).at("items").at(0), "role"), "owner");
}

TEST(SetupTokenTest, RefusedOnceAnOrgExists) {
  TestServer server(ServerConfig{.jwt = false, .master_key = "", .auth_failures_per_minute = 100, .jwks = ""});
  std::string token = ReadFile(server.setup_token_path());
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  Status st = server.store().Write([&](store::Tx& tx) {
    return tx.InsertOrg({.id = NewId("org_"), .slug = "already", .name = "Already",
                         .max_concurrent_runs = 10, .created_at = server.now_ms()});
  });
  ASSERT_TRUE(st.ok());
  HttpResponse r = server.Do("POST", "/v1/setup", {},
                             bj::serialize(bj::object{{"setup_token", token},
                                                      {"org_name", "Second"},
                                                      {"email", "second@x.test"},
                                                      {"password", kPassword}}));
  EXPECT_EQ(r.status, 401) << r.body;
  int64_t orgs = 0;
  ASSERT_TRUE(server.store()
                  .Read([&](store::Tx& tx) -> Status {
                    auto n = tx.CountOrgs();
                    if (!n.ok()) return n.error();
                    orgs = *n;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(orgs, 1);
}

TEST(SetupTokenTest, ExpiresAfterAnHour) {
  TestServer server(ServerConfig{.jwt = false, .master_key = "", .auth_failures_per_minute = 100, .jwks = ""});
  std::string token = ReadFile(server.setup_token_path());
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  server.clock().AdvanceWall(std::chrono::minutes(61));
  HttpResponse r = server.Do("POST", "/v1/setup", {},
                             bj::serialize(bj::object{{"setup_token", token},
                                                      {"org_name", "Late"},
                                                      {"email", "late@x.test"},
                                                      {"password", kPassword}}));
  EXPECT_EQ(r.status, 401) << r.body;
}

// ---------------------------------------------------------------------------------------
// 5. JWT

TEST_F(ApiTest, JwtOfAMemberAndAttackTokens) {
  const bj::object& tokens = JwtFixture().at("tokens").as_object();
  for (const char* name : {"valid_rs256", "valid_es256", "valid_eddsa", "valid_aud_array"}) {
    std::string token(tokens.at(name).as_string());
    HttpResponse r = s().Do("GET", A(), Bearer(token));
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    EXPECT_EQ(Str(Json(r), "role"), "developer") << name;
    EXPECT_EQ(s().Do("GET", A() + "/members", Bearer(token)).status, 200) << name;
    EXPECT_EQ(s().Do("GET", A() + "/audit", Bearer(token)).status, 403) << name;
    EXPECT_EQ(s().Do("GET", B(), Bearer(token)).status, 404) << name;
  }
  HttpResponse none = s().Do("GET", A());
  int attacks = 0;
  for (const auto& entry : tokens) {
    std::string name(entry.key());
    if (name.rfind("valid_", 0) == 0 && name != "valid_no_email") continue;
    s().ResetLimits();
    HttpResponse r = s().Do("GET", A(), Bearer(std::string(entry.value().as_string())));
    EXPECT_EQ(r.status, 401) << name << ": " << r.body;
    EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(none)) << name;
    ++attacks;
  }
  EXPECT_GE(attacks, 30);
  // A valid token whose user is unknown to Rampart.
  std::string ada_token(tokens.at("valid_rs256").as_string());
  s().ResetLimits();
}

TEST(JwtServerTest, JwtUserNotMemberGets404AndUnknownEmail401) {
  TestServer server;
  const bj::object& tokens = JwtFixture().at("tokens").as_object();
  std::string token(tokens.at("valid_rs256").as_string());
  // No user with the email claim at all.
  EXPECT_EQ(server.Do("GET", "/v1/orgs", Bearer(token)).status, 401);
}

// An Ed25519 key of the test's own, to mint tokens with claims the fixtures lack.
class Minter {
 public:
  Minter() : key_(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")) {}
  ~Minter() { EVP_PKEY_free(key_); }
  std::string Jwks() const {
    unsigned char pub[32];
    size_t len = sizeof pub;
    EVP_PKEY_get_raw_public_key(key_, pub, &len);
    bj::object jwk{{"kty", "OKP"}, {"crv", "Ed25519"}, {"kid", "test-1"}, {"alg", "EdDSA"},
                   {"x", crypto::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(pub), len))}};
    return bj::serialize(bj::object{{"keys", bj::array{jwk}}});
  }
  std::string Token(bj::object claims) const {
    std::string input = crypto::Base64UrlEncode(bj::serialize(bj::object{{"alg", "EdDSA"}, {"kid", "test-1"}})) +
                        "." + crypto::Base64UrlEncode(bj::serialize(claims));
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_);
    EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    EVP_MD_CTX_free(ctx);
    return input + "." + crypto::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sig_len));
  }

 private:
  EVP_PKEY* key_;
};

// Users are matched by the token's `email` claim even when the identity provider says the
// address is NOT verified ("email_verified": false): anyone who can register that email at
// the IdP (an unverified address) gets the Rampart user's access. src/auth/auth.cc,
// Authenticator::Authenticate (JWT branch) uses claims->email without looking at
// email_verified; its own comment says "without a verified email claim the subject must be
// a Rampart user id".
class JwtEmailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(ServerConfig{.jwt = true, .master_key = "",
                                                        .auth_failures_per_minute = 100,
                                                        .jwks = minter_.Jwks()});
    org_ = NewId("org_");
    Status st = server_->store().Write([&](store::Tx& tx) -> Status {
      if (Status x = tx.InsertOrg({.id = org_, .slug = "victim-org", .name = "Victim",
                                   .max_concurrent_runs = 10, .created_at = server_->now_ms()});
          !x.ok()) {
        return x;
      }
      std::string user = NewId("usr_");
      if (Status x = tx.InsertUser({.id = user, .email = "victim@x.test", .password_hash = "",
                                    .created_at = server_->now_ms()});
          !x.ok()) {
        return x;
      }
      return tx.UpsertMembership({org_, user, "owner", server_->now_ms()});
    });
    ASSERT_TRUE(st.ok());
  }
  std::string Token(std::optional<bool> email_verified) {
    int64_t now = JwtFixture().at("now").to_number<int64_t>();
    bj::object claims{{"iss", JwtFixture().at("issuer")}, {"aud", JwtFixture().at("audience")},
                      {"sub", "idp-user-42"}, {"email", "victim@x.test"},
                      {"iat", now - 10}, {"exp", now + 3600}};
    if (email_verified.has_value()) claims["email_verified"] = *email_verified;
    return minter_.Token(claims);
  }
  Minter minter_;
  std::unique_ptr<TestServer> server_;
  std::string org_;
};

TEST_F(JwtEmailTest, VerifiedEmailIsAccepted) {
  HttpResponse r = server_->Do("GET", "/v1/orgs/" + org_, Bearer(Token(true)));
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(JwtEmailTest, UnverifiedEmailIsRefused) {
  HttpResponse r = server_->Do("GET", "/v1/orgs/" + org_, Bearer(Token(false)));
  EXPECT_EQ(r.status, 401) << r.body;
}

// ---------------------------------------------------------------------------------------
// 6. Master key

TEST_F(ApiTest, MasterKey) {
  HttpResponse r = s().Do("GET", A(), Bearer(std::string(kMasterKey) + ":" + c().dev_id));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "role"), "developer");
  r = s().Do("GET", A() + "/audit", Bearer(std::string(kMasterKey) + ":" + c().owner_id));
  EXPECT_EQ(r.status, 200);
  HttpResponse none = s().Do("GET", A());
  std::string wrong = kMasterKey;
  wrong[3] = 'X';
  for (const std::string& bad :
       {wrong + ":" + c().dev_id, std::string(kMasterKey) + ":usr_doesnotexist000000",
        std::string(kMasterKey) + ":", std::string(kMasterKey), ":" + c().dev_id,
        std::string(kMasterKey).substr(0, 20) + ":" + c().dev_id,
        std::string(kMasterKey) + "0:" + c().dev_id}) {
    s().ResetLimits();
    r = s().Do("GET", A(), Bearer(bad));
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(ErrorMessageOf(r), ErrorMessageOf(none));
  }
  // A real user who is no member of org A.
  r = s().Do("GET", A(), Bearer(std::string(kMasterKey) + ":" + c().owner_b_id));
  EXPECT_EQ(r.status, 404);
}

TEST(MasterKeyOffTest, MasterKeyIsOffUnlessConfigured) {
  TestServer server(ServerConfig{.jwt = false, .master_key = "", .auth_failures_per_minute = 100, .jwks = ""});
  EXPECT_EQ(server.Do("GET", "/v1/orgs", Bearer(":usr_x")).status, 401);
  EXPECT_EQ(server.Do("GET", "/v1/orgs", Bearer(std::string(kMasterKey) + ":usr_x")).status, 401);
}

// ---------------------------------------------------------------------------------------
// 7. Org isolation

TEST_F(ApiTest, OrgIsolation) {
  const std::string wf = c().workflow_id;
  const std::vector<HttpHeaders> b_creds = {Bearer(c().owner_b_key), c().owner_b_session.headers()};
  struct Req {
    std::string method, path, body, content_type = "application/json";
  };
  const std::vector<Req> requests = {
      {"GET", B() + "/workflows/" + wf, ""},
      {"GET", B() + "/workflows/" + wf + "/versions", ""},
      {"PUT", B() + "/workflows/" + wf, WorkflowYaml(wf), "application/yaml"},
      {"DELETE", B() + "/workflows/" + wf, ""},
      {"POST", B() + "/workflows/" + wf + "/publish", R"({"version": 1})"},
      {"POST", B() + "/workflows/" + wf + "/runs", R"({"input": {}})"},
      {"GET", B() + "/runs/" + c().run_id, ""},
      {"POST", B() + "/runs/" + c().run_id + "/cancel", ""},
      {"DELETE", B() + "/api-keys/" + c().owner_read_key_id, ""},
      {"PATCH", B() + "/members/" + c().dev_id, R"({"role": "owner"})"},
      {"DELETE", B() + "/members/" + c().dev_id, ""},
      {"PATCH", B() + "/members/" + c().owner_id, R"({"role": "developer"})"},
  };
  for (const HttpHeaders& creds : b_creds) {
    for (const Req& q : requests) {
      HttpResponse r = s().Do(q.method, q.path, creds, q.body, q.content_type);
      EXPECT_EQ(r.status, 404) << q.method << " " << q.path << ": " << r.body;
    }
  }
  // B's lists never show A's objects.
  for (const HttpHeaders& creds : b_creds) {
    for (const std::string& list : {B() + "/workflows", B() + "/runs", B() + "/api-keys",
                                    B() + "/members", B() + "/audit", std::string("/v1/orgs")}) {
      HttpResponse r = s().Do("GET", list, creds);
      EXPECT_EQ(r.status, 200) << list << ": " << r.body;
      for (const std::string& a_thing :
           {c().org_a, c().run_id, c().owner_id, c().dev_id, c().owner_read_key_id,
            std::string("\"" + wf + "\"")}) {
        EXPECT_EQ(r.body.find(a_thing), std::string::npos) << list << " shows " << a_thing;
      }
    }
  }
  // Same workflow id in B is B's own; A's is untouched.
  HttpResponse r = s().Do("POST", B() + "/workflows", Bearer(c().owner_b_key),
                          WorkflowYaml(wf, "org", "bee"), "application/yaml");
  EXPECT_EQ(r.status, 201) << r.body;
  r = s().Do("GET", A() + "/workflows/" + wf + "?version=live", Bearer(c().owner_rw_key));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("bee"), std::string::npos);
  r = s().Do("GET", A() + "/members?limit=200", Bearer(c().owner_rw_key));
  EXPECT_NE(r.body.find(c().dev_id), std::string::npos) << "A's developer was removed";
  EXPECT_EQ(s().Do("GET", A(), Bearer(c().owner_read_key)).status, 200);
}

// RFC 9110 8.3.1: the type and subtype of a media type are case-insensitive. A definition
// is JSON or YAML by Content-Type (spec/interfaces.md) whatever the case the client wrote
// it in, and a JSON body is JSON as much under "Application/JSON".
TEST_F(ApiTest, MediaTypesAreCaseInsensitive) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  HttpResponse r =
      s().Do("POST", A() + "/workflows", key, WorkflowYaml("ct-upper"), "Application/YAML");
  EXPECT_EQ(r.status, 201) << r.body;
  r = s().Do("PUT", A() + "/workflows/ct-upper", key, WorkflowYaml("ct-upper", "org", "two"),
             "TEXT/X-YAML; Charset=UTF-8");
  EXPECT_EQ(r.status, 200) << r.body;
  r = s().Do("POST", A() + "/workflows", key, R"({"rampart": 1, "id": "ct-json", "steps": [)"
             R"({"id": "s", "type": "set", "values": {}}]})", "APPLICATION/JSON");
  EXPECT_EQ(r.status, 201) << r.body;
  r = s().Do("POST", A() + "/workflows/ct-upper/runs", key,
             R"({"input": {}, "version": "draft", "wait": 5})", "Application/Json; Charset=UTF-8");
  EXPECT_EQ(r.status, 200) << r.body;
  r = s().Do("POST", A() + "/api-keys", key, R"({"name": "ct", "scope": "read"})",
             "application/JSON");
  EXPECT_EQ(r.status, 201) << r.body;
  // Still refused: what is neither.
  r = s().Do("POST", A() + "/api-keys", key, R"({"name": "ct", "scope": "read"})", "Text/Plain");
  EXPECT_EQ(r.status, 400) << r.body;
  r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("ct-plain"), "TEXT/PLAIN");
  EXPECT_EQ(r.status, 400) << r.body;
}

// spec/security.md 3: an object of another org answers 404 on every route with an id. B's
// owner names A's real objects (workflow, run, trigger URL, connector, key, member,
// support grant) under B's org path, on every route of the table that takes an id.
TEST_F(ApiTest, EveryRouteWithAnIdAnswers404ForAnotherOrgsObject) {
  // A workflow only A has (OrgIsolation gives B one named like c().workflow_id).
  const std::string only_a = "iso-only-a";
  HttpResponse r = s().Do("POST", A() + "/workflows", Bearer(c().owner_rw_key),
                          WorkflowYaml(only_a), "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  r = s().Do("POST", A() + "/workflows/" + only_a + "/publish", Bearer(c().owner_rw_key),
             R"({"version": 1})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<HttpHeaders> b_creds = {Bearer(c().owner_b_key), c().owner_b_session.headers()};
  int checked = 0;
  for (const server::Route& route : s().router().routes()) {
    if (route.pattern.find("{org}") == std::string::npos) continue;
    if (std::count(route.pattern.begin(), route.pattern.end(), '{') < 2) continue;
    for (const HttpHeaders& creds : b_creds) {
      Prepared p = Prepare(s(), route);
      p.path = Replace(p.path, "/workflows/" + c().workflow_id, "/workflows/" + only_a);
      p.path = Replace(p.path, A(), B());
      if (route.operation_id == "decideApproval") p.body = R"({"step": "s", "decision": "approve"})";
      if (route.operation_id == "updateWorkflow") p.body = WorkflowYaml(only_a);
      ++checked;
      r = s().Do(route.method, p.path, creds, p.body, p.content_type);
      EXPECT_EQ(r.status, 404) << route.method << " " << p.path << ": " << r.body;
      EXPECT_EQ(ErrorCodeOf(r), "not_found") << route.method << " " << p.path;
    }
  }
  EXPECT_GT(checked, 2 * 15);
  // A's workflow is untouched.
  r = s().Do("GET", A() + "/workflows/" + only_a, Bearer(c().owner_rw_key));
  EXPECT_EQ(r.status, 200) << r.body;
}

// spec/interfaces.md: list endpoints paginate with an opaque cursor; GET /v1/orgs too.
TEST_F(ApiTest, OrgsOfAUserArePaged) {
  std::string user = InsertUser(s(), "two-orgs@a.test", c().org_a, "developer");
  ASSERT_TRUE(s().store()
                  .Write([&](store::Tx& tx) {
                    return tx.UpsertMembership({c().org_b, user, "developer", s().now_ms()});
                  })
                  .ok());
  auto session = Login(s(), "two-orgs@a.test");
  ASSERT_TRUE(session.has_value());
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    HttpResponse r = s().Do("GET", "/v1/orgs?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor),
                            session->headers());
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    ASSERT_EQ(v.at("items").as_array().size(), 1u) << r.body;
    seen.insert(Str(v.at("items").at(0), "id"));
    cursor = v.at("next_cursor").is_null() ? "" : Str(v, "next_cursor");
    ++pages;
  } while (!cursor.empty() && pages < 5);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen, (std::set<std::string>{c().org_a, c().org_b}));
  HttpResponse all = s().Do("GET", "/v1/orgs", session->headers());
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(Json(all).at("items").as_array().size(), 2u);
  EXPECT_TRUE(Json(all).at("next_cursor").is_null());
  EXPECT_EQ(s().Do("GET", "/v1/orgs?limit=0", session->headers()).status, 400);
  EXPECT_EQ(s().Do("GET", "/v1/orgs?cursor=%21%21", session->headers()).status, 400);
}

// spec/interfaces.md: list endpoints paginate with an opaque `cursor`. Every list of the
// route table (the audit log too, which also keeps its `after=` / `next_after`) is walked
// page by page through `next_cursor` until it is null, and must give what one big page
// gives, in the same order, each item once; a cursor that is not one is a 400.
TEST_F(ApiTest, EveryListEndpointPagesWithTheOpaqueCursor) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string wf = "paging-wf";
  ASSERT_EQ(s().Do("POST", A() + "/workflows", key, WorkflowYaml(wf), "application/yaml").status,
            201);
  ASSERT_EQ(s().Do("PUT", A() + "/workflows/" + wf, key, WorkflowYaml(wf, "org", "two"),
                   "application/yaml").status, 200);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(s().Do("POST", A() + "/workflows/" + wf + "/webhooks", key, "{}").status, 201);
    ASSERT_EQ(s().Do("POST", A() + "/workflows/" + wf + "/runs", key,
                     R"({"version": "draft", "wait": 5})").status, 200);
    ASSERT_EQ(s().Do("POST", A() + "/connectors", key,
                     R"({"id": "paging-)" + std::to_string(i) + R"(", "type": "custom"})").status,
              201);
  }
  // Outbound hook deliveries of the cast's run (the run's hooks list is a list too).
  ASSERT_TRUE(s().store()
                  .Write([&](store::Tx& tx) -> Status {
                    for (int i = 0; i < 3; ++i) {
                      store::HookDelivery d{.org_id = c().org_a,
                                            .id = "msg_paging" + std::to_string(i),
                                            .run_id = c().run_id,
                                            .workflow_id = c().workflow_id,
                                            .url = "https://hooks.example.com/x",
                                            .secret = "whs",
                                            .event = "run.succeeded",
                                            .payload = "{}",
                                            .status = "delivered",
                                            .attempts = 1,
                                            .created_at = s().now_ms() + i % 2,
                                            .updated_at = s().now_ms()};
                      if (Status st = tx.InsertHookDelivery(d); !st.ok()) return st;
                    }
                    return Status::Ok();
                  })
                  .ok());
  struct List {
    std::string path;
    int page;  // page size of the walk
    int all;   // the big pages
  };
  const std::vector<List> lists = {
      {"/v1/orgs", 1, 200},
      {A() + "/members", 1, 200},
      {A() + "/api-keys", 1, 200},
      {A() + "/connectors", 1, 200},
      {A() + "/workflows", 1, 200},
      {A() + "/workflows/" + wf + "/versions", 1, 200},
      {A() + "/runs", 1, 200},
      {A() + "/runs?workflow=" + wf, 1, 200},
      {A() + "/workflows/" + wf + "/webhooks", 1, 200},
      {A() + "/audit", 7, 500},
      {A() + "/runs/" + c().run_id + "/hooks", 1, 200},
  };
  // Follows next_cursor from the first page to the last with pages of `size`: only the
  // last page may be short.
  const auto walk = [&](const std::string& path, char sep, int size) {
    bj::array items;
    std::string cursor;
    for (int pages = 0; pages < 2000; ++pages) {
      std::string url = path + sep + "limit=" + std::to_string(size);
      if (!cursor.empty()) url += "&cursor=" + cursor;
      HttpResponse r = s().Do("GET", url, key);
      EXPECT_EQ(r.status, 200) << r.body;
      const bj::value v = Json(r);
      if (r.status != 200 || !v.as_object().contains("next_cursor")) {
        ADD_FAILURE() << "no next_cursor: " << r.body;
        break;
      }
      for (const auto& item : v.at("items").as_array()) items.push_back(item);
      if (v.at("next_cursor").is_null()) break;
      EXPECT_EQ(v.at("items").as_array().size(), static_cast<size_t>(size)) << r.body;
      cursor = Str(v, "next_cursor");
      if (cursor.empty()) {
        ADD_FAILURE() << "empty next_cursor";
        break;
      }
    }
    return items;
  };
  for (const List& list : lists) {
    SCOPED_TRACE(list.path);
    const char sep = list.path.find('?') == std::string::npos ? '?' : '&';
    // The big pages (one, unless other tests of this process filled the list) against
    // the walk with small pages: the same items in the same order.
    const bj::array expected = walk(list.path, sep, list.all);
    const bj::array walked = walk(list.path, sep, list.page);
    EXPECT_EQ(walked, expected);
    if (list.path != "/v1/orgs") {
      EXPECT_GE(expected.size(), 2u);
    }
    HttpResponse r = s().Do("GET", list.path + sep + "cursor=%21%21", key);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument");
  }
}

// ---------------------------------------------------------------------------------------
// 8. Workflows

std::string OutputMarker(const HttpResponse& r) {
  bj::value v = Json(r);
  if (!v.is_object()) return "";
  const bj::value* out = v.as_object().if_contains("output");
  return out != nullptr ? Str(*out, "marker") : "";
}

TEST_F(ApiTest, WorkflowDefinitionsDraftAndLive) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string w = A() + "/workflows/";
  HttpResponse r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("dl", "org", "one"),
                          "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r).at("version").to_number<int64_t>(), 1);
  // JSON definitions.
  bj::object def{{"rampart", 1}, {"id", "json-wf"}, {"visibility", "org"},
                 {"steps", bj::array{bj::object{{"id", "s"}, {"type", "set"},
                                                {"values", bj::object{{"k", 1}}}}}}};
  r = s().Do("POST", A() + "/workflows", key, bj::serialize(def));
  EXPECT_EQ(r.status, 201) << r.body;
  r = s().Do("POST", A() + "/workflows", key, bj::serialize(def));
  EXPECT_EQ(r.status, 409) << "re-create: " << r.body;
  def["bogus_key"] = true;
  def["id"] = "json-wf-2";
  r = s().Do("POST", A() + "/workflows", key, bj::serialize(def));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCodeOf(r), "invalid_definition");

  // Invalid definitions: 400 with details[] of JSON pointers.
  r = s().Do("POST", A() + "/workflows", key,
             "rampart: 1\nid: bad\nsteps:\n  - id: s\n    type: set\n    valuez: {}\n",
             "application/yaml");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "invalid_definition");
  const bj::value invalid = Json(r);
  const bj::value* details = invalid.at("error").as_object().if_contains("details");
  ASSERT_TRUE(details != nullptr && details->is_array() && !details->as_array().empty()) << r.body;
  for (const auto& d : details->as_array()) {
    EXPECT_EQ(Str(d, "path").substr(0, 1), "/") << bj::serialize(d);
    EXPECT_FALSE(Str(d, "code").empty());
    EXPECT_FALSE(Str(d, "message").empty());
  }
  EXPECT_EQ(s().Do("POST", A() + "/workflows", key, "", "application/yaml").status, 400);
  EXPECT_EQ(s().Do("POST", A() + "/workflows", key, WorkflowYaml("ct"), "text/plain").status, 400);

  // Unknown body fields on JSON routes.
  r = s().Do("POST", w + "dl/publish", key, R"({"version": 1, "force": true})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCodeOf(r), "invalid_argument");
  r = s().Do("POST", w + "dl/runs", key, R"({"input": {}, "version": "draft", "as_user": "x"})");
  EXPECT_EQ(r.status, 400);
  r = s().Do("POST", A() + "/api-keys", key, R"({"name": "x", "scope": "read", "owner": "me"})");
  EXPECT_EQ(r.status, 400);
  r = s().Do("POST", w + "dl/publish", key, R"([1, 2])");
  EXPECT_EQ(r.status, 400);

  // Live before publish: 409; the draft runs.
  r = s().Do("POST", w + "dl/runs", key, R"({"input": {}, "wait": 20})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = s().Do("POST", w + "dl/runs", key, R"({"input": {}, "version": "draft", "wait": 20})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OutputMarker(r), "one") << r.body;

  // Publishing needs workflows:publish.
  r = s().Do("POST", w + "dl/publish", c().dev_session.headers(), R"({"version": 1})");
  EXPECT_EQ(r.status, 403);
  r = s().Do("POST", w + "dl/publish", Bearer(c().dev_rw_key), R"({"version": 1})");
  EXPECT_EQ(r.status, 403);
  r = s().Do("POST", w + "dl/publish", key, R"({"version": 7})");
  EXPECT_EQ(r.status, 404);
  r = s().Do("POST", w + "dl/publish", key, R"({"version": 1})");
  ASSERT_EQ(r.status, 200) << r.body;

  // Editing makes a v2 draft; live stays v1.
  r = s().Do("PUT", w + "dl", key, WorkflowYaml("dl", "org", "two"), "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("version").to_number<int64_t>(), 2);
  r = s().Do("PUT", w + "dl", key, WorkflowYaml("other-id", "org", "two"), "application/yaml");
  EXPECT_EQ(r.status, 400) << "id mismatch";
  r = s().Do("GET", w + "dl?version=live", key);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r).at("version").to_number<int64_t>(), 1);
  r = s().Do("GET", w + "dl", key);
  EXPECT_EQ(Json(r).at("version").to_number<int64_t>(), 2);
  r = s().Do("GET", w + "dl/versions", key);
  EXPECT_EQ(Json(r).at("items").as_array().size(), 2u);
  r = s().Do("POST", w + "dl/runs", key, R"({"input": {}, "version": "live", "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OutputMarker(r), "one") << r.body;
  r = s().Do("POST", w + "dl/runs", key, R"({"input": {}, "version": "draft", "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OutputMarker(r), "two") << r.body;
  EXPECT_EQ(s().Do("POST", w + "dl/runs", key, R"({"version": "v1"})").status, 400);

  // Delete.
  EXPECT_EQ(s().Do("DELETE", w + "json-wf", key).status, 200);
  EXPECT_EQ(s().Do("GET", w + "json-wf", key).status, 404);
}

// The workflow cache is keyed by (org, id, version) and checked against the definition
// the request read, so a workflow deleted and re-created under the same id (its new
// version 1) runs its new definition, never the cached one.
TEST_F(ApiTest, WorkflowRecreatedUnderTheSameIdRunsItsNewDefinition) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string w = A() + "/workflows/again";
  for (const std::string marker : {"first", "second"}) {
    SCOPED_TRACE(marker);
    HttpResponse r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("again", "org", marker),
                            "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    r = s().Do("POST", w + "/runs", key, R"({"input": {}, "version": "draft", "wait": 20})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(OutputMarker(r), marker) << r.body;
    r = s().Do("POST", w + "/runs", key, R"({"input": {}, "wait": 20})");
    EXPECT_EQ(r.status, 409) << "not published yet: " << r.body;
    r = s().Do("POST", w + "/publish", key, R"({"version": 1})");
    ASSERT_EQ(r.status, 200) << r.body;
    r = s().Do("POST", w + "/runs", key, R"({"input": {}, "wait": 20})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(OutputMarker(r), marker) << r.body;
    ASSERT_EQ(s().Do("DELETE", w, key).status, 200);
    EXPECT_EQ(s().Do("POST", w + "/runs", key, R"({"input": {}, "wait": 20})").status, 404);
  }
}

// Publishing another version restarts the workflow's schedule at the publish: the new live
// version fires at its own next tick, never at once for a tick from before it was live
// (which the scheduler would take for one missed while the server was down). The
// scheduler's state is checked in the store: last_fired_at is the publish time.
TEST_F(ApiTest, PublishingAnotherVersionRestartsTheSchedule) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string w = A() + "/workflows/sched-pub";
  auto last_fired = [&]() -> std::optional<store::Millis> {
    std::optional<store::Millis> out;
    EXPECT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                  auto last = tx.GetScheduleLastFired(c().org_a, "sched-pub");
                  if (!last.ok()) return last.error();
                  out = *last;
                  return Status::Ok();
                }).ok());
    return out;
  };
  auto fired_long_ago = [&] {  // as if the scheduler had fired the old version at t = 1000
    ASSERT_TRUE(s().store().Write([&](store::Tx& tx) {
                  return tx.PutScheduleLastFired(c().org_a, "sched-pub", 1000);
                }).ok());
  };
  auto publish = [&](int version) -> store::Millis {
    HttpResponse r = s().Do("POST", w + "/publish", key,
                            R"({"version": )" + std::to_string(version) + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return s().now_ms();
  };
  HttpResponse r = s().Do("POST", A() + "/workflows", key,
                          WorkflowYaml("sched-pub", "org", "one",
                                       "triggers:\n  - { type: schedule, cron: \"0 0 * * *\" }\n"),
                          "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  store::Millis at = publish(1);
  EXPECT_EQ(last_fired(), std::optional<store::Millis>(at));

  fired_long_ago();
  r = s().Do("PUT", w, key,
             WorkflowYaml("sched-pub", "org", "two",
                          "triggers:\n  - { type: schedule, cron: \"*/5 * * * *\" }\n"),
             "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  at = publish(2);
  EXPECT_EQ(last_fired(), std::optional<store::Millis>(at));

  // Publishing the live version again changes nothing.
  fired_long_ago();
  publish(2);
  EXPECT_EQ(last_fired(), std::optional<store::Millis>(1000));
  ASSERT_EQ(s().Do("DELETE", w, key).status, 200);
}

// Starting a run of a private workflow: its creator and owners may, another developer gets
// the 404 of a workflow that does not exist, whatever the body asks for.
TEST_F(ApiTest, RunStartOfAPrivateWorkflowIsForItsCreatorAndOwners) {
  const std::string other = InsertUser(s(), "other-dev@a.test", c().org_a, "developer");
  const HttpHeaders other_key = Bearer(InsertKey(s(), c().org_a, other, "read_write").first);
  const HttpHeaders dev_key = Bearer(c().dev_rw_key);
  HttpResponse r = s().Do("POST", A() + "/workflows", dev_key,
                          WorkflowYaml("dev-private-run", "private", "mine"), "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string runs = A() + "/workflows/dev-private-run/runs";
  const std::string draft = R"({"input": {}, "version": "draft", "wait": 20})";
  r = s().Do("POST", runs, dev_key, draft);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OutputMarker(r), "mine");
  r = s().Do("POST", runs, Bearer(c().owner_rw_key), draft);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OutputMarker(r), "mine");
  EXPECT_EQ(s().Do("POST", runs, other_key, draft).status, 404);
  EXPECT_EQ(s().Do("POST", runs, other_key, R"({"version": "bogus"})").status, 404);
  EXPECT_EQ(s().Do("POST", runs, other_key, R"({"input": {}})").status, 404);
  EXPECT_EQ(s().Do("POST", runs, dev_key, R"({"version": "bogus"})").status, 400);
  EXPECT_EQ(s().Do("POST", runs, dev_key, R"({"input": {}})").status, 409) << "no live version";
  EXPECT_EQ(s().Do("DELETE", A() + "/workflows/dev-private-run", dev_key).status, 200);
}

TEST_F(ApiTest, PublicWorkflows) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string w = A() + "/workflows/";
  // Public without a strict inputs schema is refused.
  HttpResponse r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("pub-loose", "public"),
                          "application/yaml");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "invalid_definition");
  r = s().Do("POST", A() + "/workflows", key,
             WorkflowYaml("pub-loose2", "public", "one",
                          "inputs:\n  type: object\n  properties:\n    name: { type: string }\n"
                          "  additionalProperties: false\n"),
             "application/yaml");
  EXPECT_EQ(r.status, 400) << "unbounded string: " << r.body;
  // A private workflow cannot become public by an edit that skips the lint either.
  r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("pub-later", "private"),
             "application/yaml");
  ASSERT_EQ(r.status, 201);
  r = s().Do("PUT", w + "pub-later", key, WorkflowYaml("pub-later", "public"), "application/yaml");
  EXPECT_EQ(r.status, 400) << r.body;

  const std::string strict =
      "inputs:\n  type: object\n  properties:\n    name: { type: string, maxLength: 20 }\n"
      "  additionalProperties: false\n";
  r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("pub-a", "public", "pub", strict),
             "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string p = "/p/" + c().org_a_slug + "/pub-a";
  // Not live yet: 404.
  EXPECT_EQ(s().Do("POST", p, {}, R"({"name": "bob"})").status, 404);
  r = s().Do("POST", w + "pub-a/publish", key, R"({"version": 1})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = s().Do("POST", p, {}, R"({"name": "bob"})");
  ASSERT_EQ(r.status, 200) << r.body;
  bj::value v = Json(r);
  std::set<std::string> keys;
  for (const auto& e : v.as_object()) keys.insert(std::string(e.key()));
  EXPECT_EQ(keys, (std::set<std::string>{"run_id", "status", "output"})) << r.body;
  EXPECT_EQ(Str(v, "status"), "succeeded");
  EXPECT_EQ(OutputMarker(r), "pub");
  // Inputs are validated.
  r = s().Do("POST", p, {}, R"({"name": "bob", "admin": true})");
  EXPECT_EQ(r.status, 400) << r.body;
  // Private/org workflows, unknown org, unknown workflow: 404.
  EXPECT_EQ(s().Do("POST", "/p/" + c().org_a_slug + "/" + c().workflow_id, {}, "{}").status, 404);
  EXPECT_EQ(s().Do("POST", "/p/no-such-org/pub-a", {}, R"({"name": "bob"})").status, 404);
  EXPECT_EQ(s().Do("POST", "/p/" + c().org_b_slug + "/pub-a", {}, R"({"name": "bob"})").status,
            404);
  EXPECT_EQ(s().Do("POST", "/p/" + c().org_a_slug + "/nope", {}, "{}").status, 404);

  // Deleted, then created again under its id as a private workflow (versions start at 1
  // again) and published: no longer public. The deleted definition must not run.
  ASSERT_EQ(s().Do("DELETE", w + "pub-a", key).status, 200);
  r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("pub-a", "private", "priv", strict),
             "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(s().Do("POST", w + "pub-a/publish", key, R"({"version": 1})").status, 200);
  r = s().Do("POST", p, {}, R"({"name": "bob"})");
  EXPECT_EQ(r.status, 404) << r.body;
  // And the owner's own run of it runs the new definition.
  r = s().Do("POST", w + "pub-a/runs", key, R"({"input": {"name": "bob"}, "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(OutputMarker(r), "priv");
}

TEST_F(ApiTest, WorkflowAuthorizationBlock) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string w = A() + "/workflows/";
  HttpResponse r = s().Do("POST", A() + "/workflows", key,
                          WorkflowYaml("owners-only", "org", "one", "authorization:\n  roles: [owner]\n"),
                          "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(s().Do("POST", w + "owners-only/publish", key, R"({"version": 1})").status, 200);
  r = s().Do("POST", w + "owners-only/runs", c().dev_session.headers(), R"({"input": {}})");
  EXPECT_EQ(r.status, 403) << r.body;
  r = s().Do("POST", w + "owners-only/runs", Bearer(c().dev_rw_key), R"({"input": {}})");
  EXPECT_EQ(r.status, 403) << r.body;
  r = s().Do("POST", w + "owners-only/runs", key, R"({"input": {}, "wait": 20})");
  EXPECT_EQ(r.status, 200) << r.body;

  r = s().Do("POST", A() + "/workflows", key,
             WorkflowYaml("needs-approve", "org", "one",
                          "authorization:\n  permissions: [runs:approve]\n"),
             "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(s().Do("POST", w + "needs-approve/publish", key, R"({"version": 1})").status, 200);
  EXPECT_EQ(s().Do("POST", w + "needs-approve/runs", Bearer(c().dev_rw_key), R"({"input": {}})")
                .status,
            403);
}

// A child run acts for the caller of its parent (ASVS V8.3.3): a developer's draft whose
// `workflow` step calls an owner-only or private workflow, directly or through an
// intermediate workflow, is refused before any run starts; calls the caller could make
// themself still run.
TEST_F(ApiTest, ChildWorkflowsAreCheckedAgainstTheOriginalCaller) {
  const HttpHeaders owner = Bearer(c().owner_rw_key);
  const HttpHeaders dev = Bearer(c().dev_rw_key);
  const std::string w = A() + "/workflows/";
  auto caller = [](const std::string& id, const std::string& child) {
    return "rampart: 1\nid: " + id + "\nvisibility: org\nsteps:\n  - id: call\n    type: workflow\n"
           "    workflow: " + child + "\n";
  };
  auto create = [&](const HttpHeaders& who, const std::string& yaml, bool publish) {
    HttpResponse r = s().Do("POST", A() + "/workflows", who, yaml, "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    if (publish) {
      r = s().Do("POST", w + Str(Json(r), "id") + "/publish", owner, R"({"version": 1})");
      ASSERT_EQ(r.status, 200) << r.body;
    }
  };
  create(owner, WorkflowYaml("payout", "org", "paid", "authorization:\n  roles: [owner]\n"), true);
  create(owner, WorkflowYaml("owner-secret", "private", "secret"), true);
  create(owner, WorkflowYaml("open-child", "org", "open"), true);
  create(owner, caller("relay", "payout"), true);  // org-visible, no authorization itself
  create(dev, caller("launder", "payout"), false);
  create(dev, caller("peek", "owner-secret"), false);
  create(dev, caller("via-relay", "relay"), false);
  create(dev, caller("fine", "open-child"), false);

  auto runs_of = [&](const std::string& id) {
    HttpResponse r = s().Do("GET", A() + "/runs?limit=200&workflow=" + id, owner);
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r).at("items").as_array().size();
  };
  const size_t payouts = runs_of("payout");
  for (const char* id : {"launder", "peek", "via-relay"}) {
    SCOPED_TRACE(id);
    HttpResponse r = s().Do("POST", w + id + "/runs", dev,
                            R"({"input": {}, "version": "draft", "wait": 20})");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
    EXPECT_EQ(runs_of(id), 0u) << "a refused run was started";
  }
  // The relay is live: the developer may run it, but not what it calls.
  EXPECT_EQ(s().Do("POST", w + "relay/runs", dev, R"({"input": {}, "wait": 20})").status, 403);
  EXPECT_EQ(runs_of("payout"), payouts);

  HttpResponse r = s().Do("POST", w + "fine/runs", dev,
                          R"({"input": {}, "version": "draft", "wait": 20})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "succeeded") << r.body;
  r = s().Do("POST", w + "launder/runs", owner, R"({"input": {}, "version": "draft", "wait": 20})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "succeeded") << r.body;
  EXPECT_EQ(runs_of("payout"), payouts + 1);
}

TEST_F(ApiTest, PrivateWorkflowsOfOthersAreHidden) {
  HttpResponse r = s().Do("POST", A() + "/workflows", Bearer(c().owner_rw_key),
                          WorkflowYaml("owner-private", "private"), "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  r = s().Do("GET", A() + "/workflows/owner-private", c().dev_session.headers());
  EXPECT_EQ(r.status, 404);
  r = s().Do("GET", A() + "/workflows?limit=200", c().dev_session.headers());
  EXPECT_EQ(r.body.find("owner-private"), std::string::npos);
}

// The workflow list pages what the caller may see (ASVS V8.2.2): the visibility filter
// is in the store's query, before the page is cut, so a developer walking the list with
// a small limit gets full pages up to the last one, each workflow they may see once, and
// none they may not - however many of the owner's private workflows sit between them.
// Owners see every workflow.
TEST_F(ApiTest, WorkflowListPagesWhatTheCallerMaySee) {
  const HttpHeaders owner = Bearer(c().owner_rw_key);
  const HttpHeaders dev_key = Bearer(c().dev_rw_key);
  const HttpHeaders ada =
      Bearer(std::string(JwtFixture().at("tokens").at("valid_rs256").as_string()));
  auto create = [&](const HttpHeaders& who, const std::string& id, const std::string& visibility) {
    HttpResponse r =
        s().Do("POST", A() + "/workflows", who, WorkflowYaml(id, visibility), "application/yaml");
    EXPECT_EQ(r.status, 201) << r.body;
    return id;
  };
  // Ids sort in runs: three pages' worth of the owner's private workflows (limit 3) come
  // before the first one the developer may see, and more between the others.
  std::set<std::string> owner_private, org_visible, dev_private, ada_private;
  for (int i = 0; i < 10; ++i) {
    owner_private.insert(create(owner, "wl-a-owner-" + std::to_string(i), "private"));
  }
  for (int i = 0; i < 4; ++i) {
    const std::string n = std::to_string(i);
    org_visible.insert(create(owner, "wl-b" + n + "-org", "org"));
    dev_private.insert(create(dev_key, "wl-b" + n + "-dev", "private"));
    for (int j = 0; j < 4; ++j) {
      owner_private.insert(create(owner, "wl-b" + n + "-owner-" + std::to_string(j), "private"));
    }
  }
  org_visible.insert(create(dev_key, "wl-c-dev-org", "org"));
  ada_private.insert(create(ada, "wl-c-ada", "private"));
  for (int i = 0; i < 7; ++i) {
    owner_private.insert(create(owner, "wl-d-owner-" + std::to_string(i), "private"));
  }

  // Every workflow of the org listed to `who` in pages of `limit`: every page but the
  // last full, none twice, in id order, and the hidden ids nowhere in a page's body.
  auto list = [&](const HttpHeaders& who, int limit, const std::set<std::string>& never) {
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    bool short_page = false;
    do {
      std::string url = A() + "/workflows?limit=" + std::to_string(limit);
      if (!cursor.empty()) url += "&cursor=" + cursor;
      HttpResponse page = s().Do("GET", url, who);
      EXPECT_EQ(page.status, 200) << page.body;
      if (page.status != 200) break;
      for (const std::string& id : never) EXPECT_EQ(page.body.find(id), std::string::npos) << id;
      const bj::value v = Json(page);
      const size_t n = v.at("items").as_array().size();
      EXPECT_FALSE(short_page) << "a page before page " << pages << " was not full";
      short_page = n < static_cast<size_t>(limit);
      for (const auto& item : v.at("items").as_array()) {
        const std::string id = Str(item, "id");
        EXPECT_TRUE(seen.empty() || seen.back() < id) << "out of order or twice: " << id;
        seen.push_back(id);
      }
      cursor = v.at("next_cursor").is_string() ? std::string(v.at("next_cursor").as_string()) : "";
      EXPECT_TRUE(cursor.empty() || n == static_cast<size_t>(limit))
          << "a page with a next cursor was not full";
      if (++pages > 2000) break;
    } while (!cursor.empty());
    return std::set<std::string>(seen.begin(), seen.end());
  };

  // Owners see every workflow, at any page size.
  std::set<std::string> all = owner_private;
  for (const auto* set : {&org_visible, &dev_private, &ada_private})
    all.insert(set->begin(), set->end());
  std::set<std::string> owner_view;
  for (int limit : {3, 200}) {
    owner_view = list(owner, limit, {});
    for (const std::string& id : all) EXPECT_TRUE(owner_view.count(id)) << id << " not listed";
  }
  EXPECT_EQ(list(c().owner_session.headers(), 2, {}), owner_view);

  // A member's list is exactly what they may open: every workflow of the org (the owner's
  // view, other tests' included) is listed to them if and only if GET answers it.
  auto check_member = [&](const HttpHeaders& who, const std::set<std::string>& must,
                          const std::set<std::string>& never) {
    std::set<std::string> first;
    for (int limit : {1, 3, 7}) {
      SCOPED_TRACE("limit=" + std::to_string(limit));
      const std::set<std::string> listed = list(who, limit, never);
      for (const std::string& id : must) EXPECT_TRUE(listed.count(id)) << id << " not listed";
      for (const std::string& id : never) EXPECT_FALSE(listed.count(id)) << id << " listed";
      if (first.empty()) first = listed;
      EXPECT_EQ(listed, first) << "another page size lists other workflows";
    }
    for (const std::string& id : owner_view) {
      const int status = s().Do("GET", A() + "/workflows/" + id, who).status;
      EXPECT_EQ(status, first.count(id) ? 200 : 404) << id;
    }
  };
  std::set<std::string> dev_must = dev_private;
  dev_must.insert(org_visible.begin(), org_visible.end());
  std::set<std::string> dev_never = owner_private;
  dev_never.insert(ada_private.begin(), ada_private.end());
  for (const HttpHeaders& dev : {dev_key, c().dev_session.headers()}) {
    SCOPED_TRACE("developer");
    check_member(dev, dev_must, dev_never);
  }
  std::set<std::string> ada_must = ada_private;
  ada_must.insert(org_visible.begin(), org_visible.end());
  std::set<std::string> ada_never = owner_private;
  ada_never.insert(dev_private.begin(), dev_private.end());
  SCOPED_TRACE("ada");
  check_member(ada, ada_must, ada_never);
}

// A draft-only workflow takes its visibility from each saved draft: that is a visibility
// change (who in the org sees it), audited as publishing one is (spec/security.md 7).
TEST_F(ApiTest, VisibilityChangeOfADraftIsAudited) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  HttpResponse r = s().Do("POST", A() + "/workflows", key, WorkflowYaml("vis-draft", "private"),
                          "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  r = s().Do("PUT", A() + "/workflows/vis-draft", key, WorkflowYaml("vis-draft", "org"),
             "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "visibility"), "org");
  // Saving again with the same visibility is no change.
  r = s().Do("PUT", A() + "/workflows/vis-draft", key, WorkflowYaml("vis-draft", "org", "two"),
             "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  int changes = 0;
  int64_t after = 0;
  for (int page = 0; page < 100; ++page) {
    r = s().Do("GET", A() + "/audit?limit=500&after=" + std::to_string(after), key);
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    for (const auto& e : v.at("items").as_array()) {
      if (Str(e, "action") != "workflow.visibility" || Str(e, "target") != "vis-draft") continue;
      ++changes;
      EXPECT_EQ(Str(e.at("details"), "from"), "private");
      EXPECT_EQ(Str(e.at("details"), "to"), "org");
      EXPECT_EQ(Str(e, "actor"), "key:" + c().owner_rw_key_id);
    }
    if (v.at("items").as_array().empty()) break;
    after = v.at("next_after").to_number<int64_t>();
  }
  EXPECT_EQ(changes, 1);
}

// ---------------------------------------------------------------------------------------
// 9. Runs

TEST_F(ApiTest, RunsStartGetListCancel) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string start = A() + "/workflows/" + c().workflow_id + "/runs";
  HttpResponse r = s().Do("POST", start, key, R"({"input": {}, "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "succeeded");
  r = s().Do("POST", start, key, R"({"input": {}})");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string queued = Str(Json(r), "run_id");
  ASSERT_EQ(queued.substr(0, 4), "run_");
  r = s().Do("GET", A() + "/runs/" + queued, key);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(s().Do("GET", A() + "/runs/run_doesnotexist", key).status, 404);
  EXPECT_EQ(s().Do("POST", start, key, R"({"input": {}, "wait": -1})").status, 400);
  EXPECT_EQ(s().Do("POST", start, key, R"({"input": {}, "wait": "5"})").status, 400);

  std::set<std::string> started;
  for (int i = 0; i < 5; ++i) {
    r = s().Do("POST", start, key, R"({"input": {}, "wait": 20})");
    ASSERT_EQ(r.status, 200) << r.body;
    started.insert(Str(Json(r), "run_id"));
  }
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::string url = A() + "/runs?status=succeeded&limit=2";
    if (!cursor.empty()) url += "&cursor=" + cursor;
    r = s().Do("GET", url, Bearer(c().owner_read_key));
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    EXPECT_LE(v.at("items").as_array().size(), 2u);
    for (const auto& item : v.at("items").as_array()) {
      EXPECT_EQ(Str(item, "status"), "succeeded");
      std::string id = Str(item, "run_id").empty() ? Str(item, "id") : Str(item, "run_id");
      EXPECT_TRUE(seen.insert(id).second) << "run listed twice: " << id;
    }
    cursor = v.at("next_cursor").is_string() ? std::string(v.at("next_cursor").as_string()) : "";
    ASSERT_LT(++pages, 200);
  } while (!cursor.empty());
  for (const std::string& id : started) EXPECT_TRUE(seen.count(id)) << id << " never listed";
  EXPECT_GE(pages, 3);
  EXPECT_EQ(s().Do("GET", A() + "/runs?status=bogus", key).status, 400);
  EXPECT_EQ(s().Do("GET", A() + "/runs?cursor=!!!", key).status, 400);
  EXPECT_EQ(s().Do("GET", A() + "/runs?limit=0", key).status, 400);

  // Cancelling a finished run: 409.
  r = s().Do("POST", A() + "/runs/" + c().run_id + "/cancel", key);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(s().Do("POST", A() + "/runs/run_doesnotexist/cancel", key).status, 404);
}

// A run started with `wait` of a side-effect-free workflow (only set steps here) is executed
// by the request and stored once, final: the 200 answer is the stored record, the run is
// never listed as queued or running, and its run.start audit event is there. A workflow
// with an action step answers the same way through the worker path.
TEST_F(ApiTest, WaitedSideEffectFreeRunAnswersItsStoredRecord) {
  const HttpHeaders key = Bearer(c().owner_rw_key);
  const std::string start = A() + "/workflows/" + c().workflow_id + "/runs";
  HttpResponse r = s().Do("POST", start, key, R"({"input": {}, "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  const bj::value answered = Json(r);
  const std::string id = Str(answered, "run_id");
  EXPECT_EQ(Str(answered, "status"), "succeeded");
  EXPECT_EQ(answered.at("output").at("marker"), bj::value("one"));
  r = s().Do("GET", A() + "/runs/" + id, key);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r), answered);
  for (const char* status : {"queued", "running"}) {
    r = s().Do("GET", A() + "/runs?status=" + std::string(status) + "&limit=200", key);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.find(id), std::string::npos) << status;
  }
  int started = 0;
  for (const auto& e : AuditItems(A(), key)) {
    if (Str(e, "action") == "run.start" && Str(e, "target") == id) ++started;
  }
  EXPECT_EQ(started, 1);

  r = s().Do("POST", A() + "/workflows", key,
             "rampart: 1\nid: with-action\nsteps:\n  - { id: log, type: action, uses: log.write, "
             "with: { message: hi } }\n",
             "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  r = s().Do("POST", A() + "/workflows/with-action/runs", key,
             R"({"input": {}, "version": "draft", "wait": 20})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "succeeded") << r.body;
}

// A refused cancel (409) still writes a successful "run.cancel" audit event: CancelRun
// appends it in the transaction before the deferred RunService::Cancel decides
// (src/api/api.cc, CancelRun).
TEST_F(ApiTest, RefusedCancelIsNotAuditedAsSuccess) {
  HttpResponse r =
      s().Do("POST", A() + "/runs/" + c().run_id + "/cancel", Bearer(c().owner_rw_key));
  ASSERT_EQ(r.status, 409);
  for (const auto& e : AuditItems(A(), Bearer(c().owner_rw_key))) {
    if (Str(e, "action") == "run.cancel" && Str(e, "target") == c().run_id) {
      EXPECT_NE(Str(e, "outcome"), "success") << bj::serialize(e);
    }
  }
}

// Approval steps over the API: the run waits, its initiator and non-approvers are
// refused (and audited as denied), another owner's decision resumes it, the other org
// sees nothing.
TEST_F(ApiTest, ApprovalSteps) {
  const HttpHeaders key = Bearer(c().owner_rw_key);  // the owner's key: owner initiates
  const std::string wf = "wf-approval";
  HttpResponse r = s().Do("POST", A() + "/workflows", key,
                          "rampart: 1\nid: " + wf + "\nsteps:\n"
                          "  - { id: a, type: set, values: { n: 1 } }\n"
                          "  - id: gate\n    type: approval\n"
                          "    approvers: { roles: [owner] }\n    timeout: 600\n"
                          "  - { id: b, type: set, values: { n: 2 } }\n"
                          "output: { n: \"{{ steps.b.output.n }}\" }\n",
                          "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(s().Do("POST", A() + "/workflows/" + wf + "/publish", key, R"({"version": 1})").status,
            200);
  // spec/interfaces.md: 200 and the run record only "when it finished within wait"; a run
  // that stops at an approval has not finished: 202, its id and status, at once (no one can
  // decide before the answer names the run).
  r = s().Do("POST", A() + "/workflows/" + wf + "/runs", key, R"({"input": {}, "wait": 20})");
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(Str(Json(r), "status"), "awaiting_approval") << r.body;
  EXPECT_EQ(Json(r).as_object().size(), 2u) << r.body;
  const std::string run = Str(Json(r), "run_id");
  const std::string url = A() + "/runs/" + run + "/approvals";
  const std::string approve = R"({"step": "gate", "decision": "approve", "comment": "lgtm"})";

  // The initiator (session of the key's creator) may not approve their own run.
  r = s().Do("POST", url, c().owner_session.headers(), approve);
  EXPECT_EQ(r.status, 403) << r.body;
  // A developer lacks runs:approve; the other org does not see the run.
  EXPECT_EQ(s().Do("POST", url, c().dev_session.headers(), approve).status, 403);
  EXPECT_EQ(s().Do("POST", "/v1/orgs/" + c().org_b + "/runs/" + run + "/approvals",
                   Bearer(c().owner_b_key), approve).status, 404);
  // Bad bodies.
  const std::string other_owner = "second-owner@a.test";
  InsertUser(s(), other_owner, c().org_a, "owner");
  auto second = Login(s(), other_owner);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(s().Do("POST", url, second->headers(), R"({"step": "gate", "decision": "maybe"})").status,
            400);
  EXPECT_EQ(s().Do("POST", url, second->headers(), R"({"step": "a", "decision": "approve"})").status,
            409);
  EXPECT_EQ(s().Do("POST", url, second->headers(), R"({"decision": "approve"})").status, 400);
  EXPECT_EQ(s().Do("POST", url, second->headers(),
                   R"({"step": "gate", "decision": "approve", "extra": 1})").status,
            400);
  EXPECT_EQ(Str(Json(s().Do("GET", A() + "/runs/" + run, key)), "status"), "awaiting_approval");

  // Another owner approves: the run resumes and finishes.
  r = s().Do("POST", url, second->headers(), approve);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "queued");
  EXPECT_EQ(Json(r).at("approvals"), bj::value(1));
  bj::value record;
  for (int i = 0; i < 500; ++i) {
    record = Json(s().Do("GET", A() + "/runs/" + run, key));
    if (Str(record, "status") == "succeeded" || Str(record, "status") == "failed") break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(Str(record, "status"), "succeeded") << bj::serialize(record);
  EXPECT_EQ(record.at("output").at("n"), bj::value(2));
  const bj::value& gate = record.at("steps").at(1);
  EXPECT_EQ(Str(gate, "status"), "succeeded");
  EXPECT_EQ(Str(gate.at("approvals").at(0), "comment"), "lgtm");
  // Decided once: a second decision finds nothing waiting.
  EXPECT_EQ(s().Do("POST", url, second->headers(), approve).status, 409);

  // Audited: the refusal of the initiator as denied, the approval as success.
  bool denied = false, approved = false;
  for (const auto& e : AuditItems(A(), key)) {
    if (Str(e, "action") != "run.approve" || Str(e, "target") != run) continue;
    denied |= Str(e, "outcome") == "denied";
    approved |= Str(e, "outcome") == "success";
  }
  EXPECT_TRUE(denied);
  EXPECT_TRUE(approved);
}

// A run is as private as its workflow (ASVS V8.2.2, spec/security.md 3): a member who may
// not see a private workflow gets 404 not_found, exactly as for a run that does not exist,
// on every route that shows or acts on a run, and never finds its runs in a list, whose
// pages stay full (the filter is in the store's query, before paging). Each member still
// sees their own private workflows' runs and the org-visible ones; owners see all. A child
// run follows its own workflow's visibility, whatever its parent's; a run whose workflow
// was deleted is left to owners (its visibility is no longer known).
TEST_F(ApiTest, RunsOfAPrivateWorkflowAreAsPrivateAsTheWorkflow) {
  const HttpHeaders owner = Bearer(c().owner_rw_key);
  const HttpHeaders dev_key = Bearer(c().dev_rw_key);
  const HttpHeaders owner_session = c().owner_session.headers();
  const HttpHeaders dev_session = c().dev_session.headers();
  // Another developer of org A (the JWT fixtures' user).
  const HttpHeaders ada =
      Bearer(std::string(JwtFixture().at("tokens").at("valid_rs256").as_string()));
  const std::string w = A() + "/workflows/";
  auto create = [&](const HttpHeaders& who, const std::string& yaml, bool publish) {
    HttpResponse r = s().Do("POST", A() + "/workflows", who, yaml, "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    if (publish) {
      r = s().Do("POST", w + Str(Json(r), "id") + "/publish", owner, R"({"version": 1})");
      ASSERT_EQ(r.status, 200) << r.body;
    }
  };
  auto start = [&](const HttpHeaders& who, const std::string& id, const std::string& version,
                   const std::string& status = "succeeded") {
    HttpResponse r = s().Do("POST", w + id + "/runs", who,
                            R"({"input": {}, "version": ")" + version + R"(", "wait": 20})");
    EXPECT_EQ(r.status, status == "awaiting_approval" ? 202 : 200) << r.body;
    EXPECT_EQ(Str(Json(r), "status"), status) << r.body;
    return Str(Json(r), "run_id");
  };
  create(owner, WorkflowYaml("rv-owner-private", "private"), true);
  create(owner, WorkflowYaml("rv-org", "org"), true);
  create(dev_key, WorkflowYaml("rv-dev-private", "private"), false);
  std::set<std::string> owner_private, org_visible, dev_private;
  for (int i = 0; i < 4; ++i) {
    owner_private.insert(start(owner, "rv-owner-private", "live"));
    org_visible.insert(start(owner, "rv-org", "live"));
    owner_private.insert(start(owner, "rv-owner-private", "live"));
    dev_private.insert(start(dev_key, "rv-dev-private", "draft"));
  }
  // A private child called by an org-visible parent.
  create(owner, WorkflowYaml("rv-child", "private"), true);
  create(owner,
         "rampart: 1\nid: rv-parent\nvisibility: org\nsteps:\n  - id: call\n    type: workflow\n"
         "    workflow: rv-child\n",
         true);
  const std::string parent = start(owner, "rv-parent", "live");
  org_visible.insert(parent);
  HttpResponse r = s().Do("GET", A() + "/runs?workflow=rv-child", owner);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Json(r).at("items").as_array().size(), 1u) << r.body;
  const std::string child = Str(Json(r).at("items").at(0), "run_id");
  ASSERT_EQ(child.substr(0, 4), "run_") << r.body;
  owner_private.insert(child);
  // A run of an org-visible workflow that was deleted since.
  create(owner, WorkflowYaml("rv-gone", "org"), true);
  const std::string orphan = start(owner, "rv-gone", "live");
  ASSERT_EQ(s().Do("DELETE", w + "rv-gone", owner).status, 200);
  // A private run waiting for an approval (cancel and approve would change it).
  create(owner,
         "rampart: 1\nid: rv-gate\nvisibility: private\nsteps:\n  - id: gate\n"
         "    type: approval\n    approvers: { roles: [owner] }\n",
         true);
  const std::string waiting = start(owner, "rv-gate", "live", "awaiting_approval");
  owner_private.insert(waiting);

  const HttpResponse absent = s().Do("GET", A() + "/runs/run_doesnotexist", owner);
  ASSERT_EQ(absent.status, 404);
  // Hidden from `who`: every run route answers as it does for a run that does not exist.
  auto expect_hidden = [&](const HttpHeaders& who, const std::string& run) {
    SCOPED_TRACE("hidden run " + run);
    for (const std::string suffix : {"", "/hooks"}) {
      HttpResponse got = s().Do("GET", A() + "/runs/" + run + suffix, who);
      EXPECT_EQ(got.status, 404) << suffix << ": " << got.body;
      EXPECT_EQ(ErrorCodeOf(got), "not_found");
      EXPECT_EQ(ErrorMessageOf(got), ErrorMessageOf(absent));
      EXPECT_EQ(got.body.find(run), std::string::npos);
    }
    HttpResponse cancel = s().Do("POST", A() + "/runs/" + run + "/cancel", who);
    EXPECT_EQ(cancel.status, 404) << cancel.body;
    EXPECT_EQ(ErrorMessageOf(cancel), ErrorMessageOf(absent));
    // Developers lack runs:approve and webhooks:manage: refused before any run is read,
    // the same way for a hidden run as for none.
    const std::string approve = R"({"step": "gate", "decision": "approve"})";
    for (const std::string route : {"/approvals", "/hooks/redeliver"}) {
      const std::string body = route == "/approvals" ? approve : "{}";
      HttpResponse hidden = s().Do("POST", A() + "/runs/" + run + route, who, body);
      HttpResponse none = s().Do("POST", A() + "/runs/run_doesnotexist" + route, who, body);
      EXPECT_EQ(hidden.status, none.status) << route << ": " << hidden.body;
      EXPECT_EQ(ErrorCodeOf(hidden), ErrorCodeOf(none)) << route;
      EXPECT_EQ(ErrorMessageOf(hidden), ErrorMessageOf(none)) << route;
    }
  };
  auto expect_visible = [&](const HttpHeaders& who, const std::string& run) {
    SCOPED_TRACE("visible run " + run);
    EXPECT_EQ(s().Do("GET", A() + "/runs/" + run, who).status, 200);
    EXPECT_EQ(s().Do("GET", A() + "/runs/" + run + "/hooks", who).status, 200);
  };
  // Every run of the org listed to `who` (pages of 3; every page but the last full, no
  // run twice), checked against what `who` may and may not see.
  auto list = [&](const HttpHeaders& who, const std::string& query) {
    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    bool short_page = false;
    do {
      std::string url = A() + "/runs?limit=3" + query;
      if (!cursor.empty()) url += "&cursor=" + cursor;
      HttpResponse page = s().Do("GET", url, who);
      EXPECT_EQ(page.status, 200) << page.body;
      if (page.status != 200) break;
      const bj::value v = Json(page);
      const size_t n = v.at("items").as_array().size();
      EXPECT_FALSE(short_page) << "a page before page " << pages << " was not full";
      short_page = n < 3;
      for (const auto& item : v.at("items").as_array()) {
        const std::string id = Str(item, "run_id");
        EXPECT_TRUE(seen.insert(id).second) << "listed twice: " << id;
      }
      cursor = v.at("next_cursor").is_string() ? std::string(v.at("next_cursor").as_string()) : "";
      EXPECT_TRUE(cursor.empty() || n == 3) << "a page with a next cursor was not full";
      if (++pages > 2000) break;
    } while (!cursor.empty());
    return seen;
  };
  auto check_list = [&](const HttpHeaders& who, const std::string& query,
                        const std::set<std::string>& must, const std::set<std::string>& never) {
    SCOPED_TRACE("list" + query);
    const std::set<std::string> listed = list(who, query);
    for (const std::string& id : must) EXPECT_TRUE(listed.count(id)) << id << " not listed";
    for (const std::string& id : never) EXPECT_FALSE(listed.count(id)) << id << " listed";
  };
  std::set<std::string> hidden_from_devs = owner_private;
  hidden_from_devs.insert(orphan);

  for (const HttpHeaders* dev : {&dev_session, &dev_key}) {
    for (const std::string& run : hidden_from_devs) expect_hidden(*dev, run);
    for (const std::string& run : dev_private) expect_visible(*dev, run);
    for (const std::string& run : org_visible) expect_visible(*dev, run);
    std::set<std::string> mine = dev_private;
    mine.insert(org_visible.begin(), org_visible.end());
    check_list(*dev, "", mine, hidden_from_devs);
    check_list(*dev, "&status=succeeded", mine, hidden_from_devs);
    check_list(*dev, "&workflow=rv-owner-private", {}, owner_private);
    check_list(*dev, "&workflow=rv-dev-private", dev_private, {});
    check_list(*dev, "&workflow=rv-child&status=succeeded", {}, {child});
  }
  // The other developer sees neither private workflow's runs.
  for (const std::string& run : dev_private) expect_hidden(ada, run);
  for (const std::string& run : owner_private) expect_hidden(ada, run);
  for (const std::string& run : org_visible) expect_visible(ada, run);
  std::set<std::string> hidden_from_ada = hidden_from_devs;
  hidden_from_ada.insert(dev_private.begin(), dev_private.end());
  check_list(ada, "", org_visible, hidden_from_ada);
  check_list(ada, "&workflow=rv-dev-private", {}, dev_private);

  // Nothing the developers tried changed the waiting run.
  r = s().Do("GET", A() + "/runs/" + waiting, owner);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "awaiting_approval");

  // Owners see every run.
  std::set<std::string> all = hidden_from_ada;
  all.insert(org_visible.begin(), org_visible.end());
  for (const HttpHeaders* who : {&owner, &owner_session}) {
    for (const std::string& run : all) expect_visible(*who, run);
  }
  check_list(owner_session, "", all, {});
  check_list(owner, "&workflow=rv-dev-private", dev_private, {});
  // The answer names a run status of spec/workflow.md: a waiting run is cancelled at once.
  r = s().Do("POST", A() + "/runs/" + waiting + "/cancel", owner);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "cancelled") << r.body;
  EXPECT_FALSE(Json(r).at("cancel_requested").as_bool()) << r.body;
  r = s().Do("GET", A() + "/runs/" + waiting, owner);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "status"), "cancelled");
}

// A workflow deleted and created again under its id by someone else: the runs of the
// deleted one stay owner-only (as for any deleted workflow's runs), never the new
// creator's to read or list; also when the wall clock was set back between the delete and
// the new creation, so that the deleted workflow's run looks younger than the new row.
TEST_F(ApiTest, RunsOfADeletedWorkflowStayHiddenWhenItsIdIsCreatedAgain) {
  const HttpHeaders owner = Bearer(c().owner_rw_key);
  const HttpHeaders dev_key = Bearer(c().dev_rw_key);
  const std::string w = A() + "/workflows/";
  const std::string draft = R"({"input": {}, "version": "draft", "wait": 20})";
  for (const seconds step : {seconds(1), -seconds(30)}) {
    SCOPED_TRACE("wall clock moved by " + std::to_string(step.count()) + " s");
    const std::string id = step.count() > 0 ? "rv-reborn" : "rv-reborn-back";
    HttpResponse r = s().Do("POST", A() + "/workflows", owner,
                            WorkflowYaml(id, "private", "old"), "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    r = s().Do("POST", w + id + "/runs", owner, draft);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string old_run = Str(Json(r), "run_id");
    ASSERT_EQ(s().Do("DELETE", w + id, owner).status, 200);
    s().clock().AdvanceWall(step);
    r = s().Do("POST", A() + "/workflows", dev_key, WorkflowYaml(id, "private", "new"),
               "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    r = s().Do("POST", w + id + "/runs", dev_key, draft);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(OutputMarker(r), "new");
    const std::string new_run = Str(Json(r), "run_id");

    r = s().Do("GET", A() + "/runs/" + old_run, dev_key);
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.body.find("old"), std::string::npos) << r.body;
    EXPECT_EQ(s().Do("POST", A() + "/runs/" + old_run + "/cancel", dev_key).status, 404);
    EXPECT_EQ(s().Do("GET", A() + "/runs/" + new_run, dev_key).status, 200);
    auto listed = [&](const HttpHeaders& who) {
      HttpResponse page = s().Do("GET", A() + "/runs?workflow=" + id, who);
      EXPECT_EQ(page.status, 200) << page.body;
      std::set<std::string> ids;
      const bj::value body = Json(page);
      for (const auto& item : body.at("items").as_array()) ids.insert(Str(item, "run_id"));
      return ids;
    };
    EXPECT_EQ(listed(dev_key), (std::set<std::string>{new_run}));
    EXPECT_EQ(listed(owner), (std::set<std::string>{old_run, new_run}));
    EXPECT_EQ(s().Do("GET", A() + "/runs/" + old_run, owner).status, 200);

    ASSERT_EQ(s().Do("DELETE", w + id, dev_key).status, 200);
    s().clock().AdvanceWall(-step);
  }
}

// ---------------------------------------------------------------------------------------
// 10. Error shape, OpenAPI, metrics

TEST_F(ApiTest, ErrorShapeAndSecurityHeaders) {
  // Do() checks shape and headers of every response; here a spread of errors.
  EXPECT_EQ(s().Do("GET", "/v1/nothing-here").status, 404);
  EXPECT_EQ(s().Do("DELETE", "/healthz").status, 405);
  EXPECT_EQ(s().Do("GET", A()).status, 401);
  EXPECT_EQ(s().Do("POST", A() + "/api-keys", Bearer(c().owner_rw_key), "{not json").status, 400);
  EXPECT_EQ(s().Do("GET", A() + "/audit?limit=9999", Bearer(c().owner_rw_key)).status, 400);
  std::string big(70 * 1024, 'x');
  HttpResponse r = s().Do("POST", "/v1/auth/login", {}, big);
  EXPECT_EQ(r.status, 413);
  r = s().Do("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
}

TEST_F(ApiTest, OpenApiListsEveryRoute) {
  HttpResponse r = s().Do("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  bj::value doc = Json(r);
  ASSERT_TRUE(doc.is_object());
  const bj::object& paths = doc.at("paths").as_object();
  for (const server::Route& route : s().router().routes()) {
    const bj::value* item = paths.if_contains(route.pattern);
    ASSERT_TRUE(item != nullptr) << route.pattern;
    std::string method = route.method;
    for (char& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bj::value* op = item->as_object().if_contains(method);
    ASSERT_TRUE(op != nullptr) << route.method << " " << route.pattern;
    EXPECT_EQ(Str(*op, "operationId"), route.operation_id);
  }
  // The documented successes are the answers the routes give (spec/interfaces.md: a run
  // is 202 {run_id}, or 200 with the record when it finished within `wait`).
  auto successes = [&](const char* path, const char* method) {
    std::set<std::string> codes;
    for (const auto& [code, response] :
         paths.at(path).at(method).at("responses").as_object()) {
      if (code.starts_with("2")) codes.insert(std::string(code));
    }
    return codes;
  };
  using Codes = std::set<std::string>;
  EXPECT_EQ(successes("/v1/orgs/{org}/workflows/{id}/runs", "post"), (Codes{"200", "202"}));
  EXPECT_EQ(successes("/v1/auth/login", "post"), Codes{"200"});
  EXPECT_EQ(successes("/v1/setup", "post"), Codes{"201"});
  EXPECT_EQ(successes("/v1/orgs/{org}/api-keys", "post"), Codes{"201"});
  EXPECT_EQ(successes("/v1/orgs/{org}/workflows/{id}/publish", "post"), Codes{"200"});
  EXPECT_EQ(successes("/v1/orgs/{org}/runs/{run_id}/cancel", "post"), Codes{"202"});
  EXPECT_EQ(successes("/v1/orgs/{org}/runs/{run_id}/approvals", "post"), Codes{"200"});
  EXPECT_EQ(successes("/hooks/{token}", "post"), (Codes{"200", "202"}));
  EXPECT_EQ(successes("/v1/orgs/{org}/workflows/{id}", "put"), Codes{"200"});
}

// /v1/openapi.json matches what the routes really do: a route documented without security
// (`security: []`) answers a caller without credentials, a route that refuses one with 401
// is documented with the API's security schemes, every 401 and 413 a route answers is in
// its responses, and a definition is documented as the JSON or YAML body it is.
TEST_F(ApiTest, OpenApiDocumentsTheAuthBodiesAndErrorsTheRoutesServe) {
  HttpResponse r = s().Do("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  const bj::value doc = Json(r);
  int needing_credentials = 0;
  for (const server::Route& route : s().router().routes()) {
    std::string method = route.method;
    for (char& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bj::object& op = doc.at("paths").at(route.pattern).at(method).as_object();
    const bj::object& responses = op.at("responses").as_object();
    std::string path = Replace(route.pattern, "{org}", c().org_a);
    for (const char* param : {"{id}", "{user}", "{run_id}", "{hook_id}", "{token}",
                              "{org_slug}", "{workflow_id}"}) {
      path = Replace(path, param, "nothing_here");
    }
    SCOPED_TRACE(route.method + " " + route.pattern);
    // Needs API credentials: refused without them, not refused with the owner's key.
    s().ResetLimits();
    HttpResponse anonymous = s().Do(route.method, path);
    HttpResponse keyed = s().Do(route.method, path, Bearer(c().owner_rw_key));
    const bool needs_credentials = anonymous.status == 401 && keyed.status != 401;
    // A list (an answer with next_cursor) documents the limit and cursor it takes.
    if (keyed.status == 200 && keyed.body.find("\"next_cursor\"") != std::string::npos) {
      std::set<std::string> query;
      if (const bj::value* parameters = op.if_contains("parameters")) {
        for (const auto& p : parameters->as_array()) {
          if (Str(p, "in") == "query") query.insert(Str(p, "name"));
        }
      }
      EXPECT_TRUE(query.count("limit") && query.count("cursor")) << keyed.body.substr(0, 100);
    }
    const bj::value* security = op.if_contains("security");
    const bool documented_public =
        security != nullptr && security->is_array() && security->as_array().empty();
    EXPECT_EQ(documented_public, !needs_credentials)
        << "anonymous " << anonymous.status << ", with a key " << keyed.status;
    if (anonymous.status == 401 || keyed.status == 401) {
      EXPECT_TRUE(responses.contains("401"));
    }
    if (needs_credentials) {
      ++needing_credentials;
      EXPECT_TRUE(responses.contains("403"));
    }
    // A body past the route's limit (declared, so refused before it is read).
    if (route.method != "GET" && route.max_body > 0 && route.max_body <= 256 * 1024) {
      s().ResetLimits();
      HttpResponse big = s().Do(route.method, path, Bearer(c().owner_rw_key),
                                std::string(route.max_body + 1, ' '));
      EXPECT_EQ(big.status, 413);
      EXPECT_TRUE(responses.contains("413"));
    }
    if (route.method != "GET" && route.max_body > 0) {
      EXPECT_TRUE(responses.contains("413"));
    }
  }
  // /metrics, logout, the password change and the org list among them.
  EXPECT_GT(needing_credentials, 30);
  for (const char* path : {"/metrics", "/v1/orgs"}) {
    EXPECT_FALSE(doc.at("paths").at(path).at("get").as_object().contains("security")) << path;
  }
  for (const char* method : {"post", "put"}) {
    const char* path = std::string_view(method) == "post" ? "/v1/orgs/{org}/workflows"
                                                          : "/v1/orgs/{org}/workflows/{id}";
    const bj::object& content =
        doc.at("paths").at(path).at(method).at("requestBody").at("content").as_object();
    EXPECT_TRUE(content.contains("application/json")) << method;
    EXPECT_TRUE(content.contains("application/yaml")) << method;
  }
  EXPECT_TRUE(doc.at("paths").at("/readyz").at("get").at("responses").as_object().contains("503"));
  auto query = [&](const char* path) {
    std::set<std::string> names;
    for (const auto& p : doc.at("paths").at(path).at("get").at("parameters").as_array()) {
      if (Str(p, "in") == "query") names.insert(Str(p, "name"));
    }
    return names;
  };
  using Names = std::set<std::string>;
  EXPECT_EQ(query("/v1/orgs/{org}/runs"), (Names{"workflow", "status", "limit", "cursor"}));
  EXPECT_EQ(query("/v1/orgs/{org}/audit"), (Names{"after", "limit", "cursor"}));
  EXPECT_EQ(query("/v1/orgs/{org}/workflows/{id}/versions"), (Names{"limit", "cursor"}));
}

TEST_F(ApiTest, MetricsNeedAuthentication) {
  EXPECT_EQ(s().Do("GET", "/metrics").status, 401);
  HttpResponse r = s().Do("GET", "/metrics", Bearer(c().owner_read_key));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("rampart_http_requests_total"), std::string::npos);
  EXPECT_NE(r.body.find("rampart_runs"), std::string::npos);
  // Raw paths (with ids) never become labels.
  EXPECT_EQ(r.body.find(c().org_a), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// 11. Audit

TEST_F(ApiTest, AuditListsTheOrgsEventsAndTheChainIsIntact) {
  // Events of its own, so the test stands alone (ctest runs every test in its own process).
  std::string temp = InsertUser(s(), "audit-temp@a.test", c().org_a, "developer");
  ASSERT_EQ(s().Do("DELETE", A() + "/members/" + temp, Bearer(c().owner_rw_key)).status, 200);
  EXPECT_EQ(s().Do("GET", A(), Bearer("rpk_garbage")).status, 401);
  EXPECT_TRUE(Login(s(), "dev@a.test", kDevPassword).has_value());
  EXPECT_FALSE(Login(s(), "dev@a.test", "not the password of dev").has_value());
  std::set<std::string> actions;
  std::set<std::string> failed_logins;  // users whose failed logins org A's audit shows
  bool dev_login = false;
  int64_t after = 0;
  for (int page = 0; page < 100; ++page) {
    HttpResponse r = s().Do("GET", A() + "/audit?limit=50&after=" + std::to_string(after),
                            Bearer(c().owner_read_key));
    ASSERT_EQ(r.status, 200) << r.body;
    bj::value v = Json(r);
    for (const auto& e : v.at("items").as_array()) {
      actions.insert(Str(e, "action"));
      EXPECT_EQ(r.body.find(kPassword), std::string::npos);
      // Each event names its org (spec/security.md 7: time, org, actor, ...).
      EXPECT_EQ(Str(e, "org"), c().org_a);
      dev_login = dev_login || (Str(e, "action") == "login" &&
                                Str(e, "actor") == "user:" + c().dev_id &&
                                Str(e, "outcome") == "success");
      if (Str(e, "action") == "auth.failed" && Str(e, "target") == "login") {
        failed_logins.insert(Str(e.at("details"), "user_id"));
      }
    }
    if (v.at("items").as_array().empty()) break;
    after = v.at("next_after").to_number<int64_t>();
  }
  for (const char* a : {"setup", "member.add", "api_key.create", "api_key.revoke",
                        "workflow.create", "workflow.publish", "run.start", "member.remove"}) {
    EXPECT_TRUE(actions.count(a)) << "missing audit action " << a;
  }
  // A member's logins and failed logins are in their org's audit, where its owners read
  // them; the wrong password never is.
  EXPECT_TRUE(dev_login);
  EXPECT_TRUE(failed_logins.count(c().dev_id));
  // Not in an org the user does not belong to.
  const std::string b_audit = bj::serialize(AuditItems(B(), Bearer(c().owner_b_key)));
  EXPECT_EQ(b_audit.find(c().dev_id), std::string::npos);
  EXPECT_EQ(b_audit.find("not the password of dev"), std::string::npos);
  EXPECT_EQ(s().Do("GET", A() + "/audit", c().dev_session.headers()).status, 403);
  // Logins of an unknown email are recorded without an org.
  std::set<std::string> all;
  ASSERT_TRUE(s().store()
                  .Read([&](store::Tx& tx) -> Status {
                    auto events = tx.ListAllAudit(0, 100000);
                    if (!events.ok()) return events.error();
                    for (const auto& e : *events) {
                      all.insert(e.action);
                      EXPECT_EQ(e.details.find(kPassword), std::string::npos);
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(all.count("login"));
  EXPECT_TRUE(all.count("auth.failed"));
  auto report = audit::Verify(s().store());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->reason;
  EXPECT_GT(report->events, 10);
}

// Failed authorization is audited (ASVS V16.3.2), with who, where from and why, in the
// audit of the org whose owners should see it; the answers are unchanged.
TEST_F(ApiTest, DeniedAuthorizationsAreAudited) {
  // A developer reading the audit (needs audit:read): 403.
  EXPECT_EQ(s().Do("GET", A() + "/audit", Bearer(c().dev_rw_key)).status, 403);
  // An org B key probing org A: 404, as for an org that does not exist.
  EXPECT_EQ(s().Do("GET", A() + "/workflows", Bearer(c().owner_b_key)).status, 404);
  // A session cookie without its CSRF token on a state-changing route: 403.
  EXPECT_EQ(s().Do("POST", A() + "/api-keys", {{"Cookie", c().dev_session.cookie}},
                   R"({"name": "csrf"})")
                .status,
            403);
  std::vector<store::AuditEvent> denied;
  ASSERT_TRUE(s().store()
                  .Read([&](store::Tx& tx) -> Status {
                    auto events = tx.ListAllAudit(0, 100000);
                    if (!events.ok()) return events.error();
                    for (const auto& e : *events) {
                      if (e.action == "authz.denied") denied.push_back(e);
                    }
                    return Status::Ok();
                  })
                  .ok());
  // The newest event of each target: the suite's server is shared, so earlier tests in
  // the same process may have been denied on the same routes.
  auto find = [&](std::string_view target) -> const store::AuditEvent* {
    for (auto it = denied.rbegin(); it != denied.rend(); ++it) {
      if (it->target == target) return &*it;
    }
    return nullptr;
  };
  const store::AuditEvent* permission = find("listAudit");
  ASSERT_NE(permission, nullptr);
  EXPECT_EQ(permission->org_id, c().org_a);
  EXPECT_EQ(permission->actor.rfind("key:", 0), 0u) << permission->actor;
  EXPECT_EQ(permission->outcome, "failure");
  EXPECT_EQ(permission->source_ip, "127.0.0.1");
  EXPECT_GT(permission->time, 0);
  EXPECT_NE(permission->details.find("audit:read"), std::string::npos) << permission->details;
  const store::AuditEvent* foreign = find("listWorkflows");
  ASSERT_NE(foreign, nullptr);
  // Not in org A's audit under org B's name, nor in org B's: without an org, naming org A.
  EXPECT_EQ(foreign->org_id, "");
  EXPECT_NE(foreign->details.find(c().org_a), std::string::npos) << foreign->details;
  EXPECT_EQ(foreign->source_ip, "127.0.0.1");
  const store::AuditEvent* csrf = find("createApiKey");
  ASSERT_NE(csrf, nullptr);
  EXPECT_NE(csrf->details.find("CSRF"), std::string::npos) << csrf->details;
  // The owners of org A read the 403 in their audit.
  EXPECT_NE(bj::serialize(AuditItems(A(), Bearer(c().owner_read_key))).find("authz.denied"),
            std::string::npos);
  auto report = audit::Verify(s().store());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->intact) << report->reason;
}

// Log injection (ASVS V16.4.1): what a client sends in User-Agent or in the path lands in
// the audit encoded, so the audit stays valid UTF-8 JSON with one event per item, and a
// collector reading it cannot be fed a forged line or an unparseable page.
TEST_F(ApiTest, HostileUserAgentAndPathCannotCorruptTheAudit) {
  const std::string hostile = "evil \xFF\xFE\xC3 \xC2\x9B" "31m \xE2\x80\xA8 end";
  EXPECT_FALSE(Login(s(), "dev@a.test", "not the password of dev").has_value());
  HttpResponse r = s().Do("POST", "/v1/auth/login", {{"User-Agent", hostile}},
                          R"({"email": "dev@a.test", "password": "not the password"})");
  EXPECT_EQ(r.status, 401);
  // A member without audit:read (403), and a path org of raw bytes, a newline included.
  EXPECT_EQ(s().Do("GET", A() + "/audit", {{"Authorization", "Bearer " + c().dev_rw_key},
                                           {"User-Agent", hostile}})
                .status,
            403);
  EXPECT_EQ(s().Do("GET", "/v1/orgs/%FF%0Aforged%C2%9B/workflows", Bearer(c().dev_rw_key)).status,
            404);
  std::vector<store::AuditEvent> events;
  ASSERT_TRUE(s().store()
                  .Read([&](store::Tx& tx) -> Status {
                    auto all = tx.ListAllAudit(0, 100000);
                    if (!all.ok()) return all.error();
                    events = std::move(all).value();
                    return Status::Ok();
                  })
                  .ok());
  int hostile_seen = 0;
  for (const store::AuditEvent& e : events) {
    for (const std::string* field : {&e.user_agent, &e.details, &e.target}) {
      EXPECT_TRUE(ValidUtf8(*field)) << e.action << ": " << *field;
      EXPECT_EQ(field->find('\n'), std::string::npos) << e.action;
      EXPECT_EQ(field->find("\xC2\x9B"), std::string::npos) << e.action;
      EXPECT_EQ(field->find("\xE2\x80\xA8"), std::string::npos) << e.action;
    }
    if (e.user_agent.find("evil") == 0) {
      ++hostile_seen;
      EXPECT_NE(e.user_agent.find("end"), std::string::npos);
    }
  }
  EXPECT_GE(hostile_seen, 2);  // the failed login and the denied read are both there
  r = s().Do("GET", A() + "/audit?limit=500", Bearer(c().owner_read_key));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(ValidUtf8(r.body));
}

// A probe cannot flood the audit: past the per-source budget, denials are answered the
// same but no longer audited.
TEST_F(ApiTest, DeniedAuthorizationAuditsAreBoundedPerSource) {
  // The suite's server is shared: start from a fresh budget and count only this test's
  // denials.
  s().ResetLimits();
  auto count_denied = [&] {
    int64_t n = 0;
    EXPECT_TRUE(s().store()
                    .Read([&](store::Tx& tx) -> Status {
                      auto events = tx.ListAllAudit(0, 100000);
                      if (!events.ok()) return events.error();
                      for (const auto& e : *events) n += e.action == "authz.denied";
                      return Status::Ok();
                    })
                    .ok());
    return n;
  };
  const int64_t before = count_denied();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(s().Do("GET", A() + "/audit", Bearer(c().dev_rw_key)).status, 403);
  }
  const int64_t denied = count_denied() - before;
  EXPECT_GE(denied, 1);
  EXPECT_LE(denied, 10);  // the fixture's budget: 10 a minute
  s().ResetLimits();
  // The budget was for auditing only: a permitted request of the same source passes.
  EXPECT_EQ(s().Do("GET", A() + "/audit", Bearer(c().owner_rw_key)).status, 200);
}

// ---------------------------------------------------------------------------------------
// Shutdown: the Api may be destroyed while answers are still on their way.

// A store whose writes are held, in order, until Open(): the test decides when the
// writer thread may run their completions.
class HeldWritesStore final : public store::Store {
 public:
  explicit HeldWritesStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override { return inner_.Read(fn); }
  Status Ping() override { return inner_.Ping(); }
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    std::promise<Status> done;
    auto result = done.get_future();
    WriteAsync([&fn](store::Tx& tx) { return fn(tx); },
               [&done](Status s) { done.set_value(std::move(s)); });
    return result.get();
  }
  void WriteAsync(std::function<Status(store::Tx&)> fn, std::function<void(Status)> done) override {
    std::lock_guard lock(mu_);
    if (open_) return inner_.WriteAsync(std::move(fn), std::move(done));
    held_.emplace_back(std::move(fn), std::move(done));
    cv_.notify_all();
  }
  // Forwards the held writes in their order (under the lock: none overtakes them).
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    for (auto& [fn, done] : held_) inner_.WriteAsync(std::move(fn), std::move(done));
    held_.clear();
  }
  // Waits until `stop(held writes)` is true; Poke() re-checks after outside changes.
  void WaitUntil(const std::function<bool(size_t)>& stop) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop(held_.size()); });
  }
  void Poke() {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }

 private:
  store::Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mu_
  std::vector<std::pair<std::function<Status(store::Tx&)>, std::function<void(Status)>>>
      held_;  // guarded by mu_
};

// One request handed straight to a route's async_handler (no HTTP server): the route is
// looked up by operation id, and the answer arrives through the returned future.
struct DirectCall {
  server::Request request;
  std::promise<server::Response> answered;
  std::future<server::Response> answer = answered.get_future();

  DirectCall(std::string method, std::string path, std::string request_id) {
    request.method = std::move(method);
    request.path = std::move(path);
    request.remote_ip = "127.0.0.1";
    request.request_id = std::move(request_id);
  }
  // Calls the route's async_handler; aborts when the router has no such async route.
  void Dispatch(const server::Router& router, std::string_view operation_id) {
    const server::Route* route = nullptr;
    for (const auto& r : router.routes()) {
      if (r.operation_id == operation_id) route = &r;
    }
    if (route == nullptr || !route->async_handler) std::abort();
    route->async_handler(
        request, server::Responder(
                     [this](server::Response r) { answered.set_value(std::move(r)); },
                     request.request_id));
  }
};

// Sends one request to the route `operation_id` of a fresh Api whose store holds every
// write, destroys the Api while the request's answer still waits for a held write, then
// lets the writes through and returns the answer. The writes are let through once the
// destructor returned or is itself waiting for the store behind them, so a completion
// cannot win the race with the destructor by luck. `audit` gets the actions audited.
server::Response AnswerAcrossDestruction(const std::string& operation_id, const std::string& body,
                                         std::set<std::string>* audit) {
  char tmpl[] = "/tmp/rampart-api-shutdown-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) std::abort();
  const std::string dir = tmpl;
  server::Response out;
  {
    auto opened = store::OpenSqliteStore({.path = dir + "/rampart.db", .synchronous_full = false});
    if (!opened.ok()) std::abort();
    std::unique_ptr<store::Store> inner = std::move(opened).value();
    auto hash = crypto::HashPassword(kPassword, SystemRandom());
    if (!hash.ok()) std::abort();
    EXPECT_TRUE(inner
                    ->Write([&](store::Tx& tx) {
                      return tx.InsertUser({.id = NewId("usr_"), .email = "late@shutdown.test",
                                            .password_hash = *hash, .created_at = 1});
                    })
                    .ok());
    HeldWritesStore held(*inner);
    auth::Authenticator authenticator(auth::AuthConfig{}, SystemClock());
    api::ApiDeps deps;
    deps.store = &held;
    deps.authenticator = &authenticator;
    auto api = std::make_unique<api::Api>(deps, api::ApiOptions{});
    server::Router router;
    api->RegisterRoutes(router);
    std::string pattern;
    for (const auto& r : router.routes()) {
      if (r.operation_id == operation_id) pattern = r.pattern;
    }
    DirectCall call("POST", pattern, "req_shutdown");
    call.request.headers.emplace_back("Content-Type", "application/json");
    call.request.body = body;
    call.Dispatch(router, operation_id);

    std::atomic<bool> destroyed{false};
    std::thread destroyer([&] {
      api.reset();
      destroyed = true;
      held.Poke();
    });
    held.WaitUntil([&](size_t n) { return n >= 1 && (destroyed || n >= 2); });
    held.Open();
    destroyer.join();
    out = call.answer.get();
    EXPECT_TRUE(inner
                    ->Read([&](store::Tx& tx) -> Status {
                      auto events = tx.ListAllAudit(0, 1000);
                      if (!events.ok()) return events.error();
                      for (const auto& e : *events) audit->insert(e.action);
                      return Status::Ok();
                    })
                    .ok());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return out;
}

// A write route's commit completes on the store's writer thread and answers through the
// Api (Finish: trigger invalidation, the auth-failure audit). A logout without
// credentials fails in its write transaction, so its completion audits the failure: it
// must not run on a destroyed Api (ASan: heap-use-after-free on the route table and the
// failure limiter). The destructor waits for it.
TEST(ApiShutdown, WriteCompletionAnswersBeforeTheApiIsGone) {
  std::set<std::string> audit;
  server::Response r = AnswerAcrossDestruction("logout", "", &audit);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_TRUE(audit.count("auth.failed"));
}

// A login whose password is still being checked when the Api is destroyed: the password
// workers run it to the end (declared last in Api::Impl, they are stopped first) and its
// session commit completes on the writer thread, answering through the Api after that.
TEST(ApiShutdown, LoginInFlightIsAnsweredBeforeTheApiIsGone) {
  std::set<std::string> audit;
  server::Response r = AnswerAcrossDestruction(
      "login", bj::serialize(bj::object{{"email", "late@shutdown.test"}, {"password", kPassword}}),
      &audit);
  EXPECT_EQ(r.status, 200) << r.body;
  bool cookie = false;
  for (const auto& [name, value] : r.headers) cookie = cookie || name == "Set-Cookie";
  EXPECT_TRUE(cookie);
  EXPECT_TRUE(audit.count("login"));
}

// A request authenticated by an API key whose use is due to be recorded is answered only
// once last_used_at committed: the caller's next request (here, the store read right after
// the answer) sees it. The touch's write is held, so the answer cannot come first by luck.
TEST(ApiTouch, AnswerComesAfterTheKeyUseIsRecorded) {
  char tmpl[] = "/tmp/rampart-api-touch-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto opened = store::OpenSqliteStore({.path = dir + "/rampart.db", .synchronous_full = false});
    ASSERT_TRUE(opened.ok());
    std::unique_ptr<store::Store> inner = std::move(opened).value();
    const std::string org = NewId("org_");
    ASSERT_TRUE(inner
                    ->Write([&](store::Tx& tx) {
                      return tx.InsertOrg({.id = org, .slug = "touch", .name = "Touch",
                                           .max_concurrent_runs = 1, .created_at = 1});
                    })
                    .ok());
    const std::string key =
        rampart::testing::InsertMemberWithKey(*inner, org, "touch@x.test", "owner", 1);
    HeldWritesStore held(*inner);
    auth::Authenticator authenticator(auth::AuthConfig{}, SystemClock());
    api::ApiDeps deps;
    deps.store = &held;
    deps.authenticator = &authenticator;
    api::Api api(deps, api::ApiOptions{});
    server::Router router;
    api.RegisterRoutes(router);
    DirectCall call("GET", "/v1/orgs/" + org, "req_touch");
    call.request.params["org"] = org;
    call.request.headers.emplace_back("Authorization", "Bearer " + key);
    call.Dispatch(router, "getOrg");
    held.WaitUntil([](size_t n) { return n >= 1; });  // the touch
    EXPECT_EQ(call.answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
        << "answered before the key's use was recorded";
    held.Open();
    server::Response r = call.answer.get();
    EXPECT_EQ(r.status, 200) << r.body;
    bool touched = false;
    ASSERT_TRUE(inner
                    ->Read([&](store::Tx& tx) -> Status {
                      auto keys = tx.ListApiKeys(org, {});
                      if (!keys.ok()) return keys.error();
                      for (const auto& k : keys->items) touched = touched || k.last_used_at.has_value();
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_TRUE(touched);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// ---------------------------------------------------------------------------------------
// Idempotency-Key on POST .../runs (own servers: an outbound client that holds its requests
// keeps runs running, and the wall clock moves by a day)

// Every request waits until Release(), then gets 200 "{}".
class GatedOutbound final : public net::HttpClient {
 public:
  Result<net::HttpResponse> Fetch(const net::HttpRequest&, const net::EgressPolicy&) override {
    std::unique_lock lock(mu_);
    ++calls_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    net::HttpResponse response;
    response.status = 200;
    response.body = "{}";
    return response;
  }
  void Release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool WaitForCalls(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, seconds(30), [&] { return calls_ >= n; });
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int calls_ = 0;
};

class IdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = std::make_shared<GatedOutbound>();
    auto egress = std::make_shared<net::EgressPolicy>();
    egress->allow_http = true;
    testing::ApiServerOptions o;
    o.start = std::chrono::system_clock::time_point(seconds(1893456000));
    o.runs_on_manual_clock = true;
    o.outbound = out_;
    o.egress = egress;
    o.http_threads = 4;
    s_ = std::make_unique<testing::ApiServer>(o);
    std::tie(org_a_, org_b_) = testing::InsertTwoOrgs(s_->store(), s_->now_ms());
    key_ = testing::InsertMemberWithKey(s_->store(), org_a_, "owner@a.test", "owner", s_->now_ms());
    other_key_ =
        testing::InsertMemberWithKey(s_->store(), org_a_, "dev@a.test", "developer", s_->now_ms());
    key_b_ = testing::InsertMemberWithKey(s_->store(), org_b_, "owner@b.test", "owner", s_->now_ms());
    Publish(org_a_, key_, WorkflowYaml("quick"));
    Publish(org_a_, key_, WorkflowYaml("quick-2"));
    Publish(org_b_, key_b_, WorkflowYaml("quick"));
    Publish(org_a_, key_,
            "rampart: 1\nid: slow\nsteps:\n  - id: call\n    type: action\n    uses: http.request\n"
            "    with:\n      url: \"http://127.0.0.1:9/x\"\n      allow_http: true\n");
  }
  void TearDown() override {
    out_->Release();
    s_.reset();
  }

  void Publish(const std::string& org, const std::string& key, const std::string& yaml) {
    HttpResponse r = Post("/v1/orgs/" + org + "/workflows", key, yaml, {}, "application/yaml");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = Str(Json(r), "id");
    r = Post("/v1/orgs/" + org + "/workflows/" + id + "/publish", key, R"({"version": 1})");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  HttpResponse Post(const std::string& path, const std::string& key, std::string_view body,
                    const std::vector<std::string>& idempotency_keys = {},
                    std::string_view type = "application/json") {
    HttpHeaders headers = Bearer(key);
    headers.emplace_back("Content-Type", std::string(type));
    for (const auto& k : idempotency_keys) headers.emplace_back("Idempotency-Key", k);
    return s_->Send("POST", path, headers, body);
  }
  HttpResponse Start(const std::string& workflow, std::string_view body,
                     const std::vector<std::string>& idempotency_keys, std::string org = "",
                     std::string api_key = "") {
    if (org.empty()) org = org_a_;
    if (api_key.empty()) api_key = key_;
    return Post("/v1/orgs/" + org + "/workflows/" + workflow + "/runs", api_key, body,
                idempotency_keys);
  }
  // The runs of `workflow` in `org`, from the store.
  std::vector<store::Run> Runs(const std::string& org, const std::string& workflow) {
    std::vector<store::Run> runs;
    Status st = s_->store().Read([&](store::Tx& tx) -> Status {
      store::RunFilter filter;
      filter.workflow_id = workflow;
      auto page = tx.ListRuns(org, filter, {.after = "", .limit = 200});
      if (!page.ok()) return page.error();
      runs = std::move(page->items);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return runs;
  }
  // run.start audit events of `org`.
  int RunStarts(const std::string& org) {
    int n = 0;
    Status st = s_->store().Read([&](store::Tx& tx) -> Status {
      auto events = tx.ListAudit(org, 0, 10000);
      if (!events.ok()) return events.error();
      for (const auto& e : *events) n += e.action == "run.start" ? 1 : 0;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return n;
  }
  static std::string RunIdOf(const HttpResponse& r) { return Str(Json(r), "run_id"); }
  static bool Replayed(const HttpResponse& r) {
    return r.Header("Idempotent-Replayed").value_or("") == "true";
  }

  std::shared_ptr<GatedOutbound> out_;
  std::unique_ptr<testing::ApiServer> s_;
  std::string org_a_, org_b_, key_, other_key_, key_b_;
};

TEST_F(IdempotencyTest, ARepeatAnswersForTheSameRunAndStartsNothing) {
  const std::string waited = R"({"input": {}, "wait": 20})";
  HttpResponse first = Start("quick", waited, {"order-1"});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_FALSE(first.Header("Idempotent-Replayed").has_value());
  const std::string run_id = RunIdOf(first);
  ASSERT_EQ(run_id.substr(0, 4), "run_");
  for (int i = 0; i < 3; ++i) {
    HttpResponse again = Start("quick", waited, {"order-1"});
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_TRUE(Replayed(again));
    EXPECT_EQ(RunIdOf(again), run_id);
    EXPECT_EQ(Str(Json(again), "status"), "succeeded");
  }
  // Without wait: 202 with the run's id and status, the first time and on a repeat.
  const std::string queued = R"({"input": {}})";
  HttpResponse accepted = Start("quick", queued, {"order-2"});
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  EXPECT_FALSE(accepted.Header("Idempotent-Replayed").has_value());
  HttpResponse again = Start("quick", queued, {"order-2"});
  ASSERT_EQ(again.status, 202) << again.body;
  EXPECT_TRUE(Replayed(again));
  EXPECT_EQ(RunIdOf(again), RunIdOf(accepted));
  EXPECT_FALSE(Str(Json(again), "status").empty());
  // Two runs, two run.start events: the repeats started nothing.
  EXPECT_EQ(Runs(org_a_, "quick").size(), 2u);
  EXPECT_EQ(RunStarts(org_a_), 2);
  // A request without the header is not deduplicated.
  ASSERT_EQ(Start("quick", waited, {}).status, 200);
  ASSERT_EQ(Start("quick", waited, {}).status, 200);
  EXPECT_EQ(Runs(org_a_, "quick").size(), 4u);
  // Replays are counted.
  HttpResponse metrics = s_->Send("GET", "/metrics", Bearer(key_));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("rampart_run_idempotent_replays 4"), std::string::npos)
      << metrics.body.substr(0, 4000);
}

TEST_F(IdempotencyTest, OpenApiDocumentsTheHeaders) {
  HttpResponse r = s_->Send("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  const bj::value doc = Json(r);
  const bj::object& op =
      doc.at("paths").at("/v1/orgs/{org}/workflows/{id}/runs").at("post").as_object();
  bool documented = false;
  for (const auto& p : op.at("parameters").as_array()) {
    if (Str(p, "name") == "Idempotency-Key") {
      documented = true;
      EXPECT_EQ(Str(p, "in"), "header");
      EXPECT_FALSE(p.at("required").as_bool());
    }
  }
  EXPECT_TRUE(documented);
  for (const char* status : {"200", "202"}) {
    EXPECT_TRUE(op.at("responses").at(status).at("headers").as_object().contains(
        "Idempotent-Replayed"))
        << status;
  }
  EXPECT_TRUE(op.at("responses").as_object().contains("409"));
}

TEST_F(IdempotencyTest, TheSameKeyForAnotherRequestIsAConflict) {
  ASSERT_EQ(Start("quick", R"({"input": {}, "wait": 20})", {"k"}).status, 200);
  for (const auto& [workflow, body] : std::vector<std::pair<std::string, std::string>>{
           {"quick", R"({"input": {"x": 1}, "wait": 20})"},
           {"quick", R"({"input": {},  "wait": 20})"},  // other bytes, same meaning
           {"quick", R"({"input": {}})"},
           {"quick-2", R"({"input": {}, "wait": 20})"}}) {
    HttpResponse r = Start(workflow, body, {"k"});
    EXPECT_EQ(r.status, 409) << workflow << " " << body << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "conflict");
    EXPECT_EQ(ErrorMessageOf(r), "Idempotency-Key was used for a different request");
    EXPECT_FALSE(Replayed(r));
  }
  EXPECT_EQ(Runs(org_a_, "quick").size(), 1u);
  EXPECT_EQ(Runs(org_a_, "quick-2").size(), 0u);
  EXPECT_EQ(RunStarts(org_a_), 1);
}

TEST_F(IdempotencyTest, KeysOfAnotherPrincipalOrOrgAreUnrelated) {
  const std::string body = R"({"input": {}, "wait": 20})";
  HttpResponse mine = Start("quick", body, {"shared"});
  HttpResponse theirs = Start("quick", body, {"shared"}, org_a_, other_key_);
  HttpResponse other_org = Start("quick", body, {"shared"}, org_b_, key_b_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  ASSERT_EQ(theirs.status, 200) << theirs.body;
  ASSERT_EQ(other_org.status, 200) << other_org.body;
  EXPECT_FALSE(Replayed(theirs));
  EXPECT_FALSE(Replayed(other_org));
  EXPECT_NE(RunIdOf(mine), RunIdOf(theirs));
  EXPECT_EQ(Runs(org_a_, "quick").size(), 2u);
  EXPECT_EQ(Runs(org_b_, "quick").size(), 1u);
  // Each principal's repeat answers for its own run.
  EXPECT_EQ(RunIdOf(Start("quick", body, {"shared"}, org_a_, other_key_)), RunIdOf(theirs));
  EXPECT_EQ(RunIdOf(Start("quick", body, {"shared"})), RunIdOf(mine));
}

TEST_F(IdempotencyTest, MalformedKeysAreRefusedAndStartNothing) {
  const std::string body = R"({"input": {}, "wait": 20})";
  const std::vector<std::vector<std::string>> bad = {
      {""}, {std::string(256, 'a')}, {"two words"}, {"tab\there"}, {"caf\xc3\xa9"},
      {"a", "a"}, {"a", "b"}};
  for (const auto& keys : bad) {
    HttpResponse r = Start("quick", body, keys);
    EXPECT_EQ(r.status, 400) << keys.front() << ": " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << r.body;
    EXPECT_NE(ErrorMessageOf(r).find("Idempotency-Key"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Runs(org_a_, "quick").size(), 0u);
  // The bounds themselves are fine.
  EXPECT_EQ(Start("quick", body, {std::string(255, '~')}).status, 200);
  EXPECT_EQ(Start("quick", body, {"!"}).status, 200);
  EXPECT_EQ(Runs(org_a_, "quick").size(), 2u);
}

TEST_F(IdempotencyTest, AKeyExpiresADayAfterItsRunWasCreated) {
  const std::string body = R"({"input": {}, "wait": 20})";
  HttpResponse first = Start("quick", body, {"daily"});
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(Start("quick", body, {"old"}).status, 200);
  s_->clock().AdvanceWall(std::chrono::hours(24) - milliseconds(1));
  HttpResponse late = Start("quick", body, {"daily"});
  ASSERT_EQ(late.status, 200) << late.body;
  EXPECT_TRUE(Replayed(late));
  EXPECT_EQ(RunIdOf(late), RunIdOf(first));
  s_->clock().AdvanceWall(milliseconds(1));
  HttpResponse next = Start("quick", body, {"daily"});
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_FALSE(Replayed(next));
  EXPECT_NE(RunIdOf(next), RunIdOf(first));
  EXPECT_EQ(RunIdOf(Start("quick", body, {"daily"})), RunIdOf(next));
  // Even another request may use it once it expired.
  s_->clock().AdvanceWall(std::chrono::hours(25));
  HttpResponse other = Start("quick-2", body, {"daily"});
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_FALSE(Replayed(other));
  EXPECT_EQ(Runs(org_a_, "quick").size(), 3u);
  // Expired keys are pruned by the keyed commits (an API key's principal is its actor).
  const std::string principal = Runs(org_a_, "quick").front().actor;
  ASSERT_EQ(principal.substr(0, 4), "key:");
  auto old = std::optional<store::RunIdempotencyKey>();
  ASSERT_TRUE(s_->store()
                  .Read([&](store::Tx& tx) -> Status {
                    auto k = tx.GetRunIdempotencyKey(org_a_, principal, "old");
                    if (!k.ok()) return k.error();
                    old = std::move(*k);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(old.has_value());
}

TEST_F(IdempotencyTest, ConcurrentFirstUsesStartOneRun) {
  constexpr int kClients = 8;
  for (const std::string& body : {std::string(R"({"input": {}, "wait": 20})"),
                                  std::string(R"({"input": {}})")}) {
    const std::string key = "race-" + std::to_string(body.size());
    std::vector<HttpResponse> answers(kClients);
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back([&, i] {
        testing::HttpClient client("127.0.0.1", s_->port(),
                                   testing::HttpClientOptions{.timeout = seconds(60)});
        HttpHeaders headers = Bearer(key_);
        headers.emplace_back("Content-Type", "application/json");
        headers.emplace_back("Idempotency-Key", key);
        auto r = client.Request("POST", "/v1/orgs/" + org_a_ + "/workflows/quick/runs", headers,
                                body);
        if (r.ok()) answers[i] = std::move(r).value();
      });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> ids;
    int replays = 0;
    for (const HttpResponse& r : answers) {
      EXPECT_TRUE(r.status == 200 || r.status == 202) << r.status << " " << r.body;
      ids.insert(RunIdOf(r));
      replays += Replayed(r) ? 1 : 0;
    }
    EXPECT_EQ(ids.size(), 1u) << body;
    EXPECT_EQ(replays, kClients - 1) << body;
  }
  EXPECT_EQ(Runs(org_a_, "quick").size(), 2u);
  EXPECT_EQ(RunStarts(org_a_), 2);
}

TEST_F(IdempotencyTest, AWaitedReplayOfARunningRunAnswersWhenItFinishes) {
  const std::string body = R"({"input": {}, "wait": 30})";
  std::promise<HttpResponse> first_answer, replay_answer;
  auto request = [&](std::promise<HttpResponse>& answer) {
    return std::thread([&] {
      testing::HttpClient client("127.0.0.1", s_->port(),
                                 testing::HttpClientOptions{.timeout = seconds(60)});
      HttpHeaders headers = Bearer(key_);
      headers.emplace_back("Content-Type", "application/json");
      headers.emplace_back("Idempotency-Key", "slow-1");
      auto r = client.Request("POST", "/v1/orgs/" + org_a_ + "/workflows/slow/runs", headers, body);
      answer.set_value(r.ok() ? std::move(r).value() : HttpResponse{});
    });
  };
  std::thread first = request(first_answer);
  ASSERT_TRUE(out_->WaitForCalls(1));  // the run is executing its step
  std::thread replay = request(replay_answer);
  auto replayed = replay_answer.get_future();
  EXPECT_EQ(replayed.wait_for(milliseconds(500)), std::future_status::timeout)
      << "the replay answered before the run finished";
  out_->Release();
  HttpResponse r1 = first_answer.get_future().get();
  HttpResponse r2 = replayed.get();
  first.join();
  replay.join();
  ASSERT_EQ(r1.status, 200) << r1.body;
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_TRUE(Replayed(r2));
  EXPECT_EQ(RunIdOf(r2), RunIdOf(r1));
  EXPECT_EQ(Str(Json(r2), "status"), "succeeded");
  EXPECT_EQ(out_->calls(), 1);  // executed once
  EXPECT_EQ(Runs(org_a_, "slow").size(), 1u);
}

// A client that asks for `wait` and closes its connection before the answer (or resets
// it) frees what it held within a moment, not at its deadline: its connection (a slot
// under max_connections) and its waiter on the run. The run goes on and is stored.
TEST_F(IdempotencyTest, AWaitWhoseClientLeftEndsAtOnceAndItsRunStillFinishes) {
  const size_t idle_connections = s_->http().connections();  // the fixture's own client
  const std::string body = R"({"input": {}, "wait": 30})";
  testing::HttpClient client("127.0.0.1", s_->port());
  const std::string raw = "POST /v1/orgs/" + org_a_ + "/workflows/slow/runs HTTP/1.1\r\n" +
                          "Host: x\r\nAuthorization: Bearer " + key_ +
                          "\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_TRUE(client.SendRaw(raw).ok());
  ASSERT_TRUE(out_->WaitForCalls(1));  // the run is executing its step
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (s_->runs().Stats().waiters == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_EQ(s_->runs().Stats().waiters, 1);
  EXPECT_EQ(s_->http().connections(), idle_connections + 1);
  client.Close();
  const auto gone_by = std::chrono::steady_clock::now() + seconds(3);
  while ((s_->runs().Stats().waiters != 0 || s_->http().connections() != idle_connections) &&
         std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(s_->runs().Stats().waiters, 0);
  EXPECT_EQ(s_->http().connections(), idle_connections);
  // Nothing was cancelled: the run finishes and is stored as usual.
  std::vector<store::Run> runs = Runs(org_a_, "slow");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "running");
  out_->Release();
  const std::string url = "/v1/orgs/" + org_a_ + "/runs/" + runs[0].id;
  std::string status;
  for (int i = 0; i < 300 && status != "succeeded"; ++i) {
    HttpResponse r = s_->Send("GET", url, Bearer(key_), "");
    ASSERT_EQ(r.status, 200) << r.body;
    status = Str(Json(r), "status");
    if (status != "succeeded") std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(status, "succeeded");
  EXPECT_EQ(out_->calls(), 1);
}

}  // namespace
}  // namespace rampart
