// The verifiers against the published vectors (tests/testdata/webhooks/
// webhook-signature-vectors.json: Standard Webhooks' own test vector and GitHub's
// documented example), plus the attacks of spec/security.md section 6 at the unit level.
#include "rampart/webhooks/verify.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace rampart::webhooks {
namespace {

namespace bj = boost::json;

bj::value Vectors() {
  std::ifstream in(std::string(RAMPART_SOURCE_DIR) +
                   "/tests/testdata/webhooks/webhook-signature-vectors.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return bj::parse(ss.str());
}

AuthConfig Cfg(AuthType type) {
  AuthConfig c;
  c.type = type;
  return c;
}

struct Headers {
  std::map<std::string, std::string> values;  // lower-case names
  HeaderLookup Lookup() const {
    return [this](std::string_view name) -> std::optional<std::string_view> {
      std::string lower(name);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto it = values.find(lower);
      if (it == values.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  }
};

std::string Str(const bj::object& o, const char* key, const std::string& fallback) {
  const bj::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : fallback;
}

TEST(StandardWebhooks, EveryVector) {
  const bj::object sw = Vectors().at("standard_webhooks").as_object();
  const std::string secret = Str(sw, "secret", "");
  const std::string id = Str(sw, "webhook-id", "");
  const std::string ts = Str(sw, "webhook-timestamp", "");
  const std::string body = Str(sw, "body", "");
  const int64_t now = sw.at("verify_now_unix").as_int64();
  AuthConfig config = Cfg(AuthType::kStandardWebhooks);
  EXPECT_EQ(SignStandardWebhooks(secret, id, std::stoll(ts), body),
            Str(sw, "expected_webhook-signature", ""));
  int cases = 0;
  for (const bj::value& cv : sw.at("cases").as_array()) {
    const bj::object& c = cv.as_object();
    const std::string name = Str(c, "name", "");
    const std::string expect = Str(c, "expect", "");
    if (name.rfind("replay", 0) == 0) continue;  // the replay store: tests/api/webhooks_test.cc
    Headers h;
    h.values["webhook-id"] = Str(c, "webhook-id", id);
    h.values["webhook-timestamp"] = Str(c, "webhook-timestamp", ts);
    h.values["webhook-signature"] =
        Str(c, "webhook-signature", Str(sw, "expected_webhook-signature", ""));
    if (const bj::value* drop = c.if_contains("drop_header")) {
      h.values.erase(std::string(drop->as_string()));
    }
    int64_t verify_now = c.contains("verify_now_unix") ? c.at("verify_now_unix").as_int64() : now;
    auto r = Verify(config, h.Lookup(), Str(c, "body", body), Str(c, "secret", secret),
                    verify_now);
    if (expect == "accept") {
      EXPECT_TRUE(r.ok()) << name;
      if (r.ok()) {
        EXPECT_EQ(r->delivery_id, id);
        EXPECT_EQ(r->timestamp, std::stoll(ts));
      }
    } else {
      EXPECT_FALSE(r.ok()) << name;
      if (!r.ok() && c.contains("verify_now_unix")) {
        EXPECT_EQ(r.error().code, ErrorCode::kConflict) << name;  // signature fine, stale
      } else if (!r.ok()) {
        EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated) << name;
        EXPECT_EQ(r.error().message, "invalid webhook signature") << name;
      }
    }
    ++cases;
  }
  EXPECT_EQ(cases, 14);
}

TEST(StandardWebhooks, WindowEdgesBothDirections) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  AuthConfig config = Cfg(AuthType::kStandardWebhooks);
  const int64_t now = 1614265330;
  for (int64_t delta : {-301, -300, 0, 300, 301}) {
    Headers h;
    h.values["webhook-id"] = "msg_1";
    h.values["webhook-timestamp"] = std::to_string(now + delta);
    h.values["webhook-signature"] = SignStandardWebhooks(secret, "msg_1", now + delta, "{}");
    auto r = Verify(config, h.Lookup(), "{}", secret, now);
    if (delta == -301 || delta == 301) {
      ASSERT_FALSE(r.ok()) << delta;
      EXPECT_EQ(r.error().code, ErrorCode::kConflict);
    } else {
      EXPECT_TRUE(r.ok()) << delta;
    }
  }
  config.replay_window_seconds = 10;
  Headers h;
  h.values["webhook-id"] = "msg_1";
  h.values["webhook-timestamp"] = std::to_string(now - 11);
  h.values["webhook-signature"] = SignStandardWebhooks(secret, "msg_1", now - 11, "{}");
  EXPECT_FALSE(Verify(config, h.Lookup(), "{}", secret, now).ok());
}

TEST(StandardWebhooks, SecretForms) {
  const bj::object sw = Vectors().at("standard_webhooks").as_object();
  for (const bj::value& s : sw.at("empty_secret_cases").as_array()) {
    EXPECT_FALSE(DecodeStandardWebhooksSecret(s.as_string()).has_value()) << s;
    Headers h;
    h.values["webhook-id"] = "msg_1";
    h.values["webhook-timestamp"] = "1614265330";
    // What a sender with an empty key would produce: must not verify.
    h.values["webhook-signature"] = SignStandardWebhooks("", "msg_1", 1614265330, "{}");
    EXPECT_FALSE(Verify(Cfg(AuthType::kStandardWebhooks), h.Lookup(), "{}",
                        std::string(s.as_string()), 1614265330)
                     .ok());
  }
  EXPECT_EQ(DecodeStandardWebhooksSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")->size(), 24u);
  EXPECT_TRUE(DecodeStandardWebhooksSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS").has_value());
  EXPECT_TRUE(DecodeStandardWebhooksSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr").has_value());
  EXPECT_FALSE(DecodeStandardWebhooksSecret("whsec_not base64!").has_value());
}

TEST(Github, DocumentedVector) {
  const bj::object gh = Vectors().at("github_x_hub_signature_256").as_object();
  const std::string secret = Str(gh, "secret", "");
  const std::string body = Str(gh, "body", "");
  const std::string hex = Str(gh, "expected_signature_hex", "");
  EXPECT_EQ(SignGithub(secret, body), "sha256=" + hex);
  AuthConfig config = Cfg(AuthType::kGithub);
  Headers h;
  h.values["x-hub-signature-256"] = "sha256=" + hex;
  h.values["x-github-delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
  auto ok = Verify(config, h.Lookup(), body, secret, 0);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  EXPECT_FALSE(ok->timestamp.has_value());

  EXPECT_FALSE(Verify(config, h.Lookup(), body + " ", secret, 0).ok());           // body changed
  EXPECT_FALSE(Verify(config, h.Lookup(), body, "another secret", 0).ok());       // other secret
  Headers no_prefix = h;
  no_prefix.values["x-hub-signature-256"] = hex;
  EXPECT_FALSE(Verify(config, no_prefix.Lookup(), body, secret, 0).ok());
  Headers sha1 = h;
  sha1.values["x-hub-signature-256"] = "sha1=" + hex;
  EXPECT_FALSE(Verify(config, sha1.Lookup(), body, secret, 0).ok());
  Headers no_delivery = h;
  no_delivery.values.erase("x-github-delivery");
  EXPECT_FALSE(Verify(config, no_delivery.Lookup(), body, secret, 0).ok());
  Headers missing = h;
  missing.values.erase("x-hub-signature-256");
  EXPECT_FALSE(Verify(config, missing.Lookup(), body, secret, 0).ok());
  EXPECT_FALSE(Verify(config, h.Lookup(), body, "", 0).ok());
}

TEST(HmacSha256, StripeStyleVectorAndOptions) {
  const bj::object st = Vectors().at("stripe_style").as_object();
  const std::string secret = Str(st, "secret", "");
  const int64_t t = st.at("t").as_int64();
  const std::string body = Str(st, "body", "");
  EXPECT_EQ(SignHmacSha256(secret, t, body), Str(st, "expected_v1", ""));

  AuthConfig config = Cfg(AuthType::kHmacSha256);
  config.header = "X-Sig";
  config.timestamp_header = "X-Ts";
  Headers h;
  h.values["x-sig"] = Str(st, "expected_v1", "");
  h.values["x-ts"] = std::to_string(t);
  EXPECT_TRUE(Verify(config, h.Lookup(), body, secret, t + 300).ok());
  auto stale = Verify(config, h.Lookup(), body, secret, t + 301);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(Verify(config, h.Lookup(), body, secret, t - 301).error().code, ErrorCode::kConflict);
  Headers no_ts = h;
  no_ts.values.erase("x-ts");
  EXPECT_EQ(Verify(config, no_ts.Lookup(), body, secret, t).error().code,
            ErrorCode::kUnauthenticated);
  Headers moved_ts = h;
  moved_ts.values["x-ts"] = std::to_string(t + 1);  // the timestamp is signed
  EXPECT_FALSE(Verify(config, moved_ts.Lookup(), body, secret, t).ok());

  AuthConfig plain = Cfg(AuthType::kHmacSha256);
  Headers p;
  p.values["x-signature"] = SignHmacSha256(secret, std::nullopt, body);
  EXPECT_TRUE(Verify(plain, p.Lookup(), body, secret, 0).ok());
  p.values["x-signature"] = "sha256=" + SignHmacSha256(secret, std::nullopt, body);
  EXPECT_TRUE(Verify(plain, p.Lookup(), body, secret, 0).ok());
  EXPECT_FALSE(Verify(plain, p.Lookup(), body + "x", secret, 0).ok());
  p.values["x-signature"] = "zz";
  EXPECT_FALSE(Verify(plain, p.Lookup(), body, secret, 0).ok());
}

TEST(Bearer, ExactTokenOnly) {
  AuthConfig config = Cfg(AuthType::kBearer);
  Headers h;
  h.values["authorization"] = "Bearer s3cret-token";
  EXPECT_TRUE(Verify(config, h.Lookup(), "{}", "s3cret-token", 0).ok());
  EXPECT_FALSE(Verify(config, h.Lookup(), "{}", "s3cret-tokem", 0).ok());
  EXPECT_FALSE(Verify(config, h.Lookup(), "{}", "s3cret-token2", 0).ok());
  EXPECT_FALSE(Verify(config, h.Lookup(), "{}", "", 0).ok());
  h.values["authorization"] = "Basic s3cret-token";
  EXPECT_FALSE(Verify(config, h.Lookup(), "{}", "s3cret-token", 0).ok());
  h.values.clear();
  EXPECT_FALSE(Verify(config, h.Lookup(), "{}", "s3cret-token", 0).ok());
}

TEST(Allowlist, Ipv4Ipv6AndMapped) {
  std::vector<Cidr> list = {*ParseCidr("127.0.0.0/8"), *ParseCidr("10.1.2.0/23"),
                            *ParseCidr("2001:db8::/32"), *ParseCidr("192.0.2.7")};
  EXPECT_TRUE(IpAllowed("127.0.0.1", list));
  EXPECT_TRUE(IpAllowed("::ffff:127.0.0.1", list));
  EXPECT_TRUE(IpAllowed("10.1.3.255", list));
  EXPECT_FALSE(IpAllowed("10.1.4.0", list));
  EXPECT_TRUE(IpAllowed("2001:db8:ffff::1", list));
  EXPECT_FALSE(IpAllowed("2001:db9::1", list));
  EXPECT_TRUE(IpAllowed("192.0.2.7", list));
  EXPECT_FALSE(IpAllowed("192.0.2.8", list));
  EXPECT_FALSE(IpAllowed("::1", list));
  EXPECT_FALSE(IpAllowed("not an ip", list));
  EXPECT_FALSE(IpAllowed("127.0.0.1/8", list));
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").has_value());
  EXPECT_FALSE(ParseCidr("::/129").has_value());
  EXPECT_TRUE(IpAllowed("8.8.8.8", {*ParseCidr("0.0.0.0/0")}));
}

TEST(TokenBuckets, BurstThenRefill) {
  TokenBuckets buckets;
  auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  int retry = 0;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(buckets.Take("hk_1", 60, 5, t0, &retry)) << i;
  EXPECT_FALSE(buckets.Take("hk_1", 60, 5, t0, &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(buckets.Take("hk_2", 60, 5, t0, &retry));  // per key
  EXPECT_TRUE(buckets.Take("hk_1", 60, 5, t0 + std::chrono::seconds(1), &retry));
  EXPECT_FALSE(buckets.Take("hk_1", 60, 5, t0 + std::chrono::seconds(1), &retry));
  EXPECT_FALSE(buckets.Take("hk_1", 1, 1, t0 + std::chrono::seconds(1), &retry));
  EXPECT_GE(retry, 1);
}

// A full table makes room by its buckets' own rates: a slow key that is drained stays
// limited while fast keys that refilled long ago go. Past its own refill time, a bucket
// is the same as a new one.
TEST(TokenBuckets, EvictionJudgesEachBucketByItsOwnRate) {
  TokenBuckets buckets(8);
  auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  int retry = 0;
  ASSERT_TRUE(buckets.Take("slow", 1, 1, t0, &retry));  // one a minute: drained now
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(buckets.Take("fast" + std::to_string(i), 600, 1, t0, &retry));
  }
  const auto t1 = t0 + std::chrono::seconds(2);  // the fast ones refilled after 0.1 s
  EXPECT_TRUE(buckets.Take("new", 600, 1, t1, &retry));
  EXPECT_FALSE(buckets.Take("slow", 1, 1, t1, &retry));
  EXPECT_GE(retry, 50);
}

// A table full of buckets that are all still refilling: a new key makes room for many
// (the oldest half goes at once), so a flood of new keys costs one scan per max/2 keys,
// not one per key; the most recently used buckets stay.
TEST(TokenBuckets, AFullTableOfActiveBucketsIsHalvedOldestFirst) {
  TokenBuckets buckets(64);
  auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  int retry = 0;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(buckets.Take("k" + std::to_string(i), 1, 1, t0 + std::chrono::milliseconds(i),
                             &retry));
  }
  ASSERT_EQ(buckets.size(), 64u);
  const auto t1 = t0 + std::chrono::seconds(1);
  EXPECT_TRUE(buckets.Take("new", 1, 1, t1, &retry));
  EXPECT_LE(buckets.size(), 33u);
  EXPECT_FALSE(buckets.Take("k63", 1, 1, t1, &retry));  // recent: kept, still drained
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(buckets.Take("flood" + std::to_string(i), 1, 1, t1, &retry));
    ASSERT_LE(buckets.size(), 64u);
  }
}

TEST(Counters, Names) {
  RejectionCounters c;
  c.Count(Outcome::kReplayed);
  c.Count(Outcome::kReplayed);
  EXPECT_EQ(c.Get(Outcome::kReplayed), 2);
  EXPECT_EQ(OutcomeName(Outcome::kForbiddenSource), "forbidden_source");
}

}  // namespace
}  // namespace rampart::webhooks
