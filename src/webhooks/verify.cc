#include "rampart/webhooks/verify.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "rampart/core/ascii.h"
#include "rampart/core/keep_highest.h"
#include "rampart/crypto/crypto.h"

namespace rampart::webhooks {
namespace {

Error BadSignature() { return MakeError(ErrorCode::kUnauthenticated, "invalid webhook signature"); }

// A Unix timestamp in seconds: 1 to 12 decimal digits, nothing else.
std::optional<int64_t> ParseTimestamp(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

bool PrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Standard alphabet, '=' padding optional, unused bits ignored (as the reference
// libraries accept secrets); anything else -> nullopt.
std::optional<std::string> LenientBase64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool OutsideWindow(int64_t timestamp, int64_t now, int64_t window) {
  return timestamp < now - window || timestamp > now + window;
}

Result<Verified> VerifyStandardWebhooks(const AuthConfig& config, const HeaderLookup& headers,
                                        std::string_view body, std::string_view secret,
                                        int64_t now) {
  auto id = headers("webhook-id");
  auto ts_text = headers("webhook-timestamp");
  auto signatures = headers("webhook-signature");
  if (!id || !ts_text || !signatures) return BadSignature();
  std::string_view id_v = Trim(*id);
  if (id_v.empty() || id_v.size() > kMaxDeliveryIdLength || !PrintableAscii(id_v)) {
    return BadSignature();
  }
  auto timestamp = ParseTimestamp(Trim(*ts_text));
  if (!timestamp) return BadSignature();
  auto key = DecodeStandardWebhooksSecret(secret);
  if (!key) return BadSignature();
  std::string signed_content;
  signed_content.reserve(id_v.size() + 16 + body.size());
  signed_content.append(id_v).append(".").append(std::to_string(*timestamp)).append(".");
  signed_content.append(body);
  const std::string expected =
      crypto::Base64Encode(crypto::DigestBytes(crypto::HmacSha256(*key, signed_content)));
  // Every "v1,<sig>" entry is compared (no early exit on a match, so the time does not
  // tell which entry matched); other versions are ignored.
  bool match = false;
  std::string_view rest = *signatures;
  int entries = 0;
  while (!rest.empty() && entries < 16) {
    size_t space = rest.find(' ');
    std::string_view entry = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (entry.empty()) continue;
    ++entries;
    if (entry.size() < 3 || entry.substr(0, 3) != "v1,") continue;
    match = crypto::ConstantTimeEqual(entry.substr(3), expected) || match;
  }
  if (!match) return BadSignature();
  if (OutsideWindow(*timestamp, now, config.replay_window_seconds)) {
    return MakeError(ErrorCode::kConflict, "webhook timestamp outside the replay window");
  }
  return Verified{std::string(id_v), timestamp};
}

Result<Verified> VerifyGithub(const HeaderLookup& headers, std::string_view body,
                              std::string_view secret) {
  auto signature = headers("x-hub-signature-256");
  auto delivery = headers("x-github-delivery");
  if (!signature || !delivery || secret.empty()) return BadSignature();
  std::string_view delivery_v = Trim(*delivery);
  if (delivery_v.empty() || delivery_v.size() > kMaxDeliveryIdLength ||
      !PrintableAscii(delivery_v)) {
    return BadSignature();
  }
  const std::string expected = SignGithub(secret, body);
  if (!crypto::ConstantTimeEqual(AsciiLowered(Trim(*signature)), expected)) return BadSignature();
  return Verified{std::string(delivery_v), std::nullopt};
}

Result<Verified> VerifyHmac(const AuthConfig& config, const HeaderLookup& headers,
                            std::string_view body, std::string_view secret, int64_t now) {
  auto signature = headers(config.header.empty() ? std::string_view("X-Signature")
                                                 : std::string_view(config.header));
  if (!signature || secret.empty()) return BadSignature();
  std::optional<int64_t> timestamp;
  if (!config.timestamp_header.empty()) {
    auto ts_text = headers(config.timestamp_header);
    if (!ts_text) return BadSignature();
    timestamp = ParseTimestamp(Trim(*ts_text));
    if (!timestamp) return BadSignature();
  }
  std::string provided = AsciiLowered(Trim(*signature));
  if (provided.rfind("sha256=", 0) == 0) provided.erase(0, 7);
  const std::string expected = SignHmacSha256(secret, timestamp, body);
  if (!crypto::ConstantTimeEqual(provided, expected)) return BadSignature();
  if (timestamp && OutsideWindow(*timestamp, now, config.replay_window_seconds)) {
    return MakeError(ErrorCode::kConflict, "webhook timestamp outside the replay window");
  }
  return Verified{std::string(), timestamp};
}

Result<Verified> VerifyBearer(const HeaderLookup& headers, std::string_view token) {
  auto authorization = headers("authorization");
  if (!authorization || token.empty()) return BadSignature();
  std::string_view v = Trim(*authorization);
  if (v.size() < 7 || AsciiLowered(v.substr(0, 7)) != "bearer ") return BadSignature();
  // Hashing both sides first makes the comparison independent of the token's length.
  if (!crypto::ConstantTimeEqual(crypto::DigestBytes(crypto::Sha256(Trim(v.substr(7)))),
                                 crypto::DigestBytes(crypto::Sha256(token)))) {
    return BadSignature();
  }
  return Verified{};
}

}  // namespace

std::optional<AuthType> ParseAuthType(std::string_view name) {
  if (name == "github") return AuthType::kGithub;
  if (name == "standard-webhooks") return AuthType::kStandardWebhooks;
  if (name == "hmac-sha256") return AuthType::kHmacSha256;
  if (name == "bearer") return AuthType::kBearer;
  return std::nullopt;
}

std::optional<std::string> DecodeStandardWebhooksSecret(std::string_view secret) {
  if (secret.rfind("whsec_", 0) == 0) secret.remove_prefix(6);
  if (secret.empty()) return std::nullopt;
  auto key = LenientBase64Decode(secret);
  if (!key || key->empty()) return std::nullopt;
  return key;
}

Result<Verified> Verify(const AuthConfig& config, const HeaderLookup& headers,
                        std::string_view body, std::string_view secret, int64_t now_unix) {
  switch (config.type) {
    case AuthType::kStandardWebhooks:
      return VerifyStandardWebhooks(config, headers, body, secret, now_unix);
    case AuthType::kGithub:
      return VerifyGithub(headers, body, secret);
    case AuthType::kHmacSha256:
      return VerifyHmac(config, headers, body, secret, now_unix);
    case AuthType::kBearer:
      return VerifyBearer(headers, secret);
  }
  return BadSignature();
}

std::string SignStandardWebhooks(std::string_view secret, std::string_view id, int64_t timestamp,
                                 std::string_view body) {
  auto key = DecodeStandardWebhooksSecret(secret);
  std::string content = std::string(id) + "." + std::to_string(timestamp) + ".";
  content.append(body);
  return "v1," + crypto::Base64Encode(crypto::DigestBytes(
                     crypto::HmacSha256(key.value_or(std::string()), content)));
}

std::string SignGithub(std::string_view secret, std::string_view body) {
  return "sha256=" + crypto::HexEncode(crypto::DigestBytes(crypto::HmacSha256(secret, body)));
}

std::string SignHmacSha256(std::string_view secret, std::optional<int64_t> timestamp,
                           std::string_view body) {
  if (!timestamp) return crypto::HexEncode(crypto::DigestBytes(crypto::HmacSha256(secret, body)));
  std::string content = std::to_string(*timestamp) + ".";
  content.append(body);
  return crypto::HexEncode(crypto::DigestBytes(crypto::HmacSha256(secret, content)));
}

// ----- allowlist -----

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string addr(text.substr(0, slash));
  Cidr cidr;
  if (addr.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, addr.c_str(), cidr.address.data()) != 1) return std::nullopt;
    cidr.length = 16;
  } else {
    if (inet_pton(AF_INET, addr.c_str(), cidr.address.data()) != 1) return std::nullopt;
    cidr.length = 4;
  }
  cidr.prefix_bits = cidr.length * 8;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    int n = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    if (n > cidr.length * 8) return std::nullopt;
    cidr.prefix_bits = n;
  }
  return cidr;
}

