// Fuzzes Rampart's strict JSON reader (rampart::json::Parse), the one entry point of every
// JSON document Rampart reads from outside: API bodies, definitions, webhook payloads, the
// public endpoint, `--input`, from_json, JWTs.
//
// Beyond crashes, sanitizer reports and hangs, these invariants are findings:
//   - a rejection is kInvalidArgument or kLimitExceeded with a message that is valid UTF-8
//     and not longer than a bound (it may quote an excerpt, never the whole input);
//   - an accepted document holds only valid UTF-8 strings (keys included), no key twice in
//     one object, no non-finite number, and no nesting deeper than the limit;
//   - Serialize of an accepted value parses back to the same value (a number may change
//     kind, not value), and serializing that again gives the same bytes (what Rampart
//     stores reads back unchanged);
//   - the same text under a smaller depth limit is accepted only if its depth fits.
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "rampart/core/json.h"

namespace {

namespace bj = boost::json;

// An independent UTF-8 check (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // the continuation bytes are s[i+1..i+n]
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// Depth as the reader counts it: a scalar is 0, each array or object level adds one.
size_t Depth(const bj::value& v) {
  size_t inner = 0;
  if (v.is_array()) {
    for (const bj::value& e : v.get_array()) inner = std::max(inner, Depth(e));
    return inner + 1;
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) inner = std::max(inner, Depth(kv.value()));
    return inner + 1;
  }
  return 0;
}

// Equality up to the kind of a number: Serialize writes a double with an integral value
// as an integer ("1", not "1.0"), which reads back as an int64. Same numeric value, the
// same everything else.
bool SameValue(const bj::value& a, const bj::value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_double() && !b.is_double()) return a == b;
    return a.to_number<double>() == b.to_number<double>();
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const bj::array& x = a.get_array();
    const bj::array& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!SameValue(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const bj::object& x = a.get_object();
    const bj::object& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const bj::value* other = y.if_contains(kv.key());
      if (other == nullptr || !SameValue(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

void CheckValue(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::string:
      if (!ValidUtf8(v.get_string())) __builtin_trap();
      break;
    case bj::kind::double_:
      if (!std::isfinite(v.get_double())) __builtin_trap();
      break;
    case bj::kind::array:
      for (const bj::value& e : v.get_array()) CheckValue(e);
      break;
    case bj::kind::object: {
      std::set<std::string_view> keys;
      for (const auto& kv : v.get_object()) {
        if (!ValidUtf8(kv.key())) __builtin_trap();
        if (!keys.insert(kv.key()).second) __builtin_trap();
        CheckValue(kv.value());
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const rampart::json::ParseLimits limits;
  auto parsed = rampart::json::Parse(text, limits);
  if (!parsed.ok()) {
    const auto code = parsed.error().code;
    if (code != rampart::ErrorCode::kInvalidArgument &&
        code != rampart::ErrorCode::kLimitExceeded) {
      __builtin_trap();
    }
    const std::string& message = parsed.error().message;
    if (message.empty() || message.size() > 512 || !ValidUtf8(message)) __builtin_trap();
    return 0;
  }
  CheckValue(*parsed);
  const size_t depth = Depth(*parsed);
  if (depth > limits.max_depth) __builtin_trap();

  const std::string once = rampart::json::Serialize(*parsed);
  auto again = rampart::json::Parse(once);
  if (!again.ok() || !SameValue(*again, *parsed)) __builtin_trap();
  if (rampart::json::Serialize(*again) != once) __builtin_trap();
  if (rampart::json::SerializedSizeAtMost(*parsed, once.size()) != once.size()) __builtin_trap();
  if (rampart::json::SerializedSizeBoundAtMost(*parsed, once.size() * 4 + 64) < once.size()) {
    __builtin_trap();
  }

  rampart::json::ParseLimits shallow;
  shallow.max_depth = 3;
  auto narrow = rampart::json::Parse(text, shallow);
  if (narrow.ok() != (depth <= shallow.max_depth)) __builtin_trap();
  return 0;
}
