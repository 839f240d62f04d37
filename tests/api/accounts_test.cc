// The account lifecycle routes of the server operator (ASVS 5.0 V6/V7): disable, enable,
// delete and read a user account across orgs, with the master key only
// (GET /v1/users/{user}, POST /v1/users/{user}/disable|enable, DELETE /v1/users/{user}).
//
// Each test attacks with the credentials a cut-off user still holds: a session, an API key
// in each of their orgs, a JWT of the identity provider, the master key acting as them,
// and their password. A real server runs in-process on 127.0.0.1:0
// (tests/support/api_server.h) with a master key and the JWT fixtures of tests/testdata/jwt
// (its clock is fixed at the fixtures' `now`).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rampart/audit/chain.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/jwt.h"
#include "rampart/crypto/password.h"
#include "rampart/crypto/tokens.h"
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
using rampart::testing::ReadFile;
using rampart::testing::Str;

constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kMasterKey = "accounts-test-master-key-0123456789abcdef";
// The email claim (verified) of the JWT fixtures' tokens.
constexpr const char* kJwtEmail = "ada@example.test";

const bj::object& JwtFixture() {
  static const bj::object fixture =
      bj::parse(ReadFile(std::string(RAMPART_SOURCE_DIR) + "/tests/testdata/jwt/tokens.json"))
          .as_object();
  return fixture;
}

std::string JwtToken() {
  return std::string(JwtFixture().at("tokens").at("valid_rs256").as_string());
}

testing::ApiServerOptions Options() {
  testing::ApiServerOptions options;
  options.start = std::chrono::system_clock::time_point(
      std::chrono::seconds(JwtFixture().at("now").to_number<int64_t>()));
  options.auth.master_key = kMasterKey;
  crypto::JwtConfig jwt;
  jwt.issuer = std::string(JwtFixture().at("issuer").as_string());
  jwt.audience = std::string(JwtFixture().at("audience").as_string());
  auto verifier = crypto::JwtVerifier::FromJwks(
      jwt, ReadFile(std::string(RAMPART_SOURCE_DIR) + "/tests/testdata/jwt/jwks.json"));
  if (!verifier.ok()) std::abort();
  options.auth.jwt = std::make_shared<crypto::JwtVerifier>(std::move(verifier).value());
  options.api.auth_failures_per_minute = 1000;
  return options;
}

struct SessionCredential {
  std::string cookie;
  std::string csrf;
  HttpHeaders headers() const { return {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}; }
};

class AccountsTest : public ::testing::Test {
 protected:
  AccountsTest() : server_(Options()) {}

  void SetUp() override {
    auto hash = crypto::HashPassword(kPassword, SystemRandom());
    ASSERT_TRUE(hash.ok());
    hash_ = *hash;
    org_a_ = NewId("org_");
    org_b_ = NewId("org_");
    Status st = server_.store().Write([&](store::Tx& tx) -> Status {
      if (Status s = tx.InsertOrg({org_a_, "org-a", "Org A", 10, now()}); !s.ok()) return s;
      return tx.InsertOrg({org_b_, "org-b", "Org B", 10, now()});
    });
    ASSERT_TRUE(st.ok());
    owner_a_ = AddUser("owner@a.test", {{org_a_, "owner"}});
    owner_b_ = AddUser("owner@b.test", {{org_b_, "owner"}});
    owner_a_key_ = AddKey(org_a_, owner_a_);
    // The victim of the tests: a developer of both orgs, with the JWT fixtures' email.
    user_ = AddUser(kJwtEmail, {{org_a_, "developer"}, {org_b_, "developer"}});
    key_a_ = AddKey(org_a_, user_);
    key_b_ = AddKey(org_b_, user_);
  }

  store::Millis now() { return server_.now_ms(); }

  HttpResponse Do(std::string_view method, const std::string& path, HttpHeaders headers = {},
                  std::string_view body = {}) {
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return server_.Send(method, path, headers, body);
  }

  static HttpHeaders Operator(const std::string& as_user) {
    return Bearer(std::string(kMasterKey) + ":" + as_user);
  }
  HttpHeaders Operator() const { return Operator(owner_a_); }

