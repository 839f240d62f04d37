// End-to-end tests of inbound webhook triggers (spec/interfaces.md "Inbound webhook
// authentication", spec/security.md sections 2 and 6): trigger URL management, deliveries
// signed by the real npm clients (tests/testdata/webhooks/npm-signed.json from
// tests/js/sign_webhooks.mjs), and every attack of the issue, each asserting that no run
// was created.
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve`
// (tests/support/api_server.h, with a keyring over the store), restartable on the same
// data dir.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <chrono>
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
#include "rampart/webhooks/verify.h"
#include "support/api_server.h"
#include "support/api_test_util.h"
#include "support/http_client.h"

namespace rampart {
namespace {

namespace bj = boost::json;
using rampart::testing::HttpClient;
using rampart::testing::ErrorCodeOf;
using rampart::testing::HttpHeaders;
using rampart::testing::HttpResponse;
using rampart::testing::Json;
using rampart::testing::NewId;
using rampart::testing::ReadFile;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kMasterKey = "webhooks-test-master-key-0123456789abcdef";
constexpr int64_t kNow = 1893456000;  // the fixtures' timestamp
constexpr const char* kSwSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* kGhSecret = "It's a Secret to Everybody";
constexpr const char* kHmacSecret = "hmac-shared-secret-0123456789";
constexpr const char* kBearerToken = "bearer-token-0123456789abcdef";

// The Api's store, able to hold one read back: armed, the next Read runs and then waits
// (its transaction already ended) until released - the window in which a request that
// resolved a trigger from the store has not yet cached it.
class GatedStore final : public store::Store {
 public:
  explicit GatedStore(store::Store& inner) : inner_(inner) {}
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
    Status s = inner_.Read(fn);
    std::unique_lock lock(mu_);
    if (armed_) {
      armed_ = false;
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
    }
    return s;
  }
  Status Write(const std::function<Status(store::Tx&)>& fn) override { return inner_.Write(fn); }
  Status Ping() override { return inner_.Ping(); }

  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  bool WaitHeld(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }

 private:
  store::Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool held_ = false;
};

// Who exists in the data dir (survives a restart).
struct Seed {
  std::string org_a, org_b, owner_key, dev_key, owner_b_key;
};

// The API server (tests/support/api_server.h) with a keyring and the Api's store gated;
// restartable on the same data dir.
class Server : public testing::ApiServer {
 public:
  // A fresh data dir when `dir` is empty.
  explicit Server(std::string dir = "", api::ApiOptions options = DefaultOptions())
      : ApiServer({.dir = std::move(dir),
                   .start = std::chrono::system_clock::time_point(seconds(kNow)),
                   .api = std::move(options),
                   .keyring_master_key = kMasterKey,
                   .wrap_api_store = [](store::Store& inner) -> std::unique_ptr<store::Store> {
                     return std::make_unique<GatedStore>(inner);
                   }}) {}

  static api::ApiOptions DefaultOptions() {
    api::ApiOptions options;
    options.max_webhook_body = 256 * 1024;
    return options;
  }

  GatedStore& gated() { return static_cast<GatedStore&>(api_store()); }

  store::Millis Now() const { return kNow * 1000; }

  Seed SeedOrgs() {
    Seed seed;
    std::tie(seed.org_a, seed.org_b) = testing::InsertTwoOrgs(store(), Now());
    seed.owner_key = Member(seed.org_a, "owner@a.test", "owner");
    seed.dev_key = Member(seed.org_a, "dev@a.test", "developer");
    seed.owner_b_key = Member(seed.org_b, "owner@b.test", "owner");
    return seed;
  }

  std::string Member(const std::string& org, const std::string& email, const std::string& role) {
    return testing::InsertMemberWithKey(store(), org, email, role, Now());
  }

  HttpResponse Api(std::string_view method, const std::string& path, const std::string& key,
                   std::string_view body = {}, std::string_view content_type = "application/json") {
    HttpHeaders headers = {{"Authorization", "Bearer " + key}};
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    return Send(method, path, headers, body);
  }

  int64_t RunCount(const std::string& org) {
    return testing::CountListedRuns(store(), org);
  }

  int64_t Outcome(std::string_view name) const {
    for (const auto& [outcome, count] : api().WebhookOutcomes()) {
      if (outcome == name) return count;
    }
    return -1;
  }
};

// A workflow receiving orders: strict inputs, a respond step.
std::string Definition(const std::string& id, const bj::object& trigger) {
  bj::object inputs{
      {"type", "object"},
      {"properties",
       bj::object{{"order_id", bj::object{{"type", "string"}, {"maxLength", 32}}},
                  {"amount", bj::object{{"type", "number"}}},
                  {"note", bj::object{{"type", "string"}}},
                  {"nested", bj::object{{"type", "object"}}}}},
      {"required", bj::array{"order_id", "amount"}},
      {"additionalProperties", false}};
  bj::object def{{"rampart", 1},
                 {"id", id},
                 {"inputs", inputs},
                 {"triggers", bj::array{trigger}},
                 {"steps", bj::array{bj::object{
                               {"id", "reply"},
                               {"type", "respond"},
                               {"status", 201},
                               {"body", bj::object{{"accepted", true},
                                                   {"order", "{{ inputs.order_id }}"}}}}}}};
  return bj::serialize(def);
}

bj::object Trigger(std::string_view type, std::string_view connector, bj::object extra = {}) {
  bj::object auth{{"type", type}, {"connector", connector}};
  if (const bj::value* a = extra.if_contains("auth_extra")) {
    for (const auto& kv : a->as_object()) auth[kv.key()] = kv.value();
    extra.erase("auth_extra");
  }
  bj::object t{{"type", "webhook"}, {"auth", auth}};
  for (const auto& kv : extra) t[kv.key()] = kv.value();
  return t;
}

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>();
    seed_ = server_->SeedOrgs();
    Connector("sw", "webhook_secret", "secret", kSwSecret);
    Connector("gh", "webhook_secret", "secret", kGhSecret);
    Connector("hm", "webhook_secret", "secret", kHmacSecret);
    Connector("other", "webhook_secret", "secret", "whsec_b3RoZXIgc2VjcmV0IGtleSBieXRlcw==");
    Connector("bt", "bearer", "token", kBearerToken);
  }

  Server& s() { return *server_; }
  std::string A() const { return "/v1/orgs/" + seed_.org_a; }

  void Connector(const std::string& id, const std::string& type, const std::string& field,
                 const std::string& secret) {
    bj::object body{{"id", id}, {"type", type}, {"secrets", bj::object{{field, secret}}}};
    auto r = s().Api("POST", A() + "/connectors", seed_.owner_key, bj::serialize(body));
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // Creates and publishes a workflow with `trigger`; returns a fresh trigger URL path.
  std::string Workflow(const std::string& id, const bj::object& trigger) {
    auto r = s().Api("POST", A() + "/workflows", seed_.owner_key, Definition(id, trigger));
    EXPECT_EQ(r.status, 201) << r.body;
    r = s().Api("POST", A() + "/workflows/" + id + "/publish", seed_.owner_key,
                R"({"version": 1})");
    EXPECT_EQ(r.status, 200) << r.body;
    return NewHook(id);
  }

  std::string NewHook(const std::string& workflow) {
    auto r = s().Api("POST", A() + "/workflows/" + workflow + "/webhooks", seed_.owner_key);
    EXPECT_EQ(r.status, 201) << r.body;
    bj::value v = Json(r);
    if (!v.is_object() || !v.as_object().contains("url")) return "";
    last_hook_id_ = std::string(v.at("id").as_string());
    return std::string(v.at("url").as_string());
  }

  // A Standard Webhooks delivery.
  HttpHeaders Standard(const std::string& id, int64_t ts, const std::string& body,
                       const std::string& secret = kSwSecret) {
    return {{"Content-Type", "application/json"},
            {"webhook-id", id},
            {"webhook-timestamp", std::to_string(ts)},
            {"webhook-signature", webhooks::SignStandardWebhooks(secret, id, ts, body)}};
  }

  HttpHeaders Github(const std::string& delivery, const std::string& body,
                     const std::string& secret = kGhSecret) {
    return {{"Content-Type", "application/json"},
            {"X-GitHub-Delivery", delivery},
            {"X-Hub-Signature-256", webhooks::SignGithub(secret, body)}};
  }

  // Posts and checks the status and that the number of runs changed by `runs_delta`.
  HttpResponse Post(const std::string& url, const HttpHeaders& headers, const std::string& body,
                    int status, int runs_delta, std::string_view code = "") {
    const int64_t before = s().RunCount(seed_.org_a);
    HttpResponse r = s().Send("POST", url, headers, body);
    EXPECT_EQ(r.status, status) << r.body;
    if (!code.empty()) {
      EXPECT_EQ(ErrorCodeOf(r), code) << r.body;
    }
    EXPECT_EQ(s().RunCount(seed_.org_a), before + runs_delta) << "runs after " << r.body;
    return r;
  }

  std::unique_ptr<Server> server_;
  Seed seed_;
  std::string last_hook_id_;
};

const std::string kOrder = R"({"order_id":"A-1","amount":5})";

// ----- management -----

TEST_F(WebhooksTest, UrlShownOnceListedWithoutTokenRotateDeleteAudited) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  ASSERT_EQ(url.rfind("/hooks/rwh_", 0), 0u) << url;
  EXPECT_TRUE(crypto::OpaqueTokenWellFormed(url.substr(7), crypto::kWebhookTokenPrefix));
  const std::string hook = last_hook_id_;
  EXPECT_EQ(hook.rfind("hk_", 0), 0u);
  const std::string base = A() + "/workflows/orders/webhooks";

  auto list = s().Api("GET", base, seed_.owner_key);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("rwh_"), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find(url.substr(7)), std::string::npos);
  EXPECT_EQ(Json(list).at("items").as_array().size(), 1u);
  // Only the hash is stored.
  auto stored = s().store().Read([&](store::Tx& tx) -> Status {
    auto w = tx.GetWebhook(seed_.org_a, hook);
    if (!w.ok() || !w->has_value()) return MakeError(ErrorCode::kNotFound, "");
    EXPECT_EQ((*w)->token_hash, crypto::Sha256Hex(url.substr(7)));
    return Status::Ok();
  });
  EXPECT_TRUE(stored.ok());

  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  list = s().Api("GET", base, seed_.owner_key);
  EXPECT_EQ(Json(list).at("items").at(0).at("use_count").as_int64(), 1);

  // Rotation: the old token dies at once.
  auto rotated = s().Api("POST", base + "/" + hook + "/rotate", seed_.owner_key);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string new_url(Json(rotated).at("url").as_string());
  EXPECT_NE(new_url, url);
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  Post(new_url, Standard("msg_3", kNow, kOrder), kOrder, 202, 1);

  // Permission webhooks:manage: a developer lacks it; another org sees nothing.
  EXPECT_EQ(s().Api("GET", base, seed_.dev_key).status, 403);
  EXPECT_EQ(s().Api("POST", base, seed_.dev_key).status, 403);
  EXPECT_EQ(s().Api("POST", base + "/" + hook + "/rotate", seed_.dev_key).status, 403);
  EXPECT_EQ(s().Api("GET", "/v1/orgs/" + seed_.org_b + "/workflows/orders/webhooks",
                    seed_.owner_b_key).status,
            404);
  EXPECT_EQ(s().Api("DELETE", A() + "/workflows/orders/webhooks/hk_nope", seed_.owner_key).status,
            404);

  auto deleted = s().Api("DELETE", base + "/" + hook, seed_.owner_key);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  Post(new_url, Standard("msg_4", kNow, kOrder), kOrder, 401, 0, "unauthenticated");

  auto audit = s().Api("GET", A() + "/audit?limit=500", seed_.owner_key);
  for (const char* action : {"webhook.create", "webhook.rotate", "webhook.delete"}) {
    EXPECT_NE(audit.body.find(std::string("\"") + action + "\""), std::string::npos) << action;
  }
  EXPECT_NE(audit.body.find("hook:" + hook), std::string::npos);  // the run.start actor
  EXPECT_EQ(audit.body.find("rwh_"), std::string::npos);
}

// ----- real clients -----

TEST_F(WebhooksTest, DeliveriesSignedByTheNpmClientsAreAccepted) {
  const bj::value fixtures =
      bj::parse(ReadFile(std::string(RAMPART_SOURCE_DIR) + "/tests/testdata/webhooks/npm-signed.json"));
  ASSERT_EQ(fixtures.at("timestamp").as_int64(), kNow);
  const std::string sw_url = Workflow("sw-orders", Trigger("standard-webhooks", "sw"));
  const std::string gh_url = Workflow("gh-orders", Trigger("github", "gh"));
  int n = 0;
  for (const auto& [scheme, url] : {std::pair<const char*, std::string>{"standard_webhooks", sw_url},
                                    {"github", gh_url}}) {
    for (const bj::value& d : fixtures.at(scheme).at("deliveries").as_array()) {
      HttpHeaders headers = {{"Content-Type", "application/json"}};
      for (const auto& kv : d.at("headers").as_object()) {
        headers.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
      }
      const std::string body(d.at("body").as_string());
      auto r = Post(url, headers, body, 202, 1);
      EXPECT_TRUE(Json(r).at("run_id").as_string().starts_with("run_")) << r.body;
      // And the same delivery again is a replay.
      Post(url, headers, body, 409, 0, "conflict");
      ++n;
    }
  }
  EXPECT_EQ(n, 6);
  EXPECT_EQ(s().Outcome("accepted"), 6);
  EXPECT_EQ(s().Outcome("replayed"), 6);
}

TEST_F(WebhooksTest, HmacAndBearerTriggers) {
  bj::object hm_extra{{"auth_extra", bj::object{{"header", "X-Sig"}, {"timestamp_header", "X-Ts"}}}};
  const std::string hm = Workflow("hm-orders", Trigger("hmac-sha256", "hm", hm_extra));
  HttpHeaders ok = {{"Content-Type", "application/json"},
                    {"X-Ts", std::to_string(kNow)},
                    {"X-Sig", webhooks::SignHmacSha256(kHmacSecret, kNow, kOrder)}};
  Post(hm, ok, kOrder, 202, 1);
  HttpHeaders stale = {{"Content-Type", "application/json"},
                       {"X-Ts", std::to_string(kNow - 301)},
                       {"X-Sig", webhooks::SignHmacSha256(kHmacSecret, kNow - 301, kOrder)}};
  Post(hm, stale, kOrder, 409, 0, "conflict");
  HttpHeaders body_only = {{"Content-Type", "application/json"},
                           {"X-Ts", std::to_string(kNow)},
                           {"X-Sig", webhooks::SignHmacSha256(kHmacSecret, std::nullopt, kOrder)}};
  Post(hm, body_only, kOrder, 401, 0, "unauthenticated");

  const std::string bt = Workflow("bt-orders", Trigger("bearer", "bt"));
  Post(bt, {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kBearerToken}},
       kOrder, 202, 1);
  Post(bt, {{"Content-Type", "application/json"}, {"Authorization", "Bearer wrong"}}, kOrder, 401,
       0, "unauthenticated");
  Post(bt, {{"Content-Type", "application/json"}}, kOrder, 401, 0, "unauthenticated");
  // A signature trigger whose connector is a bearer connector (or the reverse) cannot
  // authenticate anyone.
  const std::string mixed = Workflow("mixed", Trigger("standard-webhooks", "bt"));
  Post(mixed, Standard("msg_m", kNow, kOrder, kBearerToken), kOrder, 401, 0, "unauthenticated");
}

// spec/security.md 2: a trigger URL's usage is counted - for every auth type, including
// those without a delivery id (bearer, hmac-sha256 without a timestamp header). Refused
// requests are not uses.
TEST_F(WebhooksTest, UsageIsCountedForEveryAuthType) {
  auto usage = [&](const std::string& workflow) {
    auto list = s().Api("GET", A() + "/workflows/" + workflow + "/webhooks", seed_.owner_key);
    EXPECT_EQ(list.status, 200) << list.body;
    const bj::value body = Json(list);
    const bj::object& item = body.at("items").at(0).as_object();
    return std::make_pair(item.at("use_count").as_int64(), !item.at("last_used_at").is_null());
  };
  const std::string hm = Workflow("hm-orders", Trigger("hmac-sha256", "hm"));
  HttpHeaders signed_body = {{"Content-Type", "application/json"},
                             {"X-Signature",
                              webhooks::SignHmacSha256(kHmacSecret, std::nullopt, kOrder)}};
  Post(hm, signed_body, kOrder, 202, 1);
  Post(hm, signed_body, kOrder, 202, 1);  // no replay defence without a timestamp header
  Post(hm, {{"Content-Type", "application/json"}, {"X-Signature", "00"}}, kOrder, 401, 0);
  EXPECT_EQ(usage("hm-orders"), std::make_pair(int64_t{2}, true));

  const std::string bt = Workflow("bt-orders", Trigger("bearer", "bt"));
  EXPECT_EQ(usage("bt-orders"), std::make_pair(int64_t{0}, false));
  Post(bt, {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + kBearerToken}},
       kOrder, 202, 1);
  Post(bt, {{"Content-Type", "application/json"}, {"Authorization", "Bearer wrong"}}, kOrder, 401,
       0);
  EXPECT_EQ(usage("bt-orders"), std::make_pair(int64_t{1}, true));
}

TEST_F(WebhooksTest, SyncModeAnswersTheRespondStep) {
  const std::string url =
      Workflow("sync-orders", Trigger("standard-webhooks", "sw", bj::object{{"mode", "sync"}}));
  auto r = Post(url, Standard("msg_s", kNow, kOrder), kOrder, 201, 1);
  bj::value v = Json(r);
  EXPECT_EQ(v.at("accepted"), true) << r.body;
  EXPECT_EQ(v.at("order"), "A-1");
  EXPECT_TRUE(r.Header("X-Rampart-Run-Id").has_value());
  // The workflow is side-effect-free, so the run executed inline before its commit; a
  // replayed delivery still loses on the delivery id in that commit and stores nothing.
  Post(url, Standard("msg_s", kNow, kOrder), kOrder, 409, 0, "conflict");
}

TEST_F(WebhooksTest, AnAsyncDeliveryToASideEffectFreeWorkflowIsCommittedOnceAndFinal) {
  const std::string url = Workflow("async-orders", Trigger("standard-webhooks", "sw"));
  const int64_t writes_before = s().store().Stats().jobs;
  auto r = Post(url, Standard("msg_async", kNow, kOrder), kOrder, 202, 1);
  const int64_t writes = s().store().Stats().jobs - writes_before;
  // One durable write carried the run (already final), the delivery id and the audit
  // event: queued-then-finished took two.
  EXPECT_EQ(writes, 1);
  const std::string run_id(Json(r).at("run_id").as_string());
  auto got = s().Api("GET", A() + "/runs/" + run_id, seed_.owner_key);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Json(got).at("status"), "succeeded") << got.body;
  // The delivery id is still reserved in that commit: a replay stores nothing.
  Post(url, Standard("msg_async", kNow, kOrder), kOrder, 409, 0, "conflict");
}

// ----- attacks: none of them starts a run -----

TEST_F(WebhooksTest, SignatureAttacks) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  // Missing signature.
  HttpHeaders missing = Standard("msg_a", kNow, kOrder);
  missing.pop_back();
  Post(url, missing, kOrder, 401, 0, "unauthenticated");
  // Bad signature.
  HttpHeaders bad = Standard("msg_a", kNow, kOrder);
  bad.back().second = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  Post(url, bad, kOrder, 401, 0, "unauthenticated");
  // Body changed after signing (not even valid JSON: never parsed, still 401).
  Post(url, Standard("msg_a", kNow, kOrder), R"({"order_id":"A-1","amount":5000})", 401, 0,
       "unauthenticated");
  Post(url, Standard("msg_a", kNow, kOrder), "{not json", 401, 0, "unauthenticated");
  // Signed with another secret.
  Post(url, Standard("msg_a", kNow, kOrder, "whsec_b3RoZXIgc2VjcmV0IGtleSBieXRlcw=="), kOrder, 401,
       0, "unauthenticated");
  // Timestamps 301 s in the past and in the future (validly signed).
  Post(url, Standard("msg_old", kNow - 301, kOrder), kOrder, 409, 0, "conflict");
  Post(url, Standard("msg_new", kNow + 301, kOrder), kOrder, 409, 0, "conflict");
  // The edges are inside the window.
  Post(url, Standard("msg_edge1", kNow - 300, kOrder), kOrder, 202, 1);
  Post(url, Standard("msg_edge2", kNow + 300, kOrder), kOrder, 202, 1);
  // A well-formed but unknown token, and a malformed one: the URL token is a credential
  // (spec/security.md section 2), so the answer is the very 401 of a bad signature - the
  // same body whatever was wrong (only the request id differs).
  auto without_request_id = [](const HttpResponse& r) {
    bj::value v = Json(r);
    v.as_object()["error"].as_object().erase("request_id");
    return bj::serialize(v);
  };
  const HttpResponse bad_signature = Post(url, bad, kOrder, 401, 0, "unauthenticated");
  const HttpResponse unknown =
      Post("/hooks/" + crypto::NewOpaqueToken(SystemRandom(), crypto::kWebhookTokenPrefix),
           Standard("msg_b", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  const HttpResponse malformed =
      Post("/hooks/nope", Standard("msg_b", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  EXPECT_EQ(without_request_id(unknown), without_request_id(bad_signature));
  EXPECT_EQ(without_request_id(malformed), without_request_id(bad_signature));
  EXPECT_EQ(s().Outcome("unauthenticated"), 6);
  EXPECT_EQ(s().Outcome("replayed"), 2);
  EXPECT_EQ(s().Outcome("unknown_hook"), 2);
  // Failed authentications are audited (bounded per source).
  auto audit = s().Api("GET", A() + "/audit?limit=500", seed_.owner_key);
  EXPECT_NE(audit.body.find("webhook.auth_failed"), std::string::npos);
  // Exported on /metrics.
  auto metrics = s().Api("GET", "/metrics", seed_.owner_key);
  EXPECT_NE(metrics.body.find("rampart_webhook_requests{outcome=\"unauthenticated\"} 6"),
            std::string::npos)
      << metrics.body.substr(0, 2000);
}

TEST_F(WebhooksTest, GithubReplayAndUnsignedDeliveryId) {
  const std::string url = Workflow("gh-orders", Trigger("github", "gh"));
  Post(url, Github("d-1", kOrder), kOrder, 202, 1);
  Post(url, Github("d-1", kOrder), kOrder, 409, 0, "conflict");
  // X-GitHub-Delivery is not signed: the same signed body under a new id is a replay too.
  Post(url, Github("d-2", kOrder), kOrder, 409, 0, "conflict");
  const std::string other = R"({"order_id":"A-2","amount":6})";
  Post(url, Github("d-3", other), other, 202, 1);
  Post(url, Github("d-4", other, "another secret"), other, 401, 0, "unauthenticated");
  HttpHeaders no_delivery = Github("d-5", other);
  no_delivery.erase(no_delivery.begin() + 1);
  Post(url, no_delivery, other, 401, 0, "unauthenticated");
}

TEST_F(WebhooksTest, ReplayedDeliveryIdAfterRestartOnTheSameDataDir) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  Post(url, Standard("msg_r", kNow, kOrder), kOrder, 202, 1);
  Post(url, Standard("msg_r", kNow, kOrder), kOrder, 409, 0, "conflict");
  const std::string dir = s().dir();
  server_->KeepDir();
  server_.reset();
  server_ = std::make_unique<Server>(dir);
  Post(url, Standard("msg_r", kNow, kOrder), kOrder, 409, 0, "conflict");
  Post(url, Standard("msg_r2", kNow, kOrder), kOrder, 202, 1);
}

TEST_F(WebhooksTest, ConcurrentDuplicatesStartExactlyOneRun) {
  // The same signed delivery from 8 connections at once: the read-only replay check may
  // pass for several of them; the delivery id is reserved in the run's own commit, so
  // exactly one run starts and every other copy is a 409.
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  const HttpHeaders headers = Standard("msg_race", kNow, kOrder);
  const int64_t before = s().RunCount(seed_.org_a);
  std::vector<int> statuses(8, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client("127.0.0.1", s().port(),
                        testing::HttpClientOptions{.timeout = seconds(30)});
      auto r = client.Request("POST", url, headers, kOrder);
      statuses[i] = r.ok() ? r->status : -1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 202), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 7);
  EXPECT_EQ(s().RunCount(seed_.org_a), before + 1);
}

TEST_F(WebhooksTest, OversizedBodies) {
  const std::string url =
      Workflow("orders", Trigger("standard-webhooks", "sw", bj::object{{"max_payload", 1024}}));
  // Over the trigger's max_payload: 413, whatever the signature.
  std::string big = R"({"order_id":"A-1","amount":5,"note":")" + std::string(2000, 'x') + "\"}";
  Post(url, Standard("msg_big", kNow, big), big, 413, 0, "payload_too_large");
  Post(url, {{"Content-Type", "application/json"}}, big, 413, 0, "payload_too_large");
  // Over the route's limit: answered from the head, before the body is read. Only 10 bytes
  // of the announced 10 MiB are sent: an answer proves the server did not wait for the rest.
  HttpClient raw("127.0.0.1", s().port(), testing::HttpClientOptions{.timeout = seconds(5)});
  const int64_t before = s().RunCount(seed_.org_a);
  ASSERT_TRUE(raw.SendRaw("POST " + url +
                          " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 10485760\r\n\r\n{\"order_id")
                  .ok());
  auto r = raw.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorCodeOf(*r), "payload_too_large");
  EXPECT_EQ(s().RunCount(seed_.org_a), before);
  // Under the limit, accepted.
  Post(url, Standard("msg_small", kNow, kOrder), kOrder, 202, 1);
  // Every 413 is counted (spec/security.md 6), the one over the route's limit included.
  EXPECT_EQ(s().Outcome("too_large"), 3);
}

TEST_F(WebhooksTest, ContentTypeJsonAndInputs) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  HttpHeaders text = Standard("msg_t", kNow, kOrder);
  text[0].second = "text/plain";
  Post(url, text, kOrder, 400, 0, "invalid_argument");
  HttpHeaders none = Standard("msg_t", kNow, kOrder);
  none.erase(none.begin());
  Post(url, none, kOrder, 400, 0, "invalid_argument");
  const std::string not_json = "{\"order_id\": ";
  Post(url, Standard("msg_j", kNow, not_json), not_json, 400, 0, "invalid_argument");
  const std::string missing = R"({"amount":5})";
  auto r = Post(url, Standard("msg_i", kNow, missing), missing, 400, 0, "invalid_argument");
  EXPECT_NE(r.body.find("order_id"), std::string::npos) << r.body;
  const std::string extra = R"({"order_id":"A-1","amount":5,"admin":true})";
  Post(url, Standard("msg_x", kNow, extra), extra, 400, 0, "invalid_argument");
  // A rejected payload does not burn its delivery id: the sender's corrected retry works.
  HttpHeaders charset = Standard("msg_t", kNow, kOrder);
  charset[0].second = "application/json; charset=utf-8";
  Post(url, charset, kOrder, 202, 1);
  Post(url, Standard("msg_i", kNow, kOrder), kOrder, 202, 1);
  EXPECT_EQ(s().Outcome("invalid_payload"), 5);
}

TEST_F(WebhooksTest, SourceAllowlistIgnoresForwardedFor) {
  const std::string denied = Workflow(
      "far", Trigger("standard-webhooks", "sw", bj::object{{"ip_allowlist", bj::array{"10.0.0.0/8", "2001:db8::/32"}}}));
  Post(denied, Standard("msg_f", kNow, kOrder), kOrder, 403, 0, "permission_denied");
  // A spoofed X-Forwarded-For from an untrusted peer changes nothing.
  HttpHeaders spoofed = Standard("msg_f", kNow, kOrder);
  spoofed.emplace_back("X-Forwarded-For", "10.1.2.3");
  spoofed.emplace_back("Forwarded", "for=10.1.2.3");
  spoofed.emplace_back("X-Real-IP", "10.1.2.3");
  Post(denied, spoofed, kOrder, 403, 0, "permission_denied");
  const std::string allowed = Workflow(
      "near", Trigger("standard-webhooks", "sw", bj::object{{"ip_allowlist", bj::array{"127.0.0.0/8"}}}));
  Post(allowed, Standard("msg_f", kNow, kOrder), kOrder, 202, 1);
  EXPECT_EQ(s().Outcome("forbidden_source"), 2);
}

TEST_F(WebhooksTest, FloodPastTheBurstIsRateLimited) {
  const std::string url = Workflow(
      "orders", Trigger("standard-webhooks", "sw",
                        bj::object{{"rate_limit", bj::object{{"rpm", 1}, {"burst", 3}}}}));
  for (int i = 0; i < 3; ++i) {
    Post(url, Standard("msg_" + std::to_string(i), kNow, kOrder), kOrder, 202, 1);
  }
  for (int i = 3; i < 8; ++i) {
    auto r = Post(url, Standard("msg_" + std::to_string(i), kNow, kOrder), kOrder, 429, 0,
                  "rate_limited");
    ASSERT_TRUE(r.Header("Retry-After").has_value());
    EXPECT_GE(std::stoi(*r.Header("Retry-After")), 1);
  }
  // Forgeries are turned away by authentication before they can spend the bucket.
  EXPECT_EQ(s().Outcome("rate_limited"), 5);
  EXPECT_EQ(s().Outcome("accepted"), 3);
}

TEST_F(WebhooksTest, AnOrgsTriggersShareItsRateLimit) {
  api::ApiOptions options = Server::DefaultOptions();
  options.webhook_org_rpm = 1;
  options.webhook_org_burst = 3;
  server_ = std::make_unique<Server>("", options);
  seed_ = server_->SeedOrgs();
  Connector("sw", "webhook_secret", "secret", kSwSecret);
  // Each trigger on its own is far below its rate_limit (default 600/min, burst 50).
  const std::string first = Workflow("orders", Trigger("standard-webhooks", "sw"));
  const std::string second = Workflow("refunds", Trigger("standard-webhooks", "sw"));
  Post(first, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  Post(first, Standard("msg_2", kNow, kOrder), kOrder, 202, 1);
  Post(second, Standard("msg_3", kNow, kOrder), kOrder, 202, 1);
  for (const std::string& url : {second, first}) {
    auto r = Post(url, Standard("msg_4" + url.substr(url.size() - 4), kNow, kOrder), kOrder, 429,
                  0, "rate_limited");
    ASSERT_TRUE(r.Header("Retry-After").has_value());
    EXPECT_GE(std::stoi(*r.Header("Retry-After")), 1);
  }
  // Refilled at 1 a minute: one more delivery is accepted after a minute.
  s().clock().Advance(std::chrono::milliseconds(61'000));
  Post(second, Standard("msg_5", kNow + 61, kOrder), kOrder, 202, 1);
  EXPECT_EQ(s().Outcome("rate_limited"), 2);
  EXPECT_EQ(s().Outcome("accepted"), 4);
}

TEST_F(WebhooksTest, WorkflowWithoutLiveWebhookTriggerOrRecreated) {
  // A trigger URL of a workflow whose live version has no webhook trigger: the 401 of a bad signature.
  bj::object schedule{{"type", "schedule"}, {"cron", "*/5 * * * *"}};
  auto r = s().Api("POST", A() + "/workflows", seed_.owner_key, Definition("sched", schedule));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string unpublished = NewHook("sched");
  Post(unpublished, Standard("msg_u", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  ASSERT_EQ(s().Api("POST", A() + "/workflows/sched/publish", seed_.owner_key, R"({"version": 1})").status,
            200);
  Post(unpublished, Standard("msg_u", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
}

// ----- the trigger cache never outlives a change (src/api/trigger_cache.h) -----

constexpr const char* kNewSwSecret = "whsec_bmV3IHNlY3JldCBrZXkgYnl0ZXMgMTIzNA==";

// Each change is made right after the trigger was used (so it is cached) and the very
// next request uses what the change retired.
TEST_F(WebhooksTest, RotatedOrDeletedTokenIsRefusedRightAfterTheChange) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  const std::string hook = last_hook_id_;
  const std::string base = A() + "/workflows/orders/webhooks/" + hook;
  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  Post(url, Standard("msg_f", kNow, kOrder, kGhSecret), kOrder, 401, 0, "unauthenticated");
  auto rotated = s().Api("POST", base + "/rotate", seed_.owner_key);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string new_url(Json(rotated).at("url").as_string());
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  Post(new_url, Standard("msg_3", kNow, kOrder), kOrder, 202, 1);
  ASSERT_EQ(s().Api("DELETE", base, seed_.owner_key).status, 200);
  Post(new_url, Standard("msg_4", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  Post(url, Standard("msg_5", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
}

TEST_F(WebhooksTest, OldConnectorSecretIsRefusedRightAfterAnUpdateOrDelete) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  bj::object patch{{"secrets", bj::object{{"secret", kNewSwSecret}}}};
  auto updated = s().Api("PATCH", A() + "/connectors/sw", seed_.owner_key, bj::serialize(patch));
  ASSERT_EQ(updated.status, 200) << updated.body;
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  Post(url, Standard("msg_3", kNow, kOrder, kNewSwSecret), kOrder, 202, 1);
  // Narrowing the connector to other workflows retires it for this trigger too.
  bj::object narrow{{"allowed_workflows", bj::array{"someone-else"}}};
  ASSERT_EQ(s().Api("PATCH", A() + "/connectors/sw", seed_.owner_key, bj::serialize(narrow)).status,
            200);
  Post(url, Standard("msg_4", kNow, kOrder, kNewSwSecret), kOrder, 401, 0, "unauthenticated");
  bj::object widen{{"allowed_workflows", bj::array{}}};
  ASSERT_EQ(s().Api("PATCH", A() + "/connectors/sw", seed_.owner_key, bj::serialize(widen)).status,
            200);
  Post(url, Standard("msg_5", kNow, kOrder, kNewSwSecret), kOrder, 202, 1);
  ASSERT_EQ(s().Api("DELETE", A() + "/connectors/sw", seed_.owner_key).status, 200);
  Post(url, Standard("msg_6", kNow, kOrder, kNewSwSecret), kOrder, 401, 0, "unauthenticated");
  Post(url, Standard("msg_7", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
}

// `rampart keys rotate` (another process: its own keyring on the same store) re-encrypts
// the secret under a new data key version; the plaintext is the same, so the trigger keeps
// working, and an update after it still retires the old secret at once.
TEST_F(WebhooksTest, KeyRotationByAnotherProcessThenSecretUpdate) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  std::string sealed_before;
  auto sealed = [&] {
    std::string out;
    EXPECT_TRUE(s().store().Read([&](store::Tx& tx) -> Status {
                  auto secrets = tx.ListConnectorSecrets(seed_.org_a, "sw");
                  if (!secrets.ok()) return secrets.error();
                  for (const auto& sec : *secrets) out = sec.sealed;
                  return Status::Ok();
                }).ok());
    return out;
  };
  sealed_before = sealed();
  {
    api::StoreKeyStore keys(s().store());
    crypto::Keyring other(kMasterKey, keys, SystemRandom());
    auto stats = api::RotateAllKeys(s().store(), other, 100);
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_GE(stats->reencrypted, 1);
  }
  ASSERT_NE(sealed(), sealed_before);
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 202, 1);
  Post(url, Standard("msg_f", kNow, kOrder, kGhSecret), kOrder, 401, 0, "unauthenticated");
  bj::object patch{{"secrets", bj::object{{"secret", kNewSwSecret}}}};
  ASSERT_EQ(s().Api("PATCH", A() + "/connectors/sw", seed_.owner_key, bj::serialize(patch)).status,
            200);
  Post(url, Standard("msg_3", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  Post(url, Standard("msg_4", kNow, kOrder, kNewSwSecret), kOrder, 202, 1);
}

// A new live version changes the trigger's authentication and limits at once.
TEST_F(WebhooksTest, PublishingANewVersionTakesEffectRightAway) {
  const std::string url = Workflow(
      "orders", Trigger("standard-webhooks", "sw", bj::object{{"max_payload", 1024}}));
  const std::string big = R"({"order_id":"A-1","amount":5,"note":")" + std::string(2000, 'x') + "\"}";
  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  Post(url, Standard("msg_big", kNow, big), big, 413, 0, "payload_too_large");
  auto put = s().Api("PUT", A() + "/workflows/orders", seed_.owner_key,
                     Definition("orders", Trigger("hmac-sha256", "hm",
                                                  bj::object{{"max_payload", 4096}})));
  ASSERT_EQ(put.status, 200) << put.body;
  // A draft changes nothing.
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 202, 1);
  ASSERT_EQ(s().Api("POST", A() + "/workflows/orders/publish", seed_.owner_key,
                    R"({"version": 2})").status,
            200);
  Post(url, Standard("msg_3", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  HttpHeaders hmac = {{"Content-Type", "application/json"},
                      {"X-Signature", webhooks::SignHmacSha256(kHmacSecret, std::nullopt, big)}};
  Post(url, hmac, big, 202, 1);
  // And back: version 1's limit and secret again.
  ASSERT_EQ(s().Api("POST", A() + "/workflows/orders/publish", seed_.owner_key,
                    R"({"version": 1})").status,
            200);
  Post(url, hmac, big, 413, 0, "payload_too_large");
  Post(url, Standard("msg_4", kNow, kOrder), kOrder, 202, 1);
}

TEST_F(WebhooksTest, DeletedWorkflowsTokenIsRefusedRightAway) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  ASSERT_EQ(s().Api("DELETE", A() + "/workflows/orders", seed_.owner_key).status, 200);
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  const std::string old_hook = last_hook_id_;
  // Re-created under the same id and published: the old URL stays dead, and is not the
  // new workflow's to list, rotate (which would make it live again) or count.
  ASSERT_EQ(Workflow("orders", Trigger("standard-webhooks", "sw")).rfind("/hooks/", 0), 0u);
  Post(url, Standard("msg_3", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  HttpResponse list = s().Api("GET", A() + "/workflows/orders/webhooks", seed_.owner_key);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(Json(list).at("items").as_array().size(), 1u) << list.body;
  EXPECT_EQ(Json(list).at("items").at(0).at("id"), bj::value(last_hook_id_)) << list.body;
  EXPECT_NE(last_hook_id_, old_hook);
  EXPECT_EQ(s().Api("POST", A() + "/workflows/orders/webhooks/" + old_hook + "/rotate",
                    seed_.owner_key).status,
            404);
}

// A request that read the trigger from the store just before a rotation committed must
// not put the old token into the cache once the rotation answered: held between its read
// and its cache insert while the rotation runs, then released, and the old token is still
// refused afterwards.
TEST_F(WebhooksTest, ARequestRacingARotationDoesNotResurrectTheOldToken) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));  // not cached
  const std::string base = A() + "/workflows/orders/webhooks/" + last_hook_id_;
  const int64_t before = s().RunCount(seed_.org_a);
  s().gated().Arm();
  HttpResponse raced;
  std::thread racer([&] {
    HttpClient c("127.0.0.1", s().port(), testing::HttpClientOptions{.timeout = seconds(30)});
    auto r = c.Request("POST", url, Standard("msg_race", kNow, kOrder), kOrder);
    if (r.ok()) raced = std::move(r).value();
  });
  ASSERT_TRUE(s().gated().WaitHeld(seconds(10)));
  auto rotated = s().Api("POST", base + "/rotate", seed_.owner_key);
  s().gated().Release();
  racer.join();
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  // The raced request itself was in flight across the rotation: either answer is fine.
  EXPECT_TRUE(raced.status == 202 || raced.status == 401) << raced.status << " " << raced.body;
  const int64_t raced_runs = raced.status == 202 ? 1 : 0;
  EXPECT_EQ(s().RunCount(seed_.org_a), before + raced_runs);
  Post(url, Standard("msg_old_1", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  Post(url, Standard("msg_old_2", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
  const std::string new_url(Json(rotated).at("url").as_string());
  Post(new_url, Standard("msg_new", kNow, kOrder), kOrder, 202, 1);
}

// A forgery against a cached trigger is answered without reading the store: a change made
// behind the API's back (directly in the store) is not seen until the entry's max_age ran
// out - the bound for writers outside this process.
TEST_F(WebhooksTest, CachedTriggerAnswersWithoutTheStoreUntilMaxAge) {
  const std::string url = Workflow("orders", Trigger("standard-webhooks", "sw"));
  const std::string hook = last_hook_id_;
  Post(url, Standard("msg_1", kNow, kOrder), kOrder, 202, 1);
  ASSERT_TRUE(s().store().Write([&](store::Tx& tx) -> Status {
                auto deleted = tx.DeleteWebhook(seed_.org_a, hook);
                if (!deleted.ok()) return deleted.error();
                return Status::Ok();
              }).ok());
  Post(url, Standard("msg_f", kNow, kOrder, kGhSecret), kOrder, 401, 0, "unauthenticated");
  s().clock().Advance(milliseconds(61'000));  // past ApiOptions::webhook_cache_max_age
  Post(url, Standard("msg_f", kNow, kOrder, kGhSecret), kOrder, 401, 0, "unauthenticated");
  Post(url, Standard("msg_2", kNow, kOrder), kOrder, 401, 0, "unauthenticated");
}

// ----- max_payload while reading -----

// The trigger's max_payload (here 1024, far below the route's 256 KiB) is enforced from
// the head: only a few bytes of the announced body are sent, and the answer comes anyway.
TEST_F(WebhooksTest, MaxPayloadIsEnforcedBeforeTheBodyIsRead) {
  const std::string url =
      Workflow("orders", Trigger("standard-webhooks", "sw", bj::object{{"max_payload", 1024}}));
  const std::string fresh_url = NewHook("orders");  // never used: not cached yet
  const int64_t before = s().RunCount(seed_.org_a);
  for (const std::string& target : {fresh_url, url, url}) {
    HttpClient raw("127.0.0.1", s().port(), testing::HttpClientOptions{.timeout = seconds(5)});
    HttpHeaders signed_headers = Standard("msg_big", kNow, kOrder);
    std::string head = "POST " + target + " HTTP/1.1\r\nHost: x\r\n";
    for (const auto& [k, v] : signed_headers) head += k + ": " + v + "\r\n";
    ASSERT_TRUE(raw.SendRaw(head + "Content-Length: 200000\r\n\r\n{\"order_id").ok());
    auto r = raw.ReadResponse();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_EQ(ErrorCodeOf(*r), "payload_too_large");
    EXPECT_NE(r->body.find("exceeds 1024 bytes"), std::string::npos) << r->body;
    EXPECT_FALSE(r->keep_alive);
  }
  // Chunked: cut off once past max_payload; the announced 1 MiB chunk is never sent.
  {
    HttpClient raw("127.0.0.1", s().port(), testing::HttpClientOptions{.timeout = seconds(5)});
    std::string chunk(1000, ' ');
    ASSERT_TRUE(raw.SendRaw("POST " + url +
                            " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n3e8\r\n" + chunk +
                            "\r\n100000\r\n" + chunk)
                    .ok());
    auto r = raw.ReadResponse();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_EQ(ErrorCodeOf(*r), "payload_too_large");
  }
  EXPECT_EQ(s().RunCount(seed_.org_a), before);
  // The three declared ones and the chunked one cut off (spec/security.md 6: oversized
  // requests are counted).
  EXPECT_EQ(s().Outcome("too_large"), 4);
  // An unknown token with a large declared length is not told anything about size
  // limits it has no trigger for: the route's limit applies, then 401.
  const std::string unknown = "/hooks/" + crypto::NewOpaqueToken(SystemRandom(), crypto::kWebhookTokenPrefix);
  const std::string body(2000, ' ');
  Post(unknown, {{"Content-Type", "application/json"}}, body, 401, 0, "unauthenticated");
  // At the limit: accepted.
  std::string exact = R"({"order_id":"A-1","amount":5,"note":")";
  exact += std::string(1024 - exact.size() - 2, 'x') + "\"}";
  ASSERT_EQ(exact.size(), 1024u);
  Post(url, Standard("msg_exact", kNow, exact), exact, 202, 1);
}

}  // namespace
}  // namespace rampart
