// Fuzzes inbound webhook verification (rampart::webhooks::Verify): the header parsing of
// every authentication type of spec/interfaces.md, on untrusted headers and bodies.
//
// Input: byte 0 picks the type (bits 0-1) and the mode (bit 2); byte 1 the clock's offset
// from the timestamp the input names; the rest is "<signature>\n<id>\n<timestamp>\n<body>".
//   - forge mode: the signature header is the input's. Any acceptance that is not the
//     exact signature a sender with the secret would compute is a forgery: a finding.
//   - signed mode: the harness signs the input's id, timestamp and body with the secret
//     (as a sender does), so the fuzzer reaches the checks behind the signature. Then:
//     acceptance needs a 1-12 digit timestamp within the replay window and an id of
//     printable ASCII of at most 256 bytes; a canonical one (plain digits, short
//     alphanumeric id, inside the window) must be accepted.
// Every rejection is kUnauthenticated "invalid webhook signature" (the same message,
// whatever was wrong) or, behind a valid signature, kConflict for the window.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/webhooks/verify.h"

namespace {

using rampart::ErrorCode;
using rampart::webhooks::AuthConfig;
using rampart::webhooks::AuthType;

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";  // the spec's
constexpr std::string_view kPlainSecret = "It's a Secret to Everybody";
constexpr int64_t kWindow = 300;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The next '\n'-terminated field of `rest` (all of it when there is no '\n').
std::string_view Field(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  std::string_view field = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return field;
}

std::optional<int64_t> Digits(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

bool Canonical(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto type = static_cast<AuthType>(data[0] & 3);
  const bool signed_mode = (data[0] & 4) != 0;
  const int64_t offset = static_cast<int8_t>(data[1]) * 5;  // -640..635 s
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string signature(Field(rest));
  const std::string_view id = Field(rest);
  const std::string_view ts_text = Field(rest);
  const std::string_view body = rest;

  const auto ts = Digits(Trim(ts_text));
  const int64_t now = (ts ? *ts : 1700000000) + offset;
  AuthConfig config;
  config.type = type;
  config.replay_window_seconds = kWindow;
  if (type == AuthType::kHmacSha256 && !ts_text.empty()) config.timestamp_header = "X-Timestamp";
  const std::string_view secret =
      type == AuthType::kStandardWebhooks ? kSecret : kPlainSecret;

  // What a sender holding the secret sends, over the input's id, timestamp and body.
  std::string expected;
  switch (type) {
    case AuthType::kStandardWebhooks:
      if (ts) expected = rampart::webhooks::SignStandardWebhooks(secret, Trim(id), *ts, body);
      break;
    case AuthType::kGithub:
      expected = rampart::webhooks::SignGithub(secret, body);
      break;
    case AuthType::kHmacSha256:
      expected = rampart::webhooks::SignHmacSha256(
          secret, config.timestamp_header.empty() ? std::nullopt : ts, body);
      break;
    case AuthType::kBearer:
      expected = "Bearer " + std::string(secret);
      break;
  }
  if (signed_mode) signature = expected;

  auto headers = [&](std::string_view name) -> std::optional<std::string_view> {
    const std::string n = Lower(name);
    if (n == "webhook-signature" || n == "x-hub-signature-256" || n == "x-signature" ||
        n == "authorization") {
      return std::string_view(signature);
    }
    if (n == "webhook-id" || n == "x-github-delivery") return id;
    if (n == "webhook-timestamp" || n == "x-timestamp") return ts_text;
    return std::nullopt;
  };
  auto verified = rampart::webhooks::Verify(config, headers, body, secret, now);

  const bool in_window = offset >= -kWindow && offset <= kWindow;
  bool must_accept = false;
  if (signed_mode) {
    switch (type) {
      case AuthType::kStandardWebhooks:
        must_accept = ts && in_window && Canonical(Trim(id));
        break;
      case AuthType::kGithub:
        must_accept = Canonical(Trim(id));
        break;
      case AuthType::kHmacSha256:
        must_accept = ts_text.empty() || (ts && in_window);
        break;
      case AuthType::kBearer:
        must_accept = true;
        break;
    }
  }
  if (!verified.ok()) {
    const auto& e = verified.error();
    const bool unauthenticated =
        e.code == ErrorCode::kUnauthenticated && e.message == "invalid webhook signature";
    const bool outside_window = e.code == ErrorCode::kConflict &&
                                e.message == "webhook timestamp outside the replay window";
    if (!unauthenticated && !outside_window) __builtin_trap();
    // The window is judged only on a timestamp the scheme signs, and only when it is out.
    const bool windowed = type == AuthType::kStandardWebhooks ||
                          (type == AuthType::kHmacSha256 && !config.timestamp_header.empty());
    if (outside_window && (!windowed || !ts || in_window)) __builtin_trap();
    if (must_accept) __builtin_trap();  // a sender's own canonical request was refused
    return 0;
  }

  // Accepted: the signature must be the one a holder of the secret computes.
  bool genuine = false;
  switch (type) {
    case AuthType::kStandardWebhooks: {
      for (std::string_view s = signature; !s.empty();) {
        const size_t sp = s.find(' ');
        if (s.substr(0, sp) == expected) genuine = true;
        s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
      }
      break;
    }
    case AuthType::kGithub:
      genuine = Lower(Trim(signature)) == expected;
      break;
    case AuthType::kHmacSha256: {
      std::string provided = Lower(Trim(signature));
      if (provided.rfind("sha256=", 0) == 0) provided.erase(0, 7);
      genuine = provided == expected;
      break;
    }
    case AuthType::kBearer: {
      const std::string_view v = Trim(signature);
      genuine = v.size() >= 7 && Lower(v.substr(0, 7)) == "bearer " &&
                Trim(v.substr(7)) == secret;
      break;
    }
  }
  if (!genuine) __builtin_trap();
  // Behind the signature: the window and the delivery id's shape.
  if (verified->timestamp) {
    const int64_t t = *verified->timestamp;
    if (t < now - kWindow || t > now + kWindow) __builtin_trap();
  }
  const std::string& delivery = verified->delivery_id;
  if (delivery.size() > rampart::webhooks::kMaxDeliveryIdLength) __builtin_trap();
  for (char c : delivery) {
    if (c <= ' ' || c >= 0x7f) __builtin_trap();
  }
  if ((type == AuthType::kGithub || type == AuthType::kStandardWebhooks) && delivery.empty()) {
    __builtin_trap();
  }
  return 0;
}
