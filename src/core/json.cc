#include "rampart/core/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/json/serialize.hpp>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <vector>

namespace rampart::json {

namespace bj = boost::json;

namespace {

// The handler of every Parse: builds the value like boost::json's own parser handler,
// and counts the members the text has: an object with fewer members than that had a key twice (the value keeps the
// last one), so one count compared with the built value finds duplicates in one pass.
class CountingHandler {
 public:
  static constexpr size_t max_object_size = bj::object::max_size();
  static constexpr size_t max_array_size = bj::array::max_size();
  static constexpr size_t max_key_size = bj::string::max_size();
  static constexpr size_t max_string_size = bj::string::max_size();

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_object_begin(bj::error_code&) { return true; }
  bool on_object_end(size_t n, bj::error_code&) {
    members += n;
    st.push_object(n);
    return true;
  }
  bool on_array_begin(bj::error_code&) { return true; }
  bool on_array_end(size_t n, bj::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, size_t, bj::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, size_t, bj::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, size_t, bj::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, size_t, bj::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view, bj::error_code&) { return true; }
  bool on_int64(int64_t i, bj::string_view, bj::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, bj::string_view, bj::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, bj::string_view, bj::error_code& ec) {
    // "1e400" reads as infinity, which JSON cannot represent: serialized again it would
    // be null, so the value a schema checked and the value stored or sent would differ.
    if (!std::isfinite(d)) {
      out_of_range = true;
      ec = bj::error::exponent_overflow;
      return false;
    }
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

  bj::value_stack st;
  size_t members = 0;
  bool out_of_range = false;
};

size_t CountMembers(const bj::value& v) {
  size_t n = 0;
  if (const bj::object* o = v.if_object()) {
    n += o->size();
    for (const auto& kv : *o) n += CountMembers(kv.value());
  } else if (const bj::array* a = v.if_array()) {
    for (const auto& e : *a) n += CountMembers(e);
  }
  return n;
}

// Only once a duplicate is known to exist: walks the text again with the keys of every
// open object, to name the first duplicate by its JSON Pointer.
class DuplicateFinder {
 public:
  static constexpr size_t max_object_size = bj::object::max_size();
  static constexpr size_t max_array_size = bj::array::max_size();
  static constexpr size_t max_key_size = bj::string::max_size();
  static constexpr size_t max_string_size = bj::string::max_size();

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_object_begin(bj::error_code&) { return Open(true); }
  bool on_object_end(size_t, bj::error_code&) { return Close(); }
  bool on_array_begin(bj::error_code&) { return Open(false); }
  bool on_array_end(size_t, bj::error_code&) { return Close(); }
  bool on_key_part(bj::string_view s, size_t, bj::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(bj::string_view s, size_t, bj::error_code&) {
    key_.append(s.data(), s.size());
    Frame& f = frames_.back();
    if (!f.keys.insert(key_).second && found.empty()) {
      found = Pointer() + "/" + PointerEscape(key_);
      duplicate_key = key_;
    }
    f.token = PointerEscape(key_);
    key_.clear();
    return true;
  }
  bool on_string_part(bj::string_view, size_t, bj::error_code&) { return true; }
  bool on_string(bj::string_view, size_t, bj::error_code&) { return Scalar(); }
  bool on_number_part(bj::string_view, bj::error_code&) { return true; }
  bool on_int64(int64_t, bj::string_view, bj::error_code&) { return Scalar(); }
  bool on_uint64(uint64_t, bj::string_view, bj::error_code&) { return Scalar(); }
  bool on_double(double, bj::string_view, bj::error_code&) { return Scalar(); }
  bool on_bool(bool, bj::error_code&) { return Scalar(); }
  bool on_null(bj::error_code&) { return Scalar(); }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

  std::string found;  // the pointer of the first duplicate key
  std::string duplicate_key;

 private:
  struct Frame {
    bool object = false;
    size_t index = 0;   // arrays: the element being read
    std::string token;  // the escaped key or index of the member being read
    std::unordered_set<std::string> keys;
  };
  bool Open(bool object) {
    if (!frames_.empty() && !frames_.back().object) {
      frames_.back().token = std::to_string(frames_.back().index);
    }
    frames_.push_back({object, 0, "", {}});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Scalar();
  }
  bool Scalar() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  std::string Pointer() const {
    std::string p;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      p += '/';
      p += frames_[i].object ? frames_[i].token : std::to_string(frames_[i].index);
    }
    return p;
  }
  std::vector<Frame> frames_;
  std::string key_;
};

}  // namespace

Result<bj::value> Parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "JSON document is larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  bj::parse_options opts;
  opts.max_depth = limits.max_depth;
  bj::basic_parser<CountingHandler> parser(opts);
  parser.handler().st.reset();
  boost::system::error_code ec;
  // The whole text in one call (more = false): an incomplete document is an error here;
  // parsing stops at the end of the first complete value, so anything after it but
  // whitespace is trailing characters.
  const size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec) {
    const size_t pos = text.find_first_not_of(" \n\r\t", consumed);
    if (pos != std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "invalid JSON at byte " + std::to_string(pos) + ": trailing characters");
    }
  }
  if (ec) {
    if (ec == bj::error::too_deep) {
      return MakeError(ErrorCode::kLimitExceeded, "JSON nesting deeper than " +
                                                      std::to_string(limits.max_depth) + " levels");
    }
    if (parser.handler().out_of_range) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "invalid JSON near byte " + std::to_string(consumed) +
                           ": number out of range (larger than a double)");
    }
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid JSON near byte " + std::to_string(consumed) + ": " + ec.message());
  }
  bj::value v = parser.handler().st.release();
  if (!limits.reject_duplicate_keys || CountMembers(v) == parser.handler().members) return v;
  bj::basic_parser<DuplicateFinder> finder(opts);
  finder.write_some(false, text.data(), text.size(), ec);
  return MakeError(ErrorCode::kInvalidArgument, "duplicate key '" +
                                                    Excerpt(finder.handler().duplicate_key) +
                                                    "' at " + finder.handler().found);
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