  std::string AddUser(const std::string& email,
                      const std::vector<std::pair<std::string, std::string>>& memberships) {
    std::string id = NewId("usr_");
    Status st = server_.store().Write([&](store::Tx& tx) -> Status {
      if (Status s = tx.InsertUser({.id = id, .email = email, .password_hash = hash_,
                                    .created_at = now()});
          !s.ok()) {
        return s;
      }
      for (const auto& [org, role] : memberships) {
        if (Status s = tx.UpsertMembership({org, id, role, now()}); !s.ok()) return s;
      }
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return id;
  }

  std::string AddKey(const std::string& org, const std::string& user) {
    std::string key;
    Status st = server_.store().Write([&](store::Tx& tx) {
      return testing::InsertReadWriteKey(tx, org, user, now(), &key);
    });
    EXPECT_TRUE(st.ok());
    return key;
  }

  HttpResponse LoginResponse(const std::string& email, const std::string& password) {
    return Do("POST", "/v1/auth/login", {},
              bj::serialize(bj::object{{"email", email}, {"password", password}}));
  }

  std::optional<SessionCredential> Login(const std::string& email) {
    HttpResponse r = LoginResponse(email, kPassword);
    if (r.status != 200) return std::nullopt;
    std::string set_cookie = r.Header("Set-Cookie").value_or("");
    return SessionCredential{set_cookie.substr(0, set_cookie.find(';')), Str(Json(r), "csrf_token")};
  }

  // The statuses of GET /v1/orgs/{org} with each credential the user holds.
  struct Access {
    int session, key_a, key_b, jwt, master;
  };
  Access Probe(const SessionCredential& session) {
    return Access{Do("GET", "/v1/orgs/" + org_a_, session.headers()).status,
                  Do("GET", "/v1/orgs/" + org_a_, Bearer(key_a_)).status,
                  Do("GET", "/v1/orgs/" + org_b_, Bearer(key_b_)).status,
                  Do("GET", "/v1/orgs/" + org_a_, Bearer(JwtToken())).status,
                  Do("GET", "/v1/orgs/" + org_b_, Operator(user_)).status};
  }

  std::vector<store::AuditEvent> Audit(const std::string& org) {
    std::vector<store::AuditEvent> events;
    Status st = server_.store().Read([&](store::Tx& tx) -> Status {
      auto listed = tx.ListAudit(org, 0, 1000);
      if (!listed.ok()) return listed.error();
      events = std::move(listed).value();
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
    return events;
  }

  std::optional<store::AuditEvent> LastOf(const std::string& org, const std::string& action) {
    std::optional<store::AuditEvent> last;
    for (const store::AuditEvent& e : Audit(org)) {
      if (e.action == action) last = e;
    }
    return last;
  }

  void ExpectChainIntact() {
    auto report = audit::Verify(server_.store());
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->intact) << report->reason;
  }

  testing::ApiServer server_;
  std::string hash_;
  std::string org_a_, org_b_, owner_a_, owner_b_, owner_a_key_, user_, key_a_, key_b_;
};

// Everything the user holds works before, and nothing of it works once disabled: their
// session, their API key of each org, a JWT of theirs, the master key acting as them.
TEST_F(AccountsTest, DisablingCutsOffEveryCredentialOfTheUserAtOnce) {
  auto session = Login(kJwtEmail);
  ASSERT_TRUE(session.has_value());
  Access before = Probe(*session);
  EXPECT_EQ(before.session, 200);
  EXPECT_EQ(before.key_a, 200);
  EXPECT_EQ(before.key_b, 200);
  EXPECT_EQ(before.jwt, 200);
  EXPECT_EQ(before.master, 200);

  HttpResponse r = Do("POST", "/v1/users/" + user_ + "/disable", Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("disabled").as_bool(), true);
  EXPECT_EQ(Json(r).at("revoked_sessions").to_number<int64_t>(), 1);
  EXPECT_EQ(Json(r).at("revoked_api_keys").to_number<int64_t>(), 2);

  Access after = Probe(*session);
  EXPECT_EQ(after.session, 401);
  EXPECT_EQ(after.key_a, 401);
  EXPECT_EQ(after.key_b, 401);
  EXPECT_EQ(after.jwt, 401);
  EXPECT_EQ(after.master, 401);
  // Other users are untouched.
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_, Bearer(owner_a_key_)).status, 200);

  r = Do("GET", "/v1/users/" + user_, Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Json(r).at("disabled").as_bool());
  ExpectChainIntact();
}

// A disabled account's login answers exactly as a wrong password does (status and body),
// even with the right password; the attempt is audited as auth.failed in the user's orgs,
// and no session is made.
TEST_F(AccountsTest, LoginOfADisabledAccountIsIndistinguishableFromAWrongPassword) {
  ASSERT_EQ(Do("POST", "/v1/users/" + user_ + "/disable", Operator()).status, 200);
  HttpResponse wrong = LoginResponse(kJwtEmail, "not the password at all");
  HttpResponse right = LoginResponse(kJwtEmail, kPassword);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(right.status, wrong.status);
  EXPECT_EQ(ErrorCodeOf(right), ErrorCodeOf(wrong));
  EXPECT_EQ(ErrorMessageOf(right), ErrorMessageOf(wrong));
  EXPECT_EQ(right.body.find("disabled"), std::string::npos) << right.body;
  EXPECT_FALSE(right.Header("Set-Cookie").has_value());
  // The same answer as an account that does not exist, too.
  HttpResponse unknown = LoginResponse("nobody@a.test", kPassword);
  EXPECT_EQ(ErrorMessageOf(unknown), ErrorMessageOf(right));

  auto failed = LastOf(org_a_, "auth.failed");
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(failed->details.find(user_), std::string::npos);
  EXPECT_EQ(LastOf(org_a_, "login"), std::nullopt);
  ExpectChainIntact();
}

// Enabling lets the user sign in again, but what disabling revoked stays revoked.
TEST_F(AccountsTest, EnablingDoesNotResurrectRevokedKeysOrSessions) {
  auto session = Login(kJwtEmail);
  ASSERT_TRUE(session.has_value());
  ASSERT_EQ(Do("POST", "/v1/users/" + user_ + "/disable", Operator()).status, 200);
  HttpResponse r = Do("POST", "/v1/users/" + user_ + "/enable", Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Json(r).at("disabled").as_bool());

  Access after = Probe(*session);
  EXPECT_EQ(after.session, 401);
  EXPECT_EQ(after.key_a, 401);
  EXPECT_EQ(after.key_b, 401);
  // Sign-ins work again: a new session, a JWT, the master key as the user.
  EXPECT_EQ(after.jwt, 200);
  EXPECT_EQ(after.master, 200);
  auto fresh = Login(kJwtEmail);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_, fresh->headers()).status, 200);
  ExpectChainIntact();
}

