#include "api/common.h"

#include <gtest/gtest.h>

namespace rampart::api {
namespace {

server::Request From(std::string peer, std::string forwarded_for = "") {
  server::Request r;
  r.remote_ip = std::move(peer);
  if (!forwarded_for.empty()) r.headers.emplace_back("X-Forwarded-For", std::move(forwarded_for));
  return r;
}

// What a client puts in a header or a path can never break an audit event's JSON or its
// line: bad UTF-8 and control characters become U+FFFD (ASVS V16.4.1).
TEST(AuditTextTest, InvalidUtf8AndControlsAreReplaced) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(AuditText("curl/8.0 (x; y)", 200), "curl/8.0 (x; y)");
  EXPECT_EQ(AuditText("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 200),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(AuditText("a\nb\r\x1B[31m\x7F", 200), "a" + r + "b" + r + r + "[31m" + r);
  EXPECT_EQ(AuditText("\xFF\xFE", 200), r + r);
  EXPECT_EQ(AuditText("x\xC3", 200), "x" + r);                  // truncated sequence
  EXPECT_EQ(AuditText("\xC0\xAF", 200), r + r);                // overlong '/'
  EXPECT_EQ(AuditText("\xED\xA0\x80", 200), r + r + r);       // surrogate U+D800
  EXPECT_EQ(AuditText("\xF4\x90\x80\x80", 200), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(AuditText("\xC2\x9B" "31m", 200), r + "31m");       // C1 CSI
  EXPECT_EQ(AuditText("a\xE2\x80\xA8" "b\xE2\x80\xA9", 200), "a" + r + "b" + r);
  EXPECT_EQ(AuditText(std::string("a\0b", 3), 200), "a" + r + "b");
}

TEST(AuditTextTest, CutsOnCodePoints) {
  EXPECT_EQ(AuditText("abcdef", 3), "abc...");
  EXPECT_EQ(AuditText("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xC3\xA9...");
  EXPECT_EQ(AuditText(std::string(5000, 'a'), 200).size(), 203u);
}

TEST(MediaTypeMentionsTest, IgnoresCase) {
  EXPECT_TRUE(MediaTypeMentions("application/json", "json"));
  EXPECT_TRUE(MediaTypeMentions("Application/JSON; Charset=UTF-8", "json"));
  EXPECT_TRUE(MediaTypeMentions("TEXT/X-YAML", "yaml"));
  EXPECT_FALSE(MediaTypeMentions("text/plain", "json"));
  EXPECT_FALSE(MediaTypeMentions("", "json"));
  EXPECT_FALSE(MediaTypeMentions("application/jso", "json"));
}

TEST(ParseRfc3339Test, UtcOffsetsAndFractions) {
  // 2030-01-01T00:00:00Z = 1893456000 s.
  EXPECT_EQ(ParseRfc3339Millis("2030-01-01T00:00:00Z"), 1893456000000);
  EXPECT_EQ(ParseRfc3339Millis("2030-01-01t00:00:00z"), 1893456000000);
  EXPECT_EQ(ParseRfc3339Millis("2030-01-01T00:00:00.25Z"), 1893456000250);
  EXPECT_EQ(ParseRfc3339Millis("2030-01-01T00:00:00.123456789Z"), 1893456000123);
  EXPECT_EQ(ParseRfc3339Millis("2030-01-01T02:00:00+02:00"), 1893456000000);
  EXPECT_EQ(ParseRfc3339Millis("2029-12-31T19:30:00-04:30"), 1893456000000);
  EXPECT_EQ(ParseRfc3339Millis("2028-02-29T00:00:00Z"), 1835395200000);
}

TEST(ParseRfc3339Test, AnythingElseIsRefused) {
  for (const char* text :
       {"", "2030-01-01", "2030-01-01T00:00:00", "2030-1-01T00:00:00Z", "2030-01-01 00:00:00Z",
        "2030-01-01T00:00:00Zjunk", "2030-01-01T00:00:00 garbage Z", "2030-13-01T00:00:00Z",
        "2030-02-30T00:00:00Z", "2029-02-29T00:00:00Z", "2030-01-01T24:00:00Z",
        "2030-01-01T00:60:00Z", "2030-01-01T00:00:00.Z", "2030-01-01T00:00:00+2:00",
        "2030-01-01T00:00:00+24:00", "+2030-01-01T00:00:00Z", "2030-01-01T00:00:00+02:0a",
        "1969-12-31T23:59:59Z"}) {
    EXPECT_EQ(ParseRfc3339Millis(text), std::nullopt) << text;
  }
}

// expires_at accepts any RFC 3339 time up to 9999-12-31: the listing shows it back as
// it was set. Through a nanosecond system_clock, times past 2262 overflowed (UB) and a key
// valid for centuries could be listed as expired in the 1700s.
TEST(ApiKeyJsonTest, FarFutureExpiriesAreShownAsSet) {
  for (const char* text : {"2830-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
                           "2262-04-11T23:47:16.855Z", "2262-04-12T00:00:00Z"}) {
    auto ms = ParseRfc3339Millis(text);
    ASSERT_TRUE(ms.has_value()) << text;
    store::ApiKey key;
    key.created_at = 1;
    key.expires_at = *ms;
    auto json = ApiKeyJson(key);
    std::string want = text;
    if (want.find('.') == std::string::npos) want.insert(want.size() - 1, ".000");
    EXPECT_EQ(json.at("expires_at").as_string(), want);
    EXPECT_EQ(ParseRfc3339Millis(json.at("expires_at").as_string()), ms);
  }
}

TEST(ClientAddressTest, WithoutTrustedProxiesTheHeaderIsIgnored) {
  EXPECT_EQ(ClientAddress(From("127.0.0.1", "203.0.113.7"), {}), "127.0.0.1");
}

TEST(ClientAddressTest, AnUntrustedPeerCannotSpoofItsAddress) {
  EXPECT_EQ(ClientAddress(From("198.51.100.9", "10.0.0.1"), {"127.0.0.1/32"}), "198.51.100.9");
}

TEST(ClientAddressTest, ATrustedProxyNamesTheClient) {
  EXPECT_EQ(ClientAddress(From("127.0.0.1", "203.0.113.7"), {"127.0.0.1/32"}), "203.0.113.7");
}

TEST(ClientAddressTest, EntriesTheClientWroteItselfAreNotBelieved) {
  // The client sent "X-Forwarded-For: 10.0.0.1"; our proxy appended the real address.
  EXPECT_EQ(ClientAddress(From("127.0.0.1", "10.0.0.1, 203.0.113.7"), {"127.0.0.1/32"}),
            "203.0.113.7");
}

TEST(ClientAddressTest, SeveralHeaderLinesAreOneListInOrder) {
  // RFC 9110 5.3: repeated field lines are one comma-separated list. The client sent its own
  // "X-Forwarded-For: 10.0.0.1"; our proxy added a second line with the real address
  // instead of appending to the first. Reading only the first line believed the client.
  server::Request request = From("127.0.0.1", "10.0.0.1");
  request.headers.emplace_back("x-forwarded-for", "203.0.113.7");
  EXPECT_EQ(ClientAddress(request, {"127.0.0.1/32"}), "203.0.113.7");
  // Three lines, the last two from a chain of trusted proxies.
  request.headers.emplace_back("X-Forwarded-For", "10.1.2.3");
  EXPECT_EQ(ClientAddress(request, {"127.0.0.0/8", "10.1.2.3/32"}), "203.0.113.7");
}

TEST(ClientAddressTest, ChainsOfTrustedProxiesAreWalkedRightToLeft) {
  EXPECT_EQ(ClientAddress(From("127.0.0.1", "203.0.113.7, 10.1.2.3"),
                          {"127.0.0.0/8", "10.0.0.0/8"}),
            "203.0.113.7");
  EXPECT_EQ(ClientAddress(From("::1", "2001:db8::5"), {"::1/128"}), "2001:db8::5");
}

TEST(ClientAddressTest, GarbageStopsTheWalk) {
  EXPECT_EQ(ClientAddress(From("127.0.0.1", "not-an-ip"), {"127.0.0.1/32"}), "127.0.0.1");
  EXPECT_EQ(ClientAddress(From("127.0.0.1", "1.2.3.4, junk"), {"127.0.0.1/32"}), "127.0.0.1");
}

// One IPv6 /64 is one source: a host that holds a /64 (any cloud VM) cannot get a fresh
// failed-authentication budget per address (ASVS V6.3.1).
TEST(SourceLimiterTest, AnIpv6Slash64IsOneSource) {
  SourceLimiter limiter(3);
  const auto now = std::chrono::steady_clock::now();
  int retry_after = 0;
  EXPECT_FALSE(limiter.Hit("2001:db8:1:2::1", now, &retry_after));
  EXPECT_FALSE(limiter.Hit("2001:db8:1:2::2", now, &retry_after));
  EXPECT_FALSE(limiter.Hit("2001:db8:1:2:ffff:ffff:ffff:fffe", now, &retry_after));
  EXPECT_TRUE(limiter.Blocked("2001:0db8:0001:0002:abcd::7", now, &retry_after));
  EXPECT_TRUE(limiter.Hit("2001:db8:1:2:dead:beef::1", now, &retry_after));
  EXPECT_GE(retry_after, 1);
  // The neighbouring /64 and IPv4 addresses keep budgets of their own.
  EXPECT_FALSE(limiter.Blocked("2001:db8:1:3::1", now, &retry_after));
  EXPECT_FALSE(limiter.Hit("2001:db8:1:3::1", now, &retry_after));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Hit("192.0.2.1", now, &retry_after));
  EXPECT_TRUE(limiter.Hit("::ffff:192.0.2.1", now, &retry_after)) << "mapped IPv4 is the same host";
  EXPECT_FALSE(limiter.Hit("192.0.2.2", now, &retry_after));
}

// A flood of sources (one per request, e.g. X-Forwarded-For addresses through a trusted
// proxy, or the /64s of an IPv6 allocation) keeps at most max_sources windows, and the
// sources over their budget are the last to be forgotten: the flood does not hand the
// guesser a fresh budget (it emptied the whole table once it held 100,000 windows).
TEST(SourceLimiterTest, AFloodOfSourcesIsBoundedAndKeepsTheBlockedOnes) {
  SourceLimiter limiter(2, 64);
  const auto now = std::chrono::steady_clock::now();
  int retry_after = 0;
  for (int i = 0; i < 3; ++i) (void)limiter.Hit("198.51.100.7", now, &retry_after);
  ASSERT_TRUE(limiter.Blocked("198.51.100.7", now, &retry_after));
  for (int i = 0; i < 10'000; ++i) {
    const std::string address =
        "10.0." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
    (void)limiter.Hit(address, now + std::chrono::milliseconds(i), &retry_after);
    ASSERT_LE(limiter.SizeForTest(), 64u) << "after " << i + 1 << " sources";
  }
  EXPECT_TRUE(limiter.Blocked("198.51.100.7", now + std::chrono::seconds(20), &retry_after));
  EXPECT_TRUE(limiter.Hit("198.51.100.7", now + std::chrono::seconds(20), &retry_after));
  // Windows that ended are forgotten first; the source gets its budget back after a minute.
  EXPECT_FALSE(limiter.Hit("198.51.100.7", now + std::chrono::seconds(61), &retry_after));
}

TEST(SourceKeyTest, Forms) {
  EXPECT_EQ(SourceKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey("::1"), "::/64");
  EXPECT_EQ(SourceKey("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(SourceKey("10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(SourceKey("not an address"), "not an address");
}

TEST(ParseDecimalTest, DigitsOnlyWithinTheBound) {
  EXPECT_EQ(ParseDecimal("0", 10), 0);
  EXPECT_EQ(ParseDecimal("200", 200), 200);
  EXPECT_EQ(ParseDecimal("201", 200), std::nullopt);
  for (std::string_view bad : {"", "-1", "+1", " 1", "1 ", "1e3", "0x10", "1.0",
                               "1234567890123456789"}) {
    EXPECT_EQ(ParseDecimal(bad, INT64_MAX / 10), std::nullopt) << bad;
  }
}

// ----- PrincipalRateLimiter -----

using Clock = std::chrono::steady_clock;

TEST(PrincipalRateLimiterTest, BurstThenRetryAfterThenRefill) {
  PrincipalRateLimiter limiter(/*rpm=*/60, /*burst=*/3);  // one token a second
  const Clock::time_point t0{};
  int retry_after = -1;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("key_a", t0, &retry_after)) << i;
  EXPECT_FALSE(limiter.Take("key_a", t0, &retry_after));
  EXPECT_EQ(retry_after, 1);
  // A refused request takes nothing: half a second later it is still refused, after a
  // whole second one token is back.
  EXPECT_FALSE(limiter.Take("key_a", t0 + std::chrono::milliseconds(500), &retry_after));
  EXPECT_TRUE(limiter.Take("key_a", t0 + std::chrono::seconds(1), &retry_after));
  EXPECT_FALSE(limiter.Take("key_a", t0 + std::chrono::seconds(1), &retry_after));
  // Refill never passes the burst.
  const Clock::time_point later = t0 + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("key_a", later, &retry_after)) << i;
  EXPECT_FALSE(limiter.Take("key_a", later, &retry_after));
}

TEST(PrincipalRateLimiterTest, RetryAfterCountsWholeSecondsUntilAToken) {
  PrincipalRateLimiter limiter(/*rpm=*/6, /*burst=*/1);  // one token per 10 s
  int retry_after = -1;
  EXPECT_TRUE(limiter.Take("usr_a", Clock::time_point{}, &retry_after));
  EXPECT_FALSE(limiter.Take("usr_a", Clock::time_point{}, &retry_after));
  EXPECT_EQ(retry_after, 10);
  EXPECT_FALSE(limiter.Take("usr_a", Clock::time_point{} + std::chrono::seconds(4), &retry_after));
  EXPECT_EQ(retry_after, 6);
}

TEST(PrincipalRateLimiterTest, KeysHaveTheirOwnBuckets) {
  PrincipalRateLimiter limiter(60, 2);
  int retry_after = 0;
  EXPECT_TRUE(limiter.Take("key_a", Clock::time_point{}, &retry_after));
  EXPECT_TRUE(limiter.Take("key_a", Clock::time_point{}, &retry_after));
  EXPECT_FALSE(limiter.Take("key_a", Clock::time_point{}, &retry_after));
  EXPECT_TRUE(limiter.Take("key_b", Clock::time_point{}, &retry_after));
  EXPECT_TRUE(limiter.Take("usr_a", Clock::time_point{}, &retry_after));
}

TEST(PrincipalRateLimiterTest, RpmZeroIsOff) {
  PrincipalRateLimiter limiter(0, 1);
  EXPECT_FALSE(limiter.enabled());
  int retry_after = 0;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.Take("key_a", Clock::time_point{}, &retry_after));
  EXPECT_EQ(limiter.SizeForTest(), 0u);
}

TEST(PrincipalRateLimiterTest, MemoryIsBoundedAndAFloodOfKeysKeepsABusyBucket) {
  const size_t cap = 16 * PrincipalRateLimiter::kShards;
  PrincipalRateLimiter limiter(60, 2, cap);
  int retry_after = 0;
  const Clock::time_point t0{};
  // The victim drains its bucket, then many other principals arrive at the same moment
  // (none idle long enough to be full again).
  EXPECT_TRUE(limiter.Take("key_busy", t0, &retry_after));
  EXPECT_TRUE(limiter.Take("key_busy", t0, &retry_after));
  for (int i = 0; i < 10'000; ++i) {
    limiter.Take("key_" + std::to_string(i), t0 + std::chrono::milliseconds(1), &retry_after);
    ASSERT_LE(limiter.SizeForTest(), cap);
  }
  // Evicted or not, the busy key gets no more than a token's worth of refill per second:
  // a flood of other keys could at most reset it to a full bucket (2), never beyond it.
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.Take("key_busy", t0 + std::chrono::milliseconds(2), &retry_after);
  EXPECT_LE(allowed, 2);
  // Buckets idle past their refill time go first: a fresh key after a long pause keeps the
  // map at or under the cap.
  EXPECT_TRUE(limiter.Take("key_new", t0 + std::chrono::hours(1), &retry_after));
  EXPECT_LE(limiter.SizeForTest(), cap);
}

}  // namespace
}  // namespace rampart::api
