// Fuzzes the small parsers of untrusted request text and schedule definitions, each
// against an independent oracle (a property, or a plain reimplementation written here):
//   selector 0: cron (CronSpec::Parse): NextAfter(t) is the first matching minute after t
//               (nothing matches in between, checked minute by minute over short gaps),
//               LatestAtOrBefore(t) is a match at or before t with no match after it up
//               to t, Matches(t) agrees with both;
//   selector 1: ParseDecimal: exactly 1..18 ASCII digits whose value is <= max;
//   selector 2: ParseRfc3339Millis: only the RFC 3339 shape parses, and the parsed time
//               formats (FormatRfc3339Millis) to text that parses back to the same value;
//   selector 3: cursors: EncodeCursor/DecodeCursor round-trip both ways;
//   selector 4: AuditText: valid UTF-8, no control or line-separator characters, at most
//               max_chars code points plus "...", and clean short text passes unchanged;
//   selector 5: ClientAddress: an untrusted peer is always the answer; otherwise the
//               answer is the peer or an IP address taken from an X-Forwarded-For line.
// Input: one selector byte, then the selector's bytes (see each case).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/common.h"
#include "rampart/core/clock.h"
#include "rampart/net/ip.h"
#include "rampart/schedule/cron.h"

namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

uint64_t TakeU64(std::string_view& in) {
  uint64_t v = 0;
  const size_t n = std::min<size_t>(8, in.size());
  std::memcpy(&v, in.data(), n);
  in.remove_prefix(n);
  return v;
}

TimePoint FloorMinute(TimePoint t) { return std::chrono::floor<minutes>(t); }

void CheckCron(std::string_view in) {
  // A time between 1970 and 2220, to the second (system_clock counts nanoseconds in 64
  // bits: it ends in 2262).
  const auto t = TimePoint(seconds(static_cast<int64_t>(TakeU64(in) % (250ull * 366 * 86400))));
  auto spec = rampart::schedule::CronSpec::Parse(in);
  if (!spec.ok()) {
    if (spec.error().message.empty()) __builtin_trap();
    return;
  }
  if (spec->text() != in) __builtin_trap();
  auto next = spec->NextAfter(t);
  if (next) {
    if (*next <= t || FloorMinute(*next) != *next || !spec->Matches(*next)) __builtin_trap();
    if (*next - t <= std::chrono::hours(72)) {
      for (TimePoint m = FloorMinute(t) + minutes(1); m < *next; m += minutes(1)) {
        if (spec->Matches(m)) __builtin_trap();
      }
    }
  }
  auto latest = spec->LatestAtOrBefore(t);
  if (latest) {
    if (*latest > t || FloorMinute(*latest) != *latest || !spec->Matches(*latest)) __builtin_trap();
    auto after = spec->NextAfter(*latest);
    if (after && *after <= t) __builtin_trap();
  }
  if (spec->Matches(t) != (latest && *latest == FloorMinute(t))) __builtin_trap();
}

void CheckDecimal(std::string_view in) {
  const auto max = static_cast<int64_t>(TakeU64(in) & 0x7fffffffffffffffull);
  auto got = rampart::api::ParseDecimal(in, max);
  bool shape = !in.empty() && in.size() <= 18;
  uint64_t value = 0;  // < 10^18 when shape holds
  for (const char c : in) {
    if (c < '0' || c > '9') shape = false;
    if (shape) value = value * 10 + static_cast<unsigned>(c - '0');
  }
  const bool want = shape && value <= static_cast<uint64_t>(max);
  if (got.has_value() != want) __builtin_trap();
  if (got && static_cast<uint64_t>(*got) != value) __builtin_trap();
}

bool Digits(std::string_view s, size_t from, size_t n) {
  if (from + n > s.size()) return false;
  for (size_t i = from; i < from + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// date-time of RFC 3339 5.6, by shape only (not calendar validity).
bool Rfc3339Shape(std::string_view s) {
  if (!Digits(s, 0, 4) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2) || s[7] != '-' ||
      !Digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2) || s[13] != ':' ||
      !Digits(s, 14, 2) || s[16] != ':' || !Digits(s, 17, 2)) {
    return false;
  }
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  std::string_view zone = s.substr(i);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && Digits(zone, 1, 2) &&
         zone[3] == ':' && Digits(zone, 4, 2);
}