namespace {

// kEscape[c]: 0 = the byte goes out as is; else the letter of its two-character escape
// (\" \\ \b \f \n \r \t), or 'u' for \u00XX.
constexpr std::array<char, 256> MakeEscapeTable() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = 'u';
  t['"'] = '"';
  t['\\'] = '\\';
  t['\b'] = 'b';
  t['\f'] = 'f';
  t['\n'] = 'n';
  t['\r'] = 'r';
  t['\t'] = 't';
  return t;
}
constexpr std::array<char, 256> kEscape = MakeEscapeTable();

// Whether any of the eight bytes of `x` has an entry in kEscape: below 0x20, '"' or '\\'.
// Exact for "any" (the classic has-zero / has-less bit tricks; no false negatives, and a
// false positive would only send the bytes through the table one by one).
constexpr bool NeedsEscape8(uint64_t x) {
  constexpr uint64_t kOnes = ~uint64_t{0} / 255;  // 0x0101...01
  constexpr uint64_t kHigh = kOnes * 0x80;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
  return (below_space | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'))) != 0;
}

}  // namespace

void AppendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Every run record is serialized at least once per run: plain text (the usual case)
  // is copied in runs between the bytes that need an escape.
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  const char* run = s.data();
  const char* const end = s.data() + s.size();
  const char* p = run;
  while (p != end) {
    // Eight bytes at a time while none of them needs an escape (SWAR: a control byte
    // below 0x20, '"' or '\\'; UTF-8 bytes >= 0x80 never match).
    if (end - p >= 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      if (!NeedsEscape8(x)) {
        p += 8;
        continue;
      }
    }
    const char e = kEscape[static_cast<unsigned char>(*p)];
    if (e == 0) {
      ++p;
      continue;
    }
    out.append(run, static_cast<size_t>(p - run));
    run = p + 1;
    if (e != 'u') {
      const char esc[2] = {'\\', e};
      out.append(esc, 2);
    } else {
      const unsigned char c = static_cast<unsigned char>(*p);
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, 6);
    }
    ++p;
  }
  out.append(run, static_cast<size_t>(end - run));
  out.push_back('"');
}

void AppendSerialized(std::string& out, const bj::array& a) {
  out += '[';
  bool first = true;
  for (const auto& e : a) {
    if (!first) out += ',';
    first = false;
    AppendSerialized(out, e);
  }
  out += ']';
}

void AppendSerialized(std::string& out, const bj::object& o) {
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    AppendQuoted(out, kv.key());
    out += ':';
    AppendSerialized(out, kv.value());
  }
  out += '}';
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
    case bj::kind::array: AppendSerialized(out, v.get_array()); break;
    case bj::kind::object: AppendSerialized(out, v.get_object()); break;
  }
}

std::string Serialize(const bj::value& v) {
  std::string out;
  out.reserve(256);
  AppendSerialized(out, v);
  return out;
}

std::string Serialize(const bj::object& o) {
  std::string out;
  out.reserve(256);
  AppendSerialized(out, o);
  return out;
}

std::string Serialize(const bj::array& a) {
  std::string out;
  out.reserve(256);
  AppendSerialized(out, a);
  return out;
}

namespace {

size_t StringSize(std::string_view s) {
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

// The longest form of a double: "-2.2250738585072014e-308".
constexpr size_t kMaxDoubleBytes = 24;

// `kBound`: a double counts kMaxDoubleBytes instead of being formatted.
template <bool kBound>
void SizeOf(const bj::value& v, size_t cap, size_t& total) {
  if (total > cap) return;
  switch (v.kind()) {
    case bj::kind::null: total += 4; break;
    case bj::kind::bool_: total += v.get_bool() ? 4 : 5; break;
    case bj::kind::int64:
    case bj::kind::uint64: total += NumberSize(v); break;
    case bj::kind::double_: total += kBound ? kMaxDoubleBytes : NumberSize(v); break;
    case bj::kind::string: total += StringSize(v.get_string()); break;
    case bj::kind::array: {
      const auto& a = v.get_array();
      total += 2 + (a.empty() ? 0 : a.size() - 1);
      for (const auto& e : a) {
        SizeOf<kBound>(e, cap, total);
        if (total > cap) return;
      }
      break;
    }
    case bj::kind::object: {
      const auto& o = v.get_object();
      total += 2 + (o.empty() ? 0 : o.size() - 1);
      for (const auto& kv : o) {
        total += StringSize(kv.key()) + 1;
        SizeOf<kBound>(kv.value(), cap, total);
        if (total > cap) return;
      }
      break;
    }
  }
}

}  // namespace

size_t SerializedSizeAtMost(const bj::value& v, size_t cap) {
  size_t total = 0;
  SizeOf<false>(v, cap, total);
  return total > cap ? cap + 1 : total;
}

size_t SerializedSizeBoundAtMost(const bj::value& v, size_t cap) {
  size_t total = 0;
  SizeOf<true>(v, cap, total);
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
