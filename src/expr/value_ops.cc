#include "expr/value_ops.h"

#include "rampart/core/json.h"
#include "rampart/core/utf8.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>

namespace rampart::expr::internal {

namespace bj = boost::json;

bool IsValidUtf8(std::string_view s, size_t* bad_offset) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    if (i + 8 <= n) {  // ASCII fast path, a word at a time
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const size_t len = Utf8Decode(s, i);
    if (len == 0) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

Num ToNum(const bj::value& v) {
  Num n;
  switch (v.kind()) {
    case bj::kind::int64: n.i = v.get_int64(); break;
    case bj::kind::uint64: {
      uint64_t u = v.get_uint64();
      if (u <= static_cast<uint64_t>(INT64_MAX)) {
        n.i = static_cast<int64_t>(u);
      } else {
        n.is_int = false;
        n.d = static_cast<double>(u);
      }
      break;
    }
    case bj::kind::double_:
      n.is_int = false;
      n.d = v.get_double();
      break;
    default: break;
  }
  return n;
}

bj::value FromNum(const Num& n) {
  if (n.is_int) return bj::value(n.i);
  return bj::value(n.d);
}

bool DoubleToInt64(double d, int64_t& out) {
  // 2^63 is exactly representable; anything >= it does not fit.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  if (std::trunc(d) != d) return false;
  out = static_cast<int64_t>(d);
  return true;
}

bool IsTruthySlow(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: return false;
    case bj::kind::bool_: return v.get_bool();
    case bj::kind::int64: return v.get_int64() != 0;
    case bj::kind::uint64: return v.get_uint64() != 0;
    case bj::kind::double_: {
      double d = v.get_double();
      return d != 0 && !std::isnan(d);
    }
    case bj::kind::string: return !v.get_string().empty();
    case bj::kind::array: return !v.get_array().empty();
    case bj::kind::object: return !v.get_object().empty();
  }
  return false;
}

void AppendJsonString(std::string& out, std::string_view s) { json::AppendQuoted(out, s); }

void AppendNumber(std::string& out, const bj::value& v) {
  char buf[32];
  std::to_chars_result r{};
  switch (v.kind()) {
    case bj::kind::int64: r = std::to_chars(buf, buf + sizeof buf, v.get_int64()); break;
    case bj::kind::uint64: r = std::to_chars(buf, buf + sizeof buf, v.get_uint64()); break;
    case bj::kind::double_: {
      double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no infinities; the evaluator never produces them
        return;
      }
      if (d == 0) d = 0;  // "-0" -> "0"
      r = std::to_chars(buf, buf + sizeof buf, d);
      break;
    }
    default: return;
  }
  out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void AppendJson(std::string& out, const bj::value& v) {
  json::AppendSerialized(out, v);
}

void AppendText(std::string& out, const bj::value& v) {
  if (v.is_string()) {
    const auto& s = v.get_string();
    out.append(s.data(), s.size());
  } else {
    AppendJson(out, v);
  }
}

namespace {

bool NumEqual(const Num& a, const Num& b) {
  if (a.is_int && b.is_int) return a.i == b.i;
  if (!a.is_int && !b.is_int) return a.d == b.d;
  const Num& i = a.is_int ? a : b;
  const Num& d = a.is_int ? b : a;
  int64_t as_int = 0;
  return DoubleToInt64(d.d, as_int) && as_int == i.i;
}

int NumCompare(const Num& a, const Num& b) {
  if (a.is_int && b.is_int) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
  if (NumEqual(a, b)) return 0;
  double x = a.AsDouble();
  double y = b.AsDouble();
  if (x < y) return -1;
  if (x > y) return 1;
  // Equal as doubles but not exactly equal (large integers): order by the exact values.
  if (a.is_int) return static_cast<long double>(a.i) < static_cast<long double>(b.d) ? -1 : 1;
  return static_cast<long double>(a.d) < static_cast<long double>(b.i) ? -1 : 1;
}

}  // namespace

bool DeepEqual(const bj::value& a, const bj::value& b, int64_t& budget) {
  if (--budget < 0) return false;
  if (IsNumber(a) && IsNumber(b)) return NumEqual(ToNum(a), ToNum(b));
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case bj::kind::null: return true;
    case bj::kind::bool_: return a.get_bool() == b.get_bool();
    case bj::kind::string: return a.get_string() == b.get_string();
    case bj::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!DeepEqual(x[i], y[i], budget)) return false;
      }
      return true;
    }
    case bj::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& kv : x) {
        auto it = y.find(kv.key());
        if (it == y.end() || !DeepEqual(kv.value(), it->value(), budget)) return false;
      }
      return true;
    }
    default: return false;
  }
}

bool Compare3(const bj::value& a, const bj::value& b, int& result) {
  if (IsNumber(a) && IsNumber(b)) {
    result = NumCompare(ToNum(a), ToNum(b));
    return true;
  }
  if (a.is_string() && b.is_string()) {
    int c = std::string_view(a.get_string()).compare(std::string_view(b.get_string()));
    result = c < 0 ? -1 : (c > 0 ? 1 : 0);
    return true;
  }
  return false;
}

size_t DeepHash(const bj::value& v) {
  auto mix = [](size_t h, size_t x) { return h ^ (x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); };
  switch (v.kind()) {
    case bj::kind::null: return 0x1234;
    case bj::kind::bool_: return v.get_bool() ? 0x2345 : 0x3456;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: {
      Num n = ToNum(v);
      int64_t i = 0;
      if (n.is_int) return std::hash<int64_t>()(n.i);
      if (DoubleToInt64(n.d, i)) return std::hash<int64_t>()(i);
      return std::hash<double>()(n.d);
    }
    case bj::kind::string: return std::hash<std::string_view>()(std::string_view(v.get_string()));
    case bj::kind::array: {
      size_t h = 0x4567;
      for (const auto& e : v.get_array()) h = mix(h, DeepHash(e));
      return h;
    }
    case bj::kind::object: {
      size_t h = 0x5678;  // order-insensitive: objects compare without order
      for (const auto& kv : v.get_object()) {
        h += mix(std::hash<std::string_view>()(std::string_view(kv.key())), DeepHash(kv.value()));
      }
      return h;
    }
  }
  return 0;
}

}  // namespace rampart::expr::internal