// No other credential reaches the operator's routes: owners' and developers' keys and
// sessions, JWTs and support grants get 403 "operator only"; no credential 401; and the
// target is unchanged.
TEST_F(AccountsTest, OnlyTheMasterKeyMayCallTheAccountRoutes) {
  auto owner = Login("owner@a.test");
  ASSERT_TRUE(owner.has_value());
  HttpResponse grant = Do("POST", "/v1/orgs/" + org_a_ + "/support-grants", Bearer(owner_a_key_),
                          "{}");
  ASSERT_EQ(grant.status, 201) << grant.body;
  const std::vector<std::pair<std::string, HttpHeaders>> denied = {
      {"owner key", Bearer(owner_a_key_)},
      {"owner session", owner->headers()},
      {"developer key", Bearer(key_a_)},
      {"other org owner key", Bearer(AddKey(org_b_, owner_b_))},
      {"JWT", Bearer(JwtToken())},
      {"support grant", Bearer(Str(Json(grant), "token"))},
  };
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/users/" + user_},
      {"POST", "/v1/users/" + user_ + "/disable"},
      {"POST", "/v1/users/" + user_ + "/enable"},
      {"DELETE", "/v1/users/" + user_},
  };
  for (const auto& [method, path] : routes) {
    for (const auto& [name, headers] : denied) {
      HttpResponse r = Do(method, path, headers);
      EXPECT_EQ(r.status, 403) << name << " " << method << " " << path << " " << r.body;
      EXPECT_EQ(ErrorCodeOf(r), "permission_denied") << name;
      if (name != "support grant") {
        EXPECT_EQ(ErrorMessageOf(r), "operator only") << name;
      }
    }
    HttpResponse r = Do(method, path);
    EXPECT_EQ(r.status, 401) << method << " " << path;
    r = Do(method, path, Bearer("wrong-master-key:" + owner_a_));
    EXPECT_EQ(r.status, 401) << method << " " << path;
  }
  // Nothing changed: the user still signs in, their keys still work.
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_, Bearer(key_a_)).status, 200);
  EXPECT_TRUE(Login(kJwtEmail).has_value());
  // Unknown users are a 404 for the operator.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/users/usr_nobody"},
                                                        {"POST", "/v1/users/usr_nobody/disable"},
                                                        {"POST", "/v1/users/usr_nobody/enable"},
                                                        {"DELETE", "/v1/users/usr_nobody"}}) {
    HttpResponse r = Do(method, path, Operator());
    EXPECT_EQ(r.status, 404) << method << " " << path;
    EXPECT_EQ(ErrorCodeOf(r), "not_found");
  }
}