void CheckRfc3339(std::string_view in) {
  auto millis = rampart::api::ParseRfc3339Millis(in);
  if (!millis) return;
  if (*millis < 0 || !Rfc3339Shape(in)) __builtin_trap();
  const std::string text = rampart::FormatRfc3339Millis(*millis);
  if (rampart::api::ParseRfc3339Millis(text) != millis) __builtin_trap();
}

void CheckCursor(std::string_view in) {
  auto decoded = rampart::api::DecodeCursor(in);
  if (decoded.ok()) {
    auto again = rampart::api::DecodeCursor(rampart::api::EncodeCursor(*decoded));
    if (!again.ok() || *again != *decoded) __builtin_trap();
  }
  if (in.size() <= 300) {
    auto back = rampart::api::DecodeCursor(rampart::api::EncodeCursor(in));
    if (!back.ok() || *back != in) __builtin_trap();
  }
}

// Decodes one UTF-8 code point at s[i] (strict: no overlongs, surrogates or values past
// U+10FFFF); nullopt when invalid. Advances i.
std::optional<uint32_t> NextCodePoint(std::string_view s, size_t& i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return std::nullopt;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  i += len;
  return cp;
}

bool Control(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

// Code points of s when it is valid UTF-8 without control characters, else nullopt.
std::optional<size_t> CleanLength(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    auto cp = NextCodePoint(s, i);
    if (!cp || Control(*cp)) return std::nullopt;
    ++count;
  }
  return count;
}

void CheckAuditText(std::string_view in) {
  if (in.empty()) return;
  const size_t max_chars = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  const std::string out = rampart::api::AuditText(in, max_chars);
  auto length = CleanLength(out);
  if (!length || *length > max_chars + 3) __builtin_trap();
  auto input_length = CleanLength(in);
  if (input_length && *input_length <= max_chars && out != in) __builtin_trap();
}

std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    s.remove_prefix(nl + 1);
  }
}

// Lines: the peer address, the trusted CIDRs (space-separated), then one
// X-Forwarded-For line each.
void CheckClientAddress(std::string_view in) {
  std::vector<std::string_view> lines = Lines(in);
  if (lines.size() < 2) return;
  rampart::server::Request request;
  request.remote_ip = std::string(lines[0]);
  std::vector<std::string> trusted;
  std::string_view cidrs = lines[1];
  while (!cidrs.empty()) {
    const size_t sp = cidrs.find(' ');
    if (sp != 0) trusted.emplace_back(cidrs.substr(0, sp));
    if (sp == std::string_view::npos) break;
    cidrs.remove_prefix(sp + 1);
  }
  std::vector<std::string_view> forwarded(lines.begin() + 2, lines.end());
  for (std::string_view line : forwarded) request.headers.emplace_back("X-Forwarded-For", line);
  const std::string client = rampart::api::ClientAddress(request, trusted);
  bool peer_trusted = false;
  if (auto peer = rampart::net::ParseIp(request.remote_ip)) {
    for (const std::string& c : trusted) {
      auto cidr = rampart::net::ParseCidr(c);
      peer_trusted = peer_trusted || (cidr && cidr->Contains(*peer));
    }
  }
  if (!peer_trusted && client != request.remote_ip) __builtin_trap();
  if (client != request.remote_ip) {
    if (!rampart::net::ParseIp(client)) __builtin_trap();
    bool named = false;
    for (std::string_view line : forwarded) named = named || line.find(client) != std::string_view::npos;
    if (!named) __builtin_trap();
  }
  (void)rampart::api::SourceKey(client);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: CheckCron(in); break;
    case 1: CheckDecimal(in); break;
    case 2: CheckRfc3339(in); break;
    case 3: CheckCursor(in); break;
    case 4: CheckAuditText(in); break;
    case 5: CheckClientAddress(in); break;
  }
  return 0;
}
