// Value semantics shared by the evaluator and the filters: truthiness, text rendering,
// numbers, equality and ordering, UTF-8 helpers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rampart::expr::internal {

// UTF-8 ------------------------------------------------------------------------------

// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
// On failure `bad_offset` (if given) receives the byte offset of the first bad sequence.
bool IsValidUtf8(std::string_view s, size_t* bad_offset = nullptr);

// Length in bytes of the UTF-8 sequence starting with `lead` (1 for invalid bytes).
inline size_t Utf8SeqLen(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// Number of code points in `s`.
size_t CodePointCount(std::string_view s);

// Objects ------------------------------------------------------------------------------

// Byte equality without a call to memcmp: keys and short strings dominate, so compare
// whole words (overlapping loads for the tail; never past `n`).
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    for (; n > 8; a += 8, b += 8, n -= 8) {
      uint64_t x, y;
      std::memcpy(&x, a, 8);
      std::memcpy(&y, b, 8);
      if (x != y) return false;
    }
    uint64_t x, y;
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, a, 4);
    std::memcpy(&y0, b, 4);
    std::memcpy(&x1, a + n - 4, 4);
    std::memcpy(&y1, b + n - 4, 4);
    return x0 == y0 && x1 == y1;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Member lookup: small objects (the common case) are scanned inline, comparing lengths
// first; boost::json hashes larger ones.
inline const boost::json::value* FindMember(const boost::json::object& obj, std::string_view name) {
  if (obj.size() <= 8) {
    for (const auto& kv : obj) {
      boost::json::string_view key = kv.key();
      if (key.size() == name.size() && SameBytes(key.data(), name.data(), name.size())) {
        return &kv.value();
      }
    }
    return nullptr;
  }
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &it->value();
}

// Numbers ----------------------------------------------------------------------------

inline bool IsNumber(const boost::json::value& v) {
  auto k = v.kind();
  return k == boost::json::kind::int64 || k == boost::json::kind::uint64 ||
         k == boost::json::kind::double_;
}

// A JSON number as an exact int64 where possible, else a double.
struct Num {
  bool is_int = true;
  int64_t i = 0;
  double d = 0;
  double AsDouble() const { return is_int ? static_cast<double>(i) : d; }
};

Num ToNum(const boost::json::value& v);  // v must be a number
boost::json::value FromNum(const Num& n);

// If `d` is integral and fits in int64, stores it in `out`.
bool DoubleToInt64(double d, int64_t& out);

// Truthiness, text --------------------------------------------------------------------

bool IsTruthySlow(const boost::json::value& v);
inline bool IsTruthy(const boost::json::value& v) {
  return v.is_bool() ? v.get_bool() : IsTruthySlow(v);
}

// Compact JSON; numbers use the shortest round-trip form ("2.5", "120", "1e+21").
void AppendJson(std::string& out, const boost::json::value& v);
void AppendJsonString(std::string& out, std::string_view s);
void AppendNumber(std::string& out, const boost::json::value& v);

// Strings as-is, everything else compact JSON.
void AppendText(std::string& out, const boost::json::value& v);

// Upper bound of the serialized size of a string value (quotes included) without
// scanning it; exact size needs json::SerializedSizeAtMost.
inline size_t StringSizeUpperBound(size_t bytes) { return bytes * 6 + 2; }

// Equality and ordering ----------------------------------------------------------------

// Deep equality; numbers compare by value (1 == 1.0), different types are unequal.
// `budget` is decremented per element compared; returns false with budget exhausted
// (the caller checks `budget`).
bool DeepEqual(const boost::json::value& a, const boost::json::value& b, int64_t& budget);

// Three-way comparison of two numbers or two strings; returns false if the kinds are
// not comparable (the caller reports a type_error).
bool Compare3(const boost::json::value& a, const boost::json::value& b, int& result);

// A hash consistent with DeepEqual (1 and 1.0 hash alike).
size_t DeepHash(const boost::json::value& v);

}  // namespace rampart::expr::internal
