// End-to-end tests of the connector routes (spec/interfaces.md "Connectors",
// spec/security.md section 1): masked responses, secrets kept or rotated by PATCH,
// per-type validation, org isolation, permissions, audit without values, and no trace of
// a secret anywhere in the data directory.
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve`
// (tests/support/api_server.h, with a keyring over the store). Principals are API keys
// inserted in the store (no Argon2 needed): an owner and a developer of org A, an owner of
// org B.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "rampart/api/api.h"
#include "rampart/api/connectors.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/keyring.h"
#include "rampart/crypto/tokens.h"
#include "rampart/runs/runs.h"
#include "rampart/store/store.h"
#include "support/api_server.h"
#include "support/api_test_util.h"
#include "support/http_client.h"

namespace rampart {
namespace {

namespace bj = boost::json;
using rampart::testing::ErrorCodeOf;
using rampart::testing::ErrorMessageOf;
using rampart::testing::HttpHeaders;
using rampart::testing::Bearer;
using rampart::testing::HttpResponse;
using rampart::testing::Json;
using rampart::testing::NewId;
using std::chrono::seconds;

constexpr const char* kMasterKey = "connectors-test-master-key-0123456789abcdef";
// Distinctive: it must appear nowhere but in the requests that set it.
constexpr const char* kSecret = "Zq7-UNIQUE-SECRET-VALUE-4f0c2e9a81b3d657";

// The first 100 audit events of `org`, oldest first.
std::vector<store::AuditEvent> AuditEvents(store::Store& store, const std::string& org) {
  std::vector<store::AuditEvent> events;
  Status read = store.Read([&](store::Tx& tx) -> Status {
    auto l = tx.ListAudit(org, 0, 100);
    if (!l.ok()) return l.error();
    events = *l;
    return Status::Ok();
  });
  EXPECT_TRUE(read.ok());
  return events;
}

// The API server (tests/support/api_server.h) with a keyring, and the principals.
class Server : public testing::ApiServer {
 public:
  Server()
      : ApiServer({.start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs = runs::RunServiceOptions{.workers = 1},
                   .keyring_master_key = kMasterKey}) {
    std::tie(org_a_, org_b_) = testing::InsertTwoOrgs(store(), Now());
    owner_key_ = Member(org_a_, "owner@a.test", "owner");
    dev_key_ = Member(org_a_, "dev@a.test", "developer");
    owner_b_key_ = Member(org_b_, "owner@b.test", "owner");
  }

  store::Millis Now() const { return now_ms(); }

  // A user with a read_write API key, member of `org` with `role`; returns the key.
  std::string Member(const std::string& org, const std::string& email, const std::string& role) {
    return testing::InsertMemberWithKey(store(), org, email, role, Now());
  }

  HttpResponse Do(std::string_view method, const std::string& path, const std::string& key,
                  std::string_view body = {}) {
    HttpHeaders headers = Bearer(key);
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    HttpResponse r = Send(method, path, headers, body);
    responses_.push_back(r.body);
    return r;
  }

  std::string A() const { return "/v1/orgs/" + org_a_ + "/connectors"; }
  std::string B() const { return "/v1/orgs/" + org_b_ + "/connectors"; }

  std::string org_a_, org_b_, owner_key_, dev_key_, owner_b_key_;
  std::vector<std::string> responses_;  // every response body, for the leak checks
};

class ConnectorsTest : public ::testing::Test {
 protected:
  void SetUp() override { s_ = std::make_unique<Server>(); }
  void TearDown() override {
    // No response of any test ever carried the secret (or a sealed form of it).
    for (const std::string& body : s_->responses_) {
      EXPECT_EQ(body.find(kSecret), std::string::npos) << body;
      EXPECT_EQ(body.find(crypto::Base64Encode(kSecret)), std::string::npos) << body;
      EXPECT_EQ(body.find(crypto::HexEncode(kSecret)), std::string::npos) << body;
    }
    s_.reset();
  }
  Server& s() { return *s_; }
  HttpResponse CreateBearer(const std::string& id, const std::string& extra = "") {
    return s().Do("POST", s().A(), s().owner_key_,
                  R"({"id": ")" + id + R"(", "type": "bearer", "options": {"base_url": "https://api.acme.test"}, "secrets": {"token": ")" +
                      kSecret + R"("}, "allowed_workflows": ["order-paid"])" + extra + "}");
  }
  std::unique_ptr<Server> s_;
};

TEST_F(ConnectorsTest, CreateListGetAreMasked) {
  HttpResponse r = CreateBearer("acme", R"(, "egress": {"allow_domains": ["api.acme.test"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  bj::value v = Json(r);
  EXPECT_EQ(v.at("id").as_string(), "acme");
  EXPECT_EQ(v.at("type").as_string(), "bearer");
  EXPECT_EQ(v.at("options").at("base_url").as_string(), "https://api.acme.test");
  EXPECT_EQ(v.at("secrets").at("token").at("set").as_bool(), true);
  EXPECT_TRUE(v.at("secrets").at("token").at("updated_at").is_string());
  EXPECT_EQ(v.at("allowed_workflows").as_array().size(), 1u);
  EXPECT_EQ(v.at("egress").at("allow_domains").as_array()[0].as_string(), "api.acme.test");
  EXPECT_TRUE(v.at("rotated_at").is_null());
  EXPECT_EQ(v.at("rotation_due").as_bool(), false);

  r = s().Do("GET", s().A() + "/acme", s().owner_key_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("secrets").at("token").at("set").as_bool(), true);
  r = s().Do("GET", s().A(), s().owner_key_);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Json(r).at("items").as_array().size(), 1u);
  EXPECT_EQ(Json(r).at("items").as_array()[0].at("id").as_string(), "acme");

  // Same id again: 409.
  EXPECT_EQ(CreateBearer("acme").status, 409);
  // The secret really is stored, sealed for this connector: the engine side reads it.
  Status st = s().store().Write([&](store::Tx& tx) -> Status {
    auto c = api::LoadConnectorForRun(tx, *s().keyring(), s().org_a_, "acme", "order-paid",
                                      s().Now(), "run:test", "charge");
    if (!c.ok()) return c.error();
    EXPECT_EQ(c->secrets.at("token"), kSecret);
    auto denied = api::LoadConnectorForRun(tx, *s().keyring(), s().org_a_, "acme", "other-wf",
                                           s().Now(), "run:test", "charge");
    EXPECT_FALSE(denied.ok());
    EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
    auto missing = api::LoadConnectorForRun(tx, *s().keyring(), s().org_b_, "acme", "order-paid",
                                            s().Now(), "run:test", "charge");
    EXPECT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
}

TEST_F(ConnectorsTest, PatchWithoutSecretsKeepsThemAndWithASecretRotatesIt) {
  ASSERT_EQ(CreateBearer("acme").status, 201);
  std::vector<store::ConnectorSecret> before, after;
  auto read_secrets = [&](std::vector<store::ConnectorSecret>& out) {
    ASSERT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                    auto l = tx.ListConnectorSecrets(s().org_a_, "acme");
                    if (!l.ok()) return l.error();
                    out = *l;
                    return Status::Ok();
                  }).ok());
  };
  read_secrets(before);
  ASSERT_EQ(before.size(), 1u);

  s().clock().Advance(std::chrono::hours(24));
  HttpResponse r = s().Do("PATCH", s().A() + "/acme", s().owner_key_,
                          R"({"options": {"base_url": "https://v2.acme.test"}, "rotate_every_days": 30})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r).at("options").at("base_url").as_string(), "https://v2.acme.test");
  EXPECT_TRUE(Json(r).at("rotated_at").is_null());
  EXPECT_EQ(Json(r).at("secrets").at("token").at("set").as_bool(), true);
  read_secrets(after);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].sealed, before[0].sealed);  // untouched

  // Rotation due after 30 days since creation.
  s().clock().Advance(std::chrono::hours(24 * 30));
  r = s().Do("GET", s().A() + "?due=true", s().owner_key_);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(Json(r).at("items").as_array().size(), 1u);
  EXPECT_EQ(Json(r).at("items").as_array()[0].at("rotation_due").as_bool(), true);

  r = s().Do("PATCH", s().A() + "/acme", s().owner_key_, R"({"secrets": {"token": "new-token-value"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Json(r).at("rotated_at").is_string());
  EXPECT_EQ(Json(r).at("rotation_due").as_bool(), false);
  EXPECT_EQ(r.body.find("new-token-value"), std::string::npos);
  read_secrets(after);
  EXPECT_NE(after[0].sealed, before[0].sealed);
  auto plain = s().keyring()->Decrypt(s().org_a_, "acme", "token", after[0].sealed);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "new-token-value");
  r = s().Do("GET", s().A() + "?due=true", s().owner_key_);
  EXPECT_EQ(Json(r).at("items").as_array().size(), 0u);

  // id and type are not patchable; unknown fields are refused.
  EXPECT_EQ(s().Do("PATCH", s().A() + "/acme", s().owner_key_, R"({"type": "basic"})").status, 400);
  EXPECT_EQ(s().Do("PATCH", s().A() + "/acme", s().owner_key_, R"({"id": "x"})").status, 400);
  EXPECT_EQ(s().Do("PATCH", s().A() + "/nope", s().owner_key_, R"({"egress": {}})").status, 404);
}

TEST_F(ConnectorsTest, ValidationPerType) {
  struct Case {
    std::string body;
    std::string field;  // the error message names it
  };
  const std::vector<Case> cases = {
      {R"({"id": "a", "type": "bearer"})", "secrets.token"},
      {R"({"id": "a", "type": "bearer", "secrets": {"token": "x", "password": "y"}})", "secrets.password"},
      {R"({"id": "a", "type": "bearer", "options": {"colour": "red"}, "secrets": {"token": "x"}})", "options.colour"},
      {R"({"id": "a", "type": "bearer", "options": {"base_url": "http://api.acme.test"}, "secrets": {"token": "x"}})", "options.base_url"},
      {R"({"id": "a", "type": "bearer", "secrets": {"token": ""}})", "secrets.token"},
      {R"({"id": "a", "type": "basic", "secrets": {"password": "x"}})", "options.username"},
      {R"({"id": "a", "type": "basic", "options": {"username": "u"}})", "secrets.password"},
      {R"({"id": "a", "type": "api_key", "options": {"in": "body", "name": "X-Key"}, "secrets": {"key": "k"}})", "options.in"},
      {R"({"id": "a", "type": "api_key", "options": {"in": "header"}, "secrets": {"key": "k"}})", "options.name"},
      {R"({"id": "a", "type": "oauth2", "options": {"token_url": "https://t.test", "client_id": "c"}})", "secrets.client_secret"},
      {R"({"id": "a", "type": "oauth2", "options": {"token_url": "ftp://t.test", "client_id": "c"}, "secrets": {"client_secret": "s"}})", "options.token_url"},
      {R"({"id": "a", "type": "mtls", "secrets": {"cert": "c"}})", "secrets.key"},
      {R"({"id": "a", "type": "custom", "options": {"headers": {"X-Key": "{{ secrets.api }}"}}})", "options.headers.X-Key"},
      {R"({"id": "a", "type": "custom", "options": {"headers": {"X-Key": "{{ input.x }}"}}, "secrets": {"api": "v"}})", "options.headers.X-Key"},
      {R"({"id": "a", "type": "custom", "secrets": {"Bad-Name": "v"}})", "secrets.Bad-Name"},
      {R"({"id": "a", "type": "webhook_secret"})", "secrets.secret"},
      {R"({"id": "a", "type": "webhook_secret", "options": {"base_url": "https://x.test"}, "secrets": {"secret": "s"}})", "options.base_url"},
      {R"({"id": "a", "type": "telepathy", "secrets": {"x": "y"}})", "type"},
      {R"({"id": "Bad Id", "type": "bearer", "secrets": {"token": "x"}})", "id"},
      {R"({"type": "bearer", "secrets": {"token": "x"}})", "id"},
      {R"({"id": "a", "type": "bearer", "secrets": {"token": "x"}, "egress": {"allow_everything": true}})", "egress.allow_everything"},
      {R"({"id": "a", "type": "bearer", "secrets": {"token": "x"}, "allowed_workflows": "wf"})", "allowed_workflows"},
      {R"({"id": "a", "type": "bearer", "secrets": {"token": "x"}, "rotate_every_days": -1})", "rotate_every_days"},
      {R"({"id": "a", "type": "bearer", "secrets": {"token": "x"}, "owner": "me"})", "owner"},
  };
  for (const Case& c : cases) {
    HttpResponse r = s().Do("POST", s().A(), s().owner_key_, c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_EQ(ErrorCodeOf(r), "invalid_argument") << c.body;
    EXPECT_NE(ErrorMessageOf(r).find(c.field), std::string::npos)
        << c.body << " -> " << ErrorMessageOf(r);
  }
  // Nothing was created by any of them.
  EXPECT_EQ(Json(s().Do("GET", s().A(), s().owner_key_)).at("items").as_array().size(), 0u);

  // Every type with its complete field set is accepted.
  const std::vector<std::string> valid = {
      R"({"id": "t-bearer", "type": "bearer", "secrets": {"token": "x"}})",
      R"({"id": "t-basic", "type": "basic", "options": {"username": "u", "base_url": "https://b.test/api"}, "secrets": {"password": "p"}})",
      R"({"id": "t-api-key", "type": "api_key", "options": {"in": "query", "name": "api_key"}, "secrets": {"key": "k"}})",
      R"({"id": "t-oauth2", "type": "oauth2", "options": {"token_url": "https://t.test/token", "scopes": ["a", "b"], "client_id": "c"}, "secrets": {"client_secret": "s", "refresh_token": "r"}})",
      R"({"id": "t-mtls", "type": "mtls", "secrets": {"cert": "c", "key": "k", "ca": "a"}})",
      R"({"id": "t-custom", "type": "custom", "options": {"headers": {"X-Api-Key": "{{ secrets.api }}", "X-Static": "v"}}, "secrets": {"api": "v"}})",
      R"({"id": "t-webhook", "type": "webhook_secret", "secrets": {"secret": "whsec_x"}, "rotate_every_days": 90})",
  };
  for (const std::string& body : valid) {
    HttpResponse r = s().Do("POST", s().A(), s().owner_key_, body);
    EXPECT_EQ(r.status, 201) << body << " -> " << r.body;
  }
  // PATCH validates against the final state: removing the header's secret is impossible,
  // a header using an unknown secret is refused.
  HttpResponse r = s().Do("PATCH", s().A() + "/t-custom", s().owner_key_,
                          R"({"options": {"headers": {"X": "{{ secrets.missing }}"}}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ErrorMessageOf(r).find("options.headers.X"), std::string::npos);
  r = s().Do("PATCH", s().A() + "/t-basic", s().owner_key_, R"({"secrets": {"token": "x"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ErrorMessageOf(r).find("secrets.token"), std::string::npos);
}

TEST_F(ConnectorsTest, OrgIsolationAndPermissions) {
  ASSERT_EQ(CreateBearer("acme").status, 201);
  // Org B's owner sees nothing of org A: the org itself is 404, and org B's own
  // collection does not contain it.
  EXPECT_EQ(s().Do("GET", s().A() + "/acme", s().owner_b_key_).status, 404);
  EXPECT_EQ(s().Do("GET", s().A(), s().owner_b_key_).status, 404);
  EXPECT_EQ(s().Do("GET", s().B() + "/acme", s().owner_b_key_).status, 404);
  EXPECT_EQ(s().Do("PATCH", s().B() + "/acme", s().owner_b_key_, R"({"egress": {}})").status, 404);
  EXPECT_EQ(s().Do("DELETE", s().B() + "/acme", s().owner_b_key_).status, 404);
  EXPECT_EQ(Json(s().Do("GET", s().B(), s().owner_b_key_)).at("items").as_array().size(), 0u);

  // A developer reads (connectors:read) but cannot write or delete.
  EXPECT_EQ(s().Do("GET", s().A(), s().dev_key_).status, 200);
  EXPECT_EQ(s().Do("GET", s().A() + "/acme", s().dev_key_).status, 200);
  HttpResponse r = s().Do("POST", s().A(), s().dev_key_,
                          R"({"id": "dev", "type": "bearer", "secrets": {"token": "x"}})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCodeOf(r), "permission_denied");
  EXPECT_EQ(s().Do("PATCH", s().A() + "/acme", s().dev_key_, R"({"secrets": {"token": "x"}})").status,
            403);
  EXPECT_EQ(s().Do("DELETE", s().A() + "/acme", s().dev_key_).status, 403);
  EXPECT_EQ(s().Do("GET", s().A(), "rpk_garbage").status, 401);

  // The owner deletes; the secrets go with it.
  EXPECT_EQ(s().Do("DELETE", s().A() + "/acme", s().owner_key_).status, 200);
  EXPECT_EQ(s().Do("GET", s().A() + "/acme", s().owner_key_).status, 404);
  EXPECT_EQ(s().Do("DELETE", s().A() + "/acme", s().owner_key_).status, 404);
  ASSERT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                  auto l = tx.ListConnectorSecrets(s().org_a_, "acme");
                  EXPECT_TRUE(l.ok() && l->empty());
                  return Status::Ok();
                }).ok());
}

TEST_F(ConnectorsTest, AuditEventsNameFieldsNeverValues) {
  ASSERT_EQ(CreateBearer("acme").status, 201);
  ASSERT_EQ(s().Do("PATCH", s().A() + "/acme", s().owner_key_,
                   std::string(R"({"secrets": {"token": ")") + kSecret + "2\"}}")
                .status,
            200);
  ASSERT_EQ(s().Do("DELETE", s().A() + "/acme", s().owner_key_).status, 200);
  const std::vector<store::AuditEvent> events = AuditEvents(s().store(), s().org_a_);
  std::vector<std::string> actions;
  for (const auto& e : events) {
    actions.push_back(e.action);
    EXPECT_EQ(e.details.find(kSecret), std::string::npos) << e.details;
    EXPECT_EQ(e.target, "acme");
    EXPECT_EQ(e.outcome, "success");
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"connector.create", "connector.update",
                                               "connector.delete"}));
  EXPECT_NE(events[1].details.find("\"token\""), std::string::npos) << events[1].details;
}

// Checks that no file under `dir` holds any of `forms` (a secret in its encodings);
// returns how many files it read.
int ExpectNoFileHolds(const std::string& dir, const std::vector<std::string>& forms) {
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string bytes = rampart::testing::ReadFile(entry.path().string());
    ++files;
    for (const std::string& form : forms) {
      EXPECT_EQ(bytes.find(form), std::string::npos) << entry.path() << " holds " << form;
    }
  }
  return files;
}

TEST_F(ConnectorsTest, NoTraceOfTheSecretInTheDataDirectory) {
  ASSERT_EQ(CreateBearer("acme").status, 201);
  ASSERT_EQ(s().Do("PATCH", s().A() + "/acme", s().owner_key_, R"({"egress": {}})").status, 200);
  const std::string raw = kSecret;
  std::vector<std::string> forms = {raw, crypto::Base64Encode(raw),
                                    crypto::Base64UrlEncode(raw), crypto::HexEncode(raw)};
  std::string upper_hex = crypto::HexEncode(raw);
  for (char& c : upper_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  forms.push_back(upper_hex);
  // While the server is running (the WAL holds the recent pages) ...
  EXPECT_GE(ExpectNoFileHolds(s().dir(), forms), 2);  // rampart.db and its WAL at least
}

// An oauth2 refresh_token rotated by the token endpoint during a run (http.request calls
// the run's ConnectorResolver::ReplaceSecret): sealed with the keyring under the same
// binding as API-set secrets, replacing the stored one, audited without the value.
TEST_F(ConnectorsTest, ARotatedRefreshTokenIsStoredEncryptedAndAudited) {
  const std::string rotated = "rt-ROTATED-9b1e55d0c3a74f26";
  ASSERT_EQ(s().Do("POST", s().A(), s().owner_key_,
                   std::string(R"({"id": "crm", "type": "oauth2", "options": {"token_url": "https://t.test/token", "client_id": "c"}, "secrets": {"client_secret": ")") +
                       kSecret + R"(", "refresh_token": "rt-old-value-1234"}})")
                .status,
            201);
  store::Run run;
  run.org_id = s().org_a_;
  run.id = "run_rotation";
  runs::RunServices services = api::ServerRunServices(s().store(), *s().keyring(), s().clock(), run);
  const std::string old[] = {"rt-old-value-1234"};
  ASSERT_TRUE(services.connectors->ReplaceSecret("crm", "refresh_token", rotated, old, "call").ok());

  // The run after it decrypts the new value.
  auto c = services.connectors->Resolve("crm", "any-workflow", "next");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->secrets.at("refresh_token"), rotated);
  EXPECT_EQ(c->secrets.at("client_secret"), kSecret);

  // A field the type does not declare, another org's connector, a missing connector.
  EXPECT_EQ(services.connectors->ReplaceSecret("crm", "token", "x-value", old, "call").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(services.connectors->ReplaceSecret("nope", "refresh_token", "x-value", old, "call").error().code,
            ErrorCode::kNotFound);
  run.org_id = s().org_b_;
  runs::RunServices other = api::ServerRunServices(s().store(), *s().keyring(), s().clock(), run);
  EXPECT_EQ(other.connectors->ReplaceSecret("crm", "refresh_token", "x-value", old, "call").error().code,
            ErrorCode::kNotFound);

  // Audited: field and step, never the value.
  const std::vector<store::AuditEvent> events = AuditEvents(s().store(), s().org_a_);
  int refreshes = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.details.find(rotated), std::string::npos) << e.details;
    if (e.action != "connector.secret_refresh") continue;
    ++refreshes;
    EXPECT_EQ(e.actor, "run:run_rotation");
    EXPECT_EQ(e.target, "crm");
    EXPECT_EQ(bj::parse(e.details), bj::parse(R"({"field": "refresh_token", "step": "call"})"));
  }
  EXPECT_EQ(refreshes, 1);

  // Masked on read, and nowhere in the data directory in any encoding.
  HttpResponse got = s().Do("GET", s().A() + "/crm", s().owner_key_);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body.find(rotated), std::string::npos);
  const std::vector<std::string> forms = {rotated, crypto::Base64Encode(rotated),
                                          crypto::HexEncode(rotated)};
  ExpectNoFileHolds(s().dir(), forms);
}

// The write-back is compare-and-set in its transaction: a refresh_token rotated from one
// the owner replaced meanwhile (PATCH), or from the refresh_token of a connector deleted
// and created again under its id, is refused (kConflict) and neither stored nor audited.
TEST_F(ConnectorsTest, ARotatedRefreshTokenReplacesOnlyTheOneItWasRotatedFrom) {
  const std::string create =
      R"({"id": "crm", "type": "oauth2", "options": {"token_url": "https://t.test/token", "client_id": "c"}, "secrets": {"client_secret": "cs-1", "refresh_token": ")";
  ASSERT_EQ(s().Do("POST", s().A(), s().owner_key_, create + R"(rt-grant-one"}})").status, 201);
  store::Run run;
  run.org_id = s().org_a_;
  run.id = "run_cas";
  runs::RunServices services = api::ServerRunServices(s().store(), *s().keyring(), s().clock(), run);
  const auto stored = [&] {
    auto c = services.connectors->Resolve("crm", "wf", "check");
    return c.ok() ? c->secrets["refresh_token"] : c.error().message;
  };
  const auto refreshes = [&] {
    int n = 0;
    for (const auto& e : AuditEvents(s().store(), s().org_a_)) n += e.action == "connector.secret_refresh";
    return n;
  };

  // The owner PATCHed another refresh_token while the token request was in flight.
  ASSERT_EQ(s().Do("PATCH", s().A() + "/crm", s().owner_key_,
                   R"({"secrets": {"refresh_token": "rt-owner-patched"}})").status,
            200);
  const std::string grant_one[] = {"rt-grant-one"};
  auto r = services.connectors->ReplaceSecret("crm", "refresh_token", "rt-rotated-one", grant_one, "call");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().message.find("rt-"), std::string::npos) << r.error().message;
  EXPECT_EQ(stored(), "rt-owner-patched");
  EXPECT_EQ(refreshes(), 0);

  // Deleted and created again under its id with another account's refresh_token.
  ASSERT_EQ(s().Do("DELETE", s().A() + "/crm", s().owner_key_).status, 200);
  ASSERT_EQ(s().Do("POST", s().A(), s().owner_key_, create + R"(rt-grant-two"}})").status, 201);
  const std::string patched[] = {"rt-owner-patched"};
  r = services.connectors->ReplaceSecret("crm", "refresh_token", "rt-rotated-one", patched, "call");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(stored(), "rt-grant-two");
  EXPECT_EQ(refreshes(), 0);

  // Unchanged (any of the expected values): replaced and audited.
  const std::string grant_two[] = {"rt-unrelated", "rt-grant-two"};
  ASSERT_TRUE(services.connectors->ReplaceSecret("crm", "refresh_token", "rt-rotated-two", grant_two, "call").ok());
  EXPECT_EQ(stored(), "rt-rotated-two");
  EXPECT_EQ(refreshes(), 1);
}

TEST(LocalConnectorsTest, ARotatedRefreshTokenStaysInMemory) {
  auto source = api::ParseLocalConnectors(
      bj::parse(R"([{"id": "crm", "type": "oauth2", "options": {"token_url": "https://t.test/token", "client_id": "c"}}])"),
      bj::parse(R"({"crm": {"client_secret": "cs-1", "refresh_token": "rt-1"}})"));
  ASSERT_TRUE(source.ok()) << source.error().message;
  api::SourceConnectorResolver resolver(**source);
  const std::string rt1[] = {"rt-1"};
  ASSERT_TRUE(resolver.ReplaceSecret("crm", "refresh_token", "rt-2", rt1, "call").ok());
  auto c = resolver.Resolve("crm", "wf", "call");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->secrets.at("refresh_token"), "rt-2");
  // Compare-and-set: rt-1 is no longer the stored one.
  EXPECT_EQ(resolver.ReplaceSecret("crm", "refresh_token", "rt-3", rt1, "call").error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(resolver.Resolve("crm", "wf", "call")->secrets.at("refresh_token"), "rt-2");
  EXPECT_EQ(resolver.ReplaceSecret("crm", "password", "x", rt1, "call").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolver.ReplaceSecret("nope", "refresh_token", "x", rt1, "call").error().code,
            ErrorCode::kNotFound);
}

TEST(LocalConnectorsTest, ParsedWithTheApiValidation) {
  auto connectors = bj::parse(R"([
    {"id": "acme", "type": "bearer", "options": {"base_url": "https://api.acme.test"},
     "allowed_workflows": ["order-paid"]},
    {"id": "hook", "type": "webhook_secret"}
  ])");
  auto secrets = bj::parse(R"({"acme": {"token": "t0k"}, "hook": {"secret": "whsec"}})");
  auto source = api::ParseLocalConnectors(connectors, secrets);
  ASSERT_TRUE(source.ok()) << source.error().message;
  EXPECT_EQ((*source)->size(), 2u);
  auto acme = (*source)->Load("acme", "order-paid", "step");
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->secrets.at("token"), "t0k");
  EXPECT_EQ((*source)->Load("acme", "other", "step").error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ((*source)->Load("nope", "order-paid", "step").error().code, ErrorCode::kNotFound);

  struct Bad {
    const char* connectors;
    const char* secrets;
    const char* needle;
  };
  for (Bad b : {Bad{R"([{"id": "a", "type": "bearer"}])", "{}", "secrets.token"},
                Bad{R"([{"id": "a", "type": "bearer", "secrets": {"token": "x"}}])", "{}", "--secrets-file"},
                Bad{R"([{"id": "a", "type": "bearer"}])", R"({"a": {"pw": "x"}})", "secrets.pw"},
                Bad{R"([{"id": "a", "type": "bearer"}])", R"({"a": {"token": "x"}, "b": {"token": "y"}})", "b: no such connector"},
                Bad{R"([{"id": "a", "type": "basic", "options": {"user": "x"}}])", R"({"a": {"password": "x"}})", "options.user"},
                Bad{R"([{"id": "a", "type": "bearer"}, {"id": "a", "type": "bearer"}])", R"({"a": {"token": "x"}})", "duplicate"}}) {
    auto r = api::ParseLocalConnectors(bj::parse(b.connectors), bj::parse(b.secrets));
    ASSERT_FALSE(r.ok()) << b.connectors;
    EXPECT_NE(r.error().message.find(b.needle), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("\"x\""), std::string::npos);
  }
}

}  // namespace
}  // namespace rampart
