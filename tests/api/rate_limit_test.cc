// End-to-end tests of the per-principal request rate limit of the API (ASVS V2.4.1,
// ApiOptions::api_rpm / api_burst): a token bucket per API key, per user (sessions, JWT
// and master key requests of one user share it) and per support grant.
//
// Each attack is tried for real: a key past its burst is refused 429 rate_limited with a
// Retry-After, before any handler work (nothing created) and without an audit event (a
// flood writes nothing), while another key of the same org, another user's session and
// the public routes still answer; a second session or the master key of the same user
// does not get a fresh bucket; a refused request takes no token.
//
// A real server in-process on 127.0.0.1:0 wired like `rampart serve`
// (tests/support/api_server.h). Time: the limiter runs on the ManualClock's monotonic
// time, which only the tests move, so the refill is checked without waiting.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "rampart/api/api.h"
#include "rampart/auth/auth.h"
#include "rampart/crypto/crypto.h"
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
using rampart::testing::HttpHeaders;
using rampart::testing::HttpResponse;
using rampart::testing::NewId;
using std::chrono::seconds;

constexpr const char* kMasterKey = "master-key-0123456789-abcdefghijklmnop";

struct Limits {
  int rpm = 6;  // one token every 10 s
  int burst = 3;
};

class Server : public testing::ApiServer {
 public:
  explicit Server(Limits limits)
      : ApiServer({.start = std::chrono::system_clock::time_point(seconds(1893456000)),
                   .runs = runs::RunServiceOptions{.workers = 1},
                   .auth = [] {
                     auth::AuthConfig auth;
                     auth.master_key = kMasterKey;
                     return auth;
                   }(),
                   .api = [limits] {
                     api::ApiOptions options;
                     options.auth_failures_per_minute = 1000;
                     options.api_rpm = limits.rpm;
                     options.api_burst = limits.burst;
                     return options;
                   }()}) {
    org_ = NewId("org_");
    Write([&](store::Tx& tx) { return tx.InsertOrg({org_, "org-a", "Org A", 10, now_ms()}); });
    owner_ = User("owner@a.test", "owner");
    other_ = User("other@a.test", "developer");
    key1_ = Key(owner_);
    key2_ = Key(owner_);
    metrics_key_ = Key(other_);
  }