TEST_F(AccountsTest, GetUserShowsTheAccountAndItsMembershipsNeverItsHash) {
  HttpResponse r = Do("GET", "/v1/users/" + user_, Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  bj::value v = Json(r);
  EXPECT_EQ(Str(v, "id"), user_);
  EXPECT_EQ(Str(v, "email"), kJwtEmail);
  EXPECT_FALSE(v.at("disabled").as_bool());
  EXPECT_FALSE(Str(v, "created_at").empty());
  std::set<std::pair<std::string, std::string>> memberships;
  for (const auto& m : v.at("memberships").as_array()) {
    memberships.emplace(Str(m, "org_id"), Str(m, "role"));
  }
  EXPECT_EQ(memberships, (std::set<std::pair<std::string, std::string>>{
                             {org_a_, "developer"}, {org_b_, "developer"}}));
  EXPECT_EQ(r.body.find("argon2"), std::string::npos);
  EXPECT_EQ(r.body.find("password"), std::string::npos);
}

// The last owner of an org cannot be deleted (409 naming the org), and the refusal
// changes nothing: the account, its memberships, sessions and keys all still work.
TEST_F(AccountsTest, DeletingTheLastOwnerOfAnOrgIsRefusedAndChangesNothing) {
  auto session = Login("owner@b.test");
  ASSERT_TRUE(session.has_value());
  const std::string key = AddKey(org_b_, owner_b_);
  // Also a developer of A: A has another owner, B has none.
  ASSERT_TRUE(server_.store().Write([&](store::Tx& tx) {
    return tx.UpsertMembership({org_a_, owner_b_, "owner", now()});
  }).ok());
  const size_t audit_a = Audit(org_a_).size();
  const size_t audit_b = Audit(org_b_).size();

  HttpResponse r = Do("DELETE", "/v1/users/" + owner_b_, Operator());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "conflict");
  EXPECT_NE(ErrorMessageOf(r).find(org_b_), std::string::npos) << r.body;
  EXPECT_EQ(ErrorMessageOf(r).find(org_a_), std::string::npos) << r.body;

  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_b_, session->headers()).status, 200);
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_b_, Bearer(key)).status, 200);
  r = Do("GET", "/v1/users/" + owner_b_, Operator());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r).at("memberships").as_array().size(), 2u);
  EXPECT_EQ(Audit(org_a_).size(), audit_a);
  EXPECT_EQ(Audit(org_b_).size(), audit_b);

  // With a second owner of B, the delete goes through.
  const std::string second = AddUser("second@b.test", {{org_b_, "owner"}});
  r = Do("DELETE", "/v1/users/" + owner_b_, Operator());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_b_, Bearer(key)).status, 401);
  EXPECT_EQ(Do("GET", "/v1/users/" + second, Operator()).status, 200);
}

