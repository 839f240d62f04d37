// Value semantics shared by the evaluator and the filters: truthiness, text rendering,
// numbers, equality and ordering, UTF-8 helpers.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
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

bool IsTruthy(const boost::json::value& v);

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