  void Write(const std::function<Status(store::Tx&)>& body) {
    Status st = store().Write(body);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  std::string User(const std::string& email, const std::string& role) {
    std::string id = NewId("usr_");
    Write([&](store::Tx& tx) -> Status {
      if (Status s = tx.InsertUser({id, email, "", now_ms()}); !s.ok()) return s;
      return tx.UpsertMembership({org_, id, role, now_ms()});
    });
    return id;
  }
  std::string Key(const std::string& user) {
    std::string key = crypto::NewApiKey(SystemRandom());
    Write([&](store::Tx& tx) {
      return tx.InsertApiKey({.id = NewId("key_"), .org_id = org_, .user_id = user, .name = "k",
                              .hash = crypto::Sha256Hex(key), .hint = "rpk_...",
                              .scope = "read_write", .created_at = now_ms(),
                              .expires_at = std::nullopt, .last_used_at = std::nullopt,
                              .revoked_at = std::nullopt});
    });
    return key;
  }
  // A live session of `user`: its Cookie header (GET requests need no CSRF token).
  HttpHeaders Session(const std::string& user) {
    std::string token = crypto::NewOpaqueToken(SystemRandom(), crypto::kSessionPrefix);
    Write([&](store::Tx& tx) {
      return tx.InsertSession({.token_hash = crypto::Sha256Hex(token), .user_id = user,
                               .csrf_hash = crypto::Sha256Hex("csr_x"),
                               .created_at = now_ms(), .last_seen_at = now_ms(),
                               .expires_at = now_ms() + 3'600'000, .revoked = false});
    });
    return {{"Cookie", std::string(auth::kSessionCookie) + "=" + token}};
  }
  HttpHeaders Grant() {
    std::string token = crypto::NewSupportGrantToken(SystemRandom());
    Write([&](store::Tx& tx) {
      return tx.InsertSupportGrant({.org_id = org_, .id = NewId("sgr_"),
                                    .hash = crypto::Sha256Hex(token), .created_by = owner_,
                                    .reason = "", .created_at = now_ms(),
                                    .expires_at = now_ms() + 3'600'000,
                                    .revoked_at = std::nullopt});
    });
    return Bearer(token);
  }
  HttpHeaders Master(const std::string& user) { return Bearer(std::string(kMasterKey) + ":" + user); }

  HttpResponse Get(const HttpHeaders& who, const std::string& path = "") {
    return Send("GET", path.empty() ? "/v1/orgs/" + org_ : path, who);
  }
  size_t AuditCount() {
    size_t n = 0;
    Status read = store().Read([&](store::Tx& tx) -> Status {
      auto events = tx.ListAudit(org_, 0, 10'000);
      if (!events.ok()) return events.error();
      n = events->size();
      return Status::Ok();
    });
    EXPECT_TRUE(read.ok());
    return n;
  }
  // The value of rampart_api_rate_limited{principal="<kind>"} in /metrics; -1 if absent.
  long RateLimitedMetric(const std::string& kind) {
    HttpResponse r = Get(Bearer(metrics_key_), "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string line = "rampart_api_rate_limited{principal=\"" + kind + "\"} ";
    size_t at = r.body.find(line);
    if (at == std::string::npos) return -1;
    return std::stol(r.body.substr(at + line.size()));
  }

  std::string org_, owner_, other_, key1_, key2_, metrics_key_;
};

// Uses up the burst of `who` (3 requests answered 200).
void Drain(Server& s, const HttpHeaders& who) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(s.Get(who).status, 200) << i;
}

void ExpectLimited(const HttpResponse& r, const std::string& retry_after = "10") {
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorCodeOf(r), "rate_limited");
  EXPECT_EQ(r.Header("Retry-After").value_or(""), retry_after);
}

TEST(ApiRateLimitTest, AKeyPastItsBurstIsRefusedOthersAreNot) {
  Server s(Limits{});
  Drain(s, Bearer(s.key1_));
  ExpectLimited(s.Get(Bearer(s.key1_)));
  // Another key of the same org and user, the user's session, another user's session:
  // each its own bucket.
  EXPECT_EQ(s.Get(Bearer(s.key2_)).status, 200);
  EXPECT_EQ(s.Get(s.Session(s.owner_)).status, 200);
  EXPECT_EQ(s.Get(s.Session(s.other_)).status, 200);
  // Public routes are not limited.
  EXPECT_EQ(s.Send("GET", "/healthz").status, 200);
  // Still refused: nothing refilled, the refusals took nothing.
  ExpectLimited(s.Get(Bearer(s.key1_)));
  EXPECT_EQ(s.RateLimitedMetric("api_key"), 2);
  EXPECT_EQ(s.RateLimitedMetric("user"), 0);
}

TEST(ApiRateLimitTest, RefusedBeforeAnyWorkAndNeverAudited) {
  Server s(Limits{});
  Drain(s, Bearer(s.key1_));
  const size_t audit_before = s.AuditCount();
  // A write the key could otherwise make (it would be audited): refused, not made.
  const std::string yaml =
      "rampart: 1\nid: flood\nname: flood\nsteps:\n  - id: s\n    type: set\n"
      "    values: { a: 1 }\n";
  for (int i = 0; i < 50; ++i) {
    HttpHeaders h = Bearer(s.key1_);
    h.emplace_back("Content-Type", "application/yaml");
    ExpectLimited(s.Send("POST", "/v1/orgs/" + s.org_ + "/workflows", h, yaml));
  }
  EXPECT_EQ(s.Get(Bearer(s.key2_), "/v1/orgs/" + s.org_ + "/workflows/flood").status, 404);
  EXPECT_EQ(s.AuditCount(), audit_before);
  EXPECT_EQ(s.RateLimitedMetric("api_key"), 50);
}

TEST(ApiRateLimitTest, OneUsersSessionsAndMasterKeyShareABucket) {
  Server s(Limits{});
  HttpHeaders first = s.Session(s.owner_);
  Drain(s, first);
  ExpectLimited(s.Get(first));
  // A fresh login does not buy a fresh bucket, nor does the master key acting as the user.
  ExpectLimited(s.Get(s.Session(s.owner_)));
  ExpectLimited(s.Get(s.Master(s.owner_)));
  // The master key acting as another user draws from that user's bucket.
  EXPECT_EQ(s.Get(s.Master(s.other_)).status, 200);
  EXPECT_EQ(s.RateLimitedMetric("user"), 3);
}

TEST(ApiRateLimitTest, ASupportGrantHasItsOwnBucketAndFloodsAreNotAudited) {
  Server s(Limits{});
  HttpHeaders grant = s.Grant();
  const std::string diagnostics = "/v1/orgs/" + s.org_ + "/diagnostics";
  for (int i = 0; i < 3; ++i) ASSERT_EQ(s.Get(grant, diagnostics).status, 200) << i;
  // Every allowed use of a grant is audited; the refused flood is not.
  const size_t audited = s.AuditCount();
  for (int i = 0; i < 20; ++i) ExpectLimited(s.Get(grant, diagnostics));
  EXPECT_EQ(s.AuditCount(), audited);
  EXPECT_EQ(s.RateLimitedMetric("support_grant"), 20);
  // The grant's creator is another principal.
  EXPECT_EQ(s.Get(s.Session(s.owner_)).status, 200);
}

TEST(ApiRateLimitTest, TheBucketRefillsOverTimeUpToItsBurst) {
  Server s(Limits{});
  Drain(s, Bearer(s.key1_));
  s.clock().AdvanceMonotonic(seconds(4));
  ExpectLimited(s.Get(Bearer(s.key1_)), "6");
  s.clock().AdvanceMonotonic(seconds(6));  // 10 s: one token
  EXPECT_EQ(s.Get(Bearer(s.key1_)).status, 200);
  ExpectLimited(s.Get(Bearer(s.key1_)));
  // A long pause refills the burst, never more.
  s.clock().AdvanceMonotonic(std::chrono::hours(1));
  Drain(s, Bearer(s.key1_));
  ExpectLimited(s.Get(Bearer(s.key1_)));
}

TEST(ApiRateLimitTest, FailedAuthenticationsTakeNoTokenOfTheKey) {
  Server s(Limits{});
  // Wrong keys are the failed-authentication limiter's business (401), not a bucket.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(s.Get(Bearer(crypto::NewApiKey(SystemRandom()))).status, 401);
  }
  Drain(s, Bearer(s.key1_));
}

TEST(ApiRateLimitTest, RpmZeroTurnsItOff) {
  Server s(Limits{.rpm = 0, .burst = 1});
  HttpHeaders session = s.Session(s.owner_);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(s.Get(Bearer(s.key1_)).status, 200) << i;
    ASSERT_EQ(s.Get(session).status, 200) << i;
  }
  EXPECT_EQ(s.RateLimitedMetric("api_key"), 0);
}

}  // namespace
}  // namespace rampart