bool IpAllowed(std::string_view ip, const std::vector<Cidr>& allowlist) {
  auto peer = ParseCidr(ip);
  if (!peer || peer->prefix_bits != peer->length * 8) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (peer->length == 16 && std::memcmp(peer->address.data(), kMapped, 12) == 0) {
    std::memmove(peer->address.data(), peer->address.data() + 12, 4);
    peer->length = 4;
  }
  for (const Cidr& net : allowlist) {
    if (net.length != peer->length) continue;
    int full = net.prefix_bits / 8;
    int rest = net.prefix_bits % 8;
    if (std::memcmp(net.address.data(), peer->address.data(), full) != 0) continue;
    if (rest != 0) {
      uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((net.address[full] & mask) != (peer->address[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

// ----- token buckets -----

bool TokenBuckets::Take(std::string_view key, int rpm, int burst,
                        std::chrono::steady_clock::time_point now, int* retry_after_seconds) {
  rpm = std::max(rpm, 1);
  burst = std::max(burst, 1);
  const double per_second = rpm / 60.0;
  // How long an empty bucket takes to refill: past it, a bucket is as good as a new one.
  const auto full_after = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(burst / per_second));
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) Evict(now);
    it = buckets_.emplace(std::string(key), Bucket{static_cast<double>(burst), now, now}).first;
  } else {
    Bucket& b = it->second;
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    if (elapsed > 0) {
      b.tokens = std::min<double>(burst, b.tokens + elapsed * per_second);
      b.updated = now;
    }
  }
  Bucket& b = it->second;
  b.full_at = now + full_after;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  if (retry_after_seconds != nullptr) {
    *retry_after_seconds = std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / per_second)));
  }
  return false;
}

void TokenBuckets::Evict(std::chrono::steady_clock::time_point now) {
  // Full buckets (by their own rate) are exact to drop; when that frees less than a
  // quarter, the least recently used go too, down to half the table, so the next scan
  // is max_keys / 2 new keys away.
  std::erase_if(buckets_, [&](const auto& kv) { return kv.second.full_at <= now; });
  if (buckets_.size() < max_keys_ - max_keys_ / 4) return;
  KeepHighestRanked(buckets_, max_keys_ / 2, [](const Bucket& b) { return b.updated; });
}

size_t TokenBuckets::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return buckets_.size();
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kUnknownHook: return "unknown_hook";
    case Outcome::kUnauthenticated: return "unauthenticated";
    case Outcome::kReplayed: return "replayed";
    case Outcome::kTooLarge: return "too_large";
    case Outcome::kForbiddenSource: return "forbidden_source";
    case Outcome::kRateLimited: return "rate_limited";
    case Outcome::kInvalidPayload: return "invalid_payload";
    case Outcome::kInternal: return "internal";
    case Outcome::kCount: break;
  }
  return "unknown";
}

}  // namespace rampart::webhooks
