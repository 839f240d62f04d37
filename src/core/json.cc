#include "rampart/core/json.h"

#include <boost/json/stream_parser.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstring>

namespace rampart::json {

namespace bj = boost::json;

Result<bj::value> Parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "JSON document is larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  bj::parse_options opts;
  opts.max_depth = limits.max_depth;
  bj::stream_parser parser({}, opts);
  boost::system::error_code ec;
  size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) {
    // write_some stops at the end of the first complete value: trailing bytes.
    size_t pos = consumed;
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' ||
                                 text[pos] == '\t')) {
      ++pos;
    }
    if (pos < text.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "invalid JSON at byte " + std::to_string(pos) + ": trailing characters");
    }
  }
  if (!ec) parser.finish(ec);
  if (ec) {
    if (ec == bj::error::too_deep) {
      return MakeError(ErrorCode::kLimitExceeded, "JSON nesting deeper than " +
                                                      std::to_string(limits.max_depth) + " levels");
    }
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid JSON near byte " + std::to_string(consumed) + ": " + ec.message());
  }
  return parser.release();
}

namespace {

// Shortest round-trip form ("99", "0.051", "1e+21"); non-finite numbers become null.
size_t FormatDouble(double d, char* buf, size_t size) {
  if (!std::isfinite(d)) {
    std::memcpy(buf, "null", 4);
    return 4;
  }
  if (d == 0) d = 0;  // "-0" -> "0"
  auto r = std::to_chars(buf, buf + size, d);
  return static_cast<size_t>(r.ptr - buf);
}

}  // namespace

void AppendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendSerialized(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: out += "null"; break;
    case bj::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case bj::kind::int64: out += std::to_string(v.get_int64()); break;
    case bj::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case bj::kind::double_: {
      char buf[64];
      out.append(buf, FormatDouble(v.get_double(), buf, sizeof buf));
      break;
    }
    case bj::kind::string: AppendQuoted(out, v.get_string()); break;
    case bj::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        AppendSerialized(out, e);
      }
      out += ']';
      break;
    }
    case bj::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        AppendQuoted(out, kv.key());
        out += ':';
        AppendSerialized(out, kv.value());
      }
      out += '}';
      break;
    }
  }
}

std::string Serialize(const bj::value& v) {
  std::string out;
  AppendSerialized(out, v);
  return out;
}

namespace {

size_t StringSize(const bj::string& s) {
  size_t n = 2;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      n += 2;
    } else if (c < 0x20) {
      n += 6;
    } else {
      n += 1;
    }
  }
  return n;
}

// Serialized length of a number without allocating (this runs on every evaluated value).
size_t NumberSize(const bj::value& v) {
  if (v.is_int64() || v.is_uint64()) {
    uint64_t n = v.is_uint64() ? v.get_uint64() : 0;
    if (v.is_int64()) {
      const int64_t i = v.get_int64();
      n = i < 0 ? static_cast<uint64_t>(-(i + 1)) + 1 : static_cast<uint64_t>(i);
    }
    size_t digits = 1;
    while (n >= 10) {
      n /= 10;
      ++digits;
    }
    return digits + (v.is_int64() && v.get_int64() < 0 ? 1 : 0);
  }
  char buf[64];
  return FormatDouble(v.get_double(), buf, sizeof buf);
}

void SizeOf(const bj::value& v, size_t cap, size_t& total) {
  if (total > cap) return;
  switch (v.kind()) {
    case bj::kind::null: total += 4; break;
    case bj::kind::bool_: total += v.get_bool() ? 4 : 5; break;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: total += NumberSize(v); break;
    case bj::kind::string: total += StringSize(v.get_string()); break;
    case bj::kind::array: {
      const auto& a = v.get_array();
      total += 2 + (a.empty() ? 0 : a.size() - 1);
      for (const auto& e : a) {
        SizeOf(e, cap, total);
        if (total > cap) return;
      }
      break;
    }
    case bj::kind::object: {
      const auto& o = v.get_object();
      total += 2 + (o.empty() ? 0 : o.size() - 1);
      for (const auto& kv : o) {
        total += StringSize(bj::string(kv.key())) + 1;
        SizeOf(kv.value(), cap, total);
        if (total > cap) return;
      }
      break;
    }
  }
}

}  // namespace

size_t SerializedSizeAtMost(const bj::value& v, size_t cap) {
  size_t total = 0;
  SizeOf(v, cap, total);
  return total > cap ? cap + 1 : total;
}

std::string PointerEscape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PointerAppend(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  out += '/';
  out += PointerEscape(token);
  return out;
}

std::string PointerAppend(std::string_view pointer, size_t index) {
  std::string out(pointer);
  out += '/';
  out += std::to_string(index);
  return out;
}

std::string_view TypeName(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: return "null";
    case bj::kind::bool_: return "boolean";
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: return "number";
    case bj::kind::string: return "string";
    case bj::kind::array: return "array";
    case bj::kind::object: return "object";
  }
  return "null";
}

std::string Excerpt(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + len > text.size()) break;
    i += len;
    ++chars;
  }
  std::string out(text.substr(0, i));
  if (i < text.size()) out += "...";
  return out;
}

}  // namespace rampart::json