// After a delete: the user's keys and sessions stay dead, their password no longer signs
// in, the email may be added again as a new member (a new account, a new id) and the old
// keys still fail; the org keeps the workflows the user created; the audit names the user
// by id, never by email or hash.
TEST_F(AccountsTest, DeleteFreesTheEmailAndTheOldCredentialsStayDead) {
  auto session = Login(kJwtEmail);
  ASSERT_TRUE(session.has_value());
  // A workflow the user created stays with the org.
  HttpResponse r = server_.Send(
      "POST", "/v1/orgs/" + org_a_ + "/workflows",
      {{"Authorization", "Bearer " + key_a_}, {"Content-Type", "application/yaml"}},
      "rampart: 1\nid: kept\nname: kept\nsteps:\n  - id: s\n    type: set\n    values: { a: 1 }\n");
  ASSERT_EQ(r.status, 201) << r.body;

  r = Do("DELETE", "/v1/users/" + user_, Operator());
  ASSERT_EQ(r.status, 200) << r.body;
  bj::value v = Json(r);
  EXPECT_EQ(v.at("revoked_sessions").to_number<int64_t>(), 1);
  EXPECT_EQ(v.at("revoked_api_keys").to_number<int64_t>(), 2);
  EXPECT_EQ(v.at("removed_memberships").to_number<int64_t>(), 2);

  EXPECT_EQ(Do("GET", "/v1/users/" + user_, Operator()).status, 404);
  Access after = Probe(*session);
  EXPECT_EQ(after.session, 401);
  EXPECT_EQ(after.key_a, 401);
  EXPECT_EQ(after.key_b, 401);
  EXPECT_EQ(after.jwt, 401);
  EXPECT_EQ(after.master, 401);
  EXPECT_EQ(LoginResponse(kJwtEmail, kPassword).status, 401);
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_ + "/workflows/kept", Bearer(owner_a_key_)).status,
            200);

  // The email is free: the owner adds it again, as a new account.
  r = Do("POST", "/v1/orgs/" + org_a_ + "/members", Bearer(owner_a_key_),
         bj::serialize(bj::object{
             {"email", kJwtEmail}, {"role", "developer"}, {"password", kPassword}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string new_id = Str(Json(r), "user_id");
  EXPECT_FALSE(new_id.empty());
  EXPECT_NE(new_id, user_);
  // The old keys are not the new account's: they still fail, in both orgs.
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_, Bearer(key_a_)).status, 401);
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_b_, Bearer(key_b_)).status, 401);
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_, session->headers()).status, 401);

  // Audited in each org the user was a member of, by id, never by email or hash.
  for (const std::string& org : {org_a_, org_b_}) {
    auto deleted = LastOf(org, "user.delete");
    ASSERT_TRUE(deleted.has_value()) << org;
    EXPECT_EQ(deleted->target, user_);
    EXPECT_EQ(deleted->actor, "master:" + owner_a_);
    EXPECT_EQ(deleted->outcome, "success");
    EXPECT_EQ(deleted->details.find(kJwtEmail), std::string::npos) << deleted->details;
    EXPECT_EQ(deleted->details.find("argon2"), std::string::npos);
    EXPECT_NE(deleted->details.find("\"removed_memberships\":2"), std::string::npos)
        << deleted->details;
  }
  ExpectChainIntact();
}

// Disable and enable are audited in every org of the user, with the operator as actor,
// the user id as target and the revocation counts; never the email or hash. A user of no
// org gets one org-less event.
TEST_F(AccountsTest, DisableAndEnableAreAuditedInEveryOrgOfTheUser) {
  ASSERT_EQ(Do("POST", "/v1/users/" + user_ + "/disable", Operator()).status, 200);
  ASSERT_EQ(Do("POST", "/v1/users/" + user_ + "/enable", Operator()).status, 200);
  for (const std::string& org : {org_a_, org_b_}) {
    auto disabled = LastOf(org, "user.disable");
    ASSERT_TRUE(disabled.has_value()) << org;
    EXPECT_EQ(disabled->target, user_);
    EXPECT_EQ(disabled->actor, "master:" + owner_a_);
    EXPECT_NE(disabled->details.find("\"revoked_api_keys\":2"), std::string::npos)
        << disabled->details;
    EXPECT_EQ(disabled->details.find(kJwtEmail), std::string::npos);
    auto enabled = LastOf(org, "user.enable");
    ASSERT_TRUE(enabled.has_value()) << org;
    EXPECT_EQ(enabled->target, user_);
    EXPECT_GT(enabled->seq, disabled->seq);
  }
  // The owners of A read it through the API too.
  HttpResponse r = Do("GET", "/v1/orgs/" + org_a_ + "/audit?limit=200", Bearer(owner_a_key_));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("user.disable"), std::string::npos);

  const std::string loner = AddUser("loner@x.test", {});
  ASSERT_EQ(Do("POST", "/v1/users/" + loner + "/disable", Operator()).status, 200);
  auto orgless = LastOf("", "user.disable");
  ASSERT_TRUE(orgless.has_value());
  EXPECT_EQ(orgless->target, loner);
  ExpectChainIntact();
}

// The routes take no body fields: anything in the body is refused (400), nothing changes.
TEST_F(AccountsTest, UnknownBodyFieldsAreRefused) {
  HttpResponse r =
      Do("POST", "/v1/users/" + user_ + "/disable", Operator(), R"({"disabled": false})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Do("GET", "/v1/orgs/" + org_a_, Bearer(key_a_)).status, 200);
}

}  // namespace
}  // namespace rampart
