// Inbound webhook verification (spec/interfaces.md "Inbound webhook authentication",
// spec/security.md section 6): pure functions over (headers, raw body, secret, now), the
// per-trigger token bucket and the source allowlist. Nothing here parses the body, touches
// the store or logs; every comparison of a secret-derived value is constant time.
//
// Thread-safety: the free functions are thread-safe; TokenBuckets and RejectionCounters
// are thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/core/string_map.h"

namespace rampart::webhooks {

enum class AuthType { kGithub, kStandardWebhooks, kHmacSha256, kBearer };

// "github" | "standard-webhooks" | "hmac-sha256" | "bearer"; nullopt otherwise.
std::optional<AuthType> ParseAuthType(std::string_view name);

inline constexpr int64_t kDefaultReplayWindowSeconds = 300;
inline constexpr size_t kMaxDeliveryIdLength = 256;

struct AuthConfig {
  AuthType type = AuthType::kStandardWebhooks;
  std::string header = "X-Signature";  // hmac-sha256: the signature header
  std::string timestamp_header;        // hmac-sha256: "" = no timestamp
  int64_t replay_window_seconds = kDefaultReplayWindowSeconds;
};

// Case-insensitive lookup of a request header (first occurrence).
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

struct Verified {
  // github: X-GitHub-Delivery; standard-webhooks: webhook-id; "" for the others.
  std::string delivery_id;
  std::optional<int64_t> timestamp;  // unix seconds, when the scheme carries one
};

// Verifies the request against `secret` (webhook_secret's `secret`, or the bearer
// connector's `token`; standard-webhooks: "whsec_<base64>" or bare base64, padding
// optional). Errors:
//   kUnauthenticated "invalid webhook signature" - missing, malformed or wrong signature,
//     a missing/non-numeric timestamp the scheme signs, an empty secret. Always the same
//     message, whatever was wrong.
//   kConflict "webhook timestamp outside the replay window" - signature valid but the
//     timestamp is more than replay_window seconds before or after `now_unix`.
// The delivery id (authenticated or not: GitHub does not sign it) is returned for the
// caller's replay store; it is at most kMaxDeliveryIdLength printable ASCII characters,
// else kUnauthenticated.
Result<Verified> Verify(const AuthConfig& config, const HeaderLookup& headers,
                        std::string_view body, std::string_view secret, int64_t now_unix);

// The signature header values a sender would produce (for tests, benchmarks and
// outbound hooks). Standard Webhooks: "v1,<base64>" of id.timestamp.body.
std::string SignStandardWebhooks(std::string_view secret, std::string_view id, int64_t timestamp,
                                 std::string_view body);
// GitHub: "sha256=<hex>".
std::string SignGithub(std::string_view secret, std::string_view body);
// hmac-sha256: hex of HMAC(secret, "<timestamp>.<body>") or of the body without timestamp.
std::string SignHmacSha256(std::string_view secret, std::optional<int64_t> timestamp,
                           std::string_view body);

// Standard Webhooks secret bytes: "whsec_" stripped, base64 (standard alphabet, padding
// optional) decoded. nullopt when empty or not base64.
std::optional<std::string> DecodeStandardWebhooksSecret(std::string_view secret);

// ----- source allowlist ----------------------------------------------------------------

// An IPv4 or IPv6 network.
struct Cidr {
  std::array<uint8_t, 16> address{};
  int length = 0;       // 4 or 16 bytes
  int prefix_bits = 0;  // <= 8 * length
};
// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32, /128). nullopt when invalid.
std::optional<Cidr> ParseCidr(std::string_view text);
// True when `ip` (the TCP peer; an IPv4-mapped IPv6 address counts as its IPv4 address)
// is inside one of `allowlist`. An unparsable ip is never allowed.
bool IpAllowed(std::string_view ip, const std::vector<Cidr>& allowlist);

// ----- rate limit ------------------------------------------------------------------------

// One token bucket per key (a trigger, an org, an API principal): capacity `burst`,
// refilled at rpm/60 per second. Thread-safe: one mutex held for one hash lookup (no
// allocation for a known key).
// Memory: at most `max_keys` buckets. A new key at the cap first drops the buckets idle
// long enough to be full again (they carry no state), then, if every bucket is still in
// use, the one idle the longest (the closest to full); never a wholesale clear, which would
// refill every caller at once.
class TokenBuckets {
 public:
  explicit TokenBuckets(size_t max_keys = 100000) : max_keys_(max_keys > 0 ? max_keys : 1) {}
  // Takes one token. True when allowed; otherwise `retry_after_seconds` (>= 1) says when
  // the next token is available.
  bool Take(std::string_view key, int rpm, int burst, std::chrono::steady_clock::time_point now,
            int* retry_after_seconds);
  size_t size();

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point updated;  // last refill
    std::chrono::steady_clock::time_point full_at;  // refilled by then at its last rate
  };
  void Evict(std::chrono::steady_clock::time_point now);

  const size_t max_keys_;
  std::mutex mutex_;
  StringMap<Bucket> buckets_;  // guarded by mutex_
};

// ----- counters ----------------------------------------------------------------------------

// Outcomes of inbound webhook requests. Every request counts exactly once.
enum class Outcome {
  kAccepted,
  kUnknownHook,       // no such token (or the workflow/version cannot receive)
  kUnauthenticated,   // missing/bad signature, or a misconfigured secret
  kReplayed,          // delivery id seen, or timestamp outside the window
  kTooLarge,          // over max_payload
  kForbiddenSource,   // outside ip_allowlist
  kRateLimited,
  kInvalidPayload,    // content type, JSON, or the inputs schema
  kInternal,
  kCount,
};
std::string_view OutcomeName(Outcome outcome);

class RejectionCounters {
 public:
  void Count(Outcome outcome) {
    counts_[static_cast<size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }
  int64_t Get(Outcome outcome) const {
    return counts_[static_cast<size_t>(outcome)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<int64_t>, static_cast<size_t>(Outcome::kCount)> counts_{};
};

}  // namespace rampart::webhooks
