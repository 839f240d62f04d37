#include "rampart/core/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
  bool on_number_part(bj::string_view s, bj::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t i, bj::string_view, bj::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, bj::string_view, bj::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double parsed, bj::string_view s, bj::error_code& ec) {
    // boost::json 1.81 rounds some long numbers one unit in the last place away from the
    // double nearest their text; the shortest form Serialize writes for that double then
    // reads back as another one, so a stored value would drift. The text is read again
    // with from_chars, which rounds correctly. Parse passes the whole text in one buffer,
    // so `s` is usually the whole number and `number` empty.
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
      number.append(s.data(), s.size());
      text = number;
    }
    double d = 0;
    const auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), d);
    const bool whole = err == std::errc() && ptr == text.data() + text.size();
    number.clear();
    // Beyond a double's range either way (from_chars does not tell which): boost's reading
    // says, infinity or an underflow towards zero.
    if (!whole) d = parsed;
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
  std::string number;  // the parts of a number split across buffers
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
  // Both excerpts: the key and the pointer come from the document, whose size an error
  // message must not follow.
  return MakeError(ErrorCode::kInvalidArgument,
                   "duplicate key '" + Excerpt(finder.handler().duplicate_key) + "' at " +
                       Excerpt(finder.handler().found, 80));
}

namespace {

// The bytes FormatDouble may write (its result is at most 24 of them).
constexpr size_t kDoubleRoom = 64;

// Powers of ten a double holds exactly (10^22 is the last).
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The shortest round-trip form of a positive finite `a` below 2^50 whose shortest form
// has at most k digits after the point (k: the most, or one less, that keep a * 10^k below
// 2^50, and at most 22), written as std::to_chars writes it; 0 (nothing written) for any
// other `a`, and when to_chars would choose the scientific form (shorter than the fixed
// one, as for 100000 -> "1e+05").
//
// Why this gives to_chars' digits: for x = a * 10^k < 2^50 the
// interval of decimals that read back as `a` is at most ulp(a) * 10^k <= x * 2^-52 < 1/4
// wide around x, and fl(x) is within x * 2^-53 < 1/8 of x: so at most one integer m has
// m / 10^k reading back as `a`, it is the integer nearest fl(x) (the rounding of
// fl(x) + 0.5 cannot carry across an integer then), and m / 10^k (both exact doubles, one
// correctly rounded division) is exactly the double strtod gives for it. Any shorter form
// that reads back as `a`, with j <= k digits after the point, times 10^(k-j) is such an m:
// so if m does not read back as `a` no form with at most k decimals does, and the
// shortest one is m without its trailing zeros (the fewest significant digits, and
// unique: no tie to break).
size_t FormatPositiveFast(double a, char* buf) {
  constexpr double kLimit = 0x1p50;
  if (!(a < kLimit)) return 0;
  uint64_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  // a < 2^(e + 1), so 10^k <= 2^(49 - e) keeps x below 2^50; 78913 / 2^18 < log10(2).
  const int e = static_cast<int>(bits >> 52) - 1023;  // 49 - e >= 0 here
  size_t k = std::min<size_t>(static_cast<size_t>(((49 - e) * 78913) >> 18), 22);
  if (k < 22 && a * kPow10[k + 1] < kLimit) ++k;
  const double x = a * kPow10[k];
  auto m = static_cast<int64_t>(x + 0.5);
  if (static_cast<double>(m) / kPow10[k] != a) return 0;
  // Drop trailing zeros, at most k of them: 8 + 8 + 4 + 2 + 1 covers any count up to 22.
  for (const auto& [zeros, power] : {std::pair<size_t, int64_t>{8, 100000000},
                                     {8, 100000000}, {4, 10000}, {2, 100}, {1, 10}}) {
    if (k >= zeros && m % power == 0) {
      m /= power;
      k -= zeros;
    }
  }
  // The digits go to buf; the forms below move them with fixed-size copies (no memcpy
  // calls), which read and write past them: buf has kDoubleRoom bytes.
  const size_t n = static_cast<size_t>(std::to_chars(buf, buf + 20, m).ptr - buf);
  if (k == 0) {
    // An integer: to_chars writes "1e+05" when that is shorter than "100000".
    size_t significant = n;
    while (buf[significant - 1] == '0') --significant;
    return significant + (significant > 1 ? 1 : 0) + 4 < n ? 0 : n;
  }
  // m ends in a non-zero digit now, and has at most 16 digits (m < 2^50).
  char moved[16];
  if (n > k) {  // "178.2": never longer than "1.782e+02"
    std::memcpy(moved, buf + n - k, sizeof moved);
    buf[n - k] = '.';
    std::memcpy(buf + n - k + 1, moved, sizeof moved);
    return n + 1;
  }
  // "0.0012": scientific ("1.2e-03") wins only when strictly shorter; the exponent has
  // two digits (k <= 22).
  if (2 + k > n + (n > 1 ? 1 : 0) + 4) return 0;
  std::memcpy(moved, buf, sizeof moved);
  std::memset(buf, '0', 24);
  buf[1] = '.';
  std::memcpy(buf + 2 + k - n, moved, sizeof moved);
  return 2 + k;
}

// Shortest round-trip form ("99", "0.051", "1e+21"), as std::to_chars(buf, end, d)
// writes it; non-finite numbers become null and -0 becomes 0. `size` >= kDoubleRoom.
size_t FormatDouble(double d, char* buf, size_t size) {
  if (!std::isfinite(d)) {
    std::memcpy(buf, "null", 4);
    return 4;
  }
  if (d == 0) {  // "-0" -> "0"
    buf[0] = '0';
    return 1;
  }
  // Durations and amounts have few decimals: formatting them without the general
  // shortest-form search costs a fraction of it.
  const bool negative = d < 0;
  if (negative) buf[0] = '-';
  if (const size_t n = FormatPositiveFast(negative ? -d : d, buf + (negative ? 1 : 0))) {
    return n + (negative ? 1 : 0);
  }
  auto r = std::to_chars(buf, buf + size, d);
  return static_cast<size_t>(r.ptr - buf);
}

// The longest form of a double: "-2.2250738585072014e-308".
constexpr size_t kMaxDoubleBytes = 24;

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

uint64_t Load8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}
uint32_t Load4(const char* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

// Whether any byte of s needs an escape. Short strings (most keys) are read as one or two
// possibly overlapping words instead of byte by byte; every lane checked holds a byte of
// the string (never padding, which would read as a control byte).
#if defined(__SSE2__)
bool AnyNeedsEscape16(__m128i v) {
  const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
  const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);  // < 0x20
  return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) != 0;
}

// n <= 16.
[[gnu::always_inline]] inline bool AnyNeedsEscapeShort(const char* s, size_t n) {
  uint64_t x;
  if (n >= 8) {
    const __m128i lo = _mm_cvtsi64_si128(static_cast<int64_t>(Load8(s)));
    const __m128i hi = _mm_cvtsi64_si128(static_cast<int64_t>(Load8(s + n - 8)));
    return AnyNeedsEscape16(_mm_unpacklo_epi64(lo, hi));
  }
  if (n >= 4) {
    x = uint64_t{Load4(s)} | uint64_t{Load4(s + n - 4)} << 32;
  } else if (n > 0) {
    const auto at = [s](size_t i) { return uint64_t{static_cast<unsigned char>(s[i])}; };
    x = (at(0) | at(n / 2) << 8 | at(n - 1) << 16) * 0x0000000100000001ULL;
    x |= at(0) << 24 | at(0) << 56;
  } else {
    return false;
  }
  return AnyNeedsEscape16(_mm_set1_epi64x(static_cast<int64_t>(x)));
}

bool AnyNeedsEscape(const char* s, size_t n) {
  if (n <= 16) return AnyNeedsEscapeShort(s, n);
  for (size_t i = 0; i + 16 <= n; i += 16) {
    if (AnyNeedsEscape16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)))) return true;
  }
  return (n % 16) != 0 &&
         AnyNeedsEscape16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16)));
}
#else
bool AnyNeedsEscape(const char* s, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      if (NeedsEscape8(Load8(s + i))) return true;
    }
    return (n % 8) != 0 && NeedsEscape8(Load8(s + n - 8));
  }
  if (n >= 4) {
    return NeedsEscape8(uint64_t{Load4(s)} | uint64_t{Load4(s + n - 4)} << 32);
  }
  for (size_t i = 0; i < n; ++i) {
    if (kEscape[static_cast<unsigned char>(s[i])] != 0) return true;
  }
  return false;
}
bool AnyNeedsEscapeShort(const char* s, size_t n) { return AnyNeedsEscape(s, n); }
#endif

// memcpy of n <= kShortString bytes (most keys and many values), without a call.
constexpr size_t kShortString = 16;
void CopyShort(char* to, const char* from, size_t n) {
  if (n >= 8) {
    std::memcpy(to, from, 8);
    std::memcpy(to + n - 8, from + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(to, from, 4);
    std::memcpy(to + n - 4, from + n - 4, 4);
  } else {
    for (size_t i = 0; i < n; ++i) to[i] = from[i];
  }
}

// Writes into a std::string through a raw pointer: the string is resized ahead of the
// writes (geometrically: at least doubling what this writer has written) and cut to what
// was written by Finish. One capacity check per token instead of one per append, and no
// temporary strings.
class Writer {
 public:
  // Writes after the `used` first bytes of `buf` (any bytes beyond are scratch space);
  // every growth adds at least `min_growth` bytes.
  Writer(std::string& buf, size_t used, size_t min_growth)
      : buf_(buf), base_(used), min_growth_(min_growth) {
    p_ = buf.data() + used;
    end_ = buf.data() + buf.size();
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // At least n writable bytes at the returned pointer; Advance past what was written.
  char* Room(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) Grow(n);
    return p_;
  }
  bool HasRoom(size_t n) const { return static_cast<size_t>(end_ - p_) >= n; }
  void Advance(char* to) { p_ = to; }
  size_t used() const { return static_cast<size_t>(p_ - buf_.data()); }
  // Cuts the string to what was written.
  void Finish() { buf_.resize(used()); }

  void Literal(std::string_view s) {
    char* p = Room(s.size());
    std::memcpy(p, s.data(), s.size());
    Advance(p + s.size());
  }
  void Char(char c) {
    char* p = Room(1);
    *p = c;
    Advance(p + 1);
  }

 private:
  void Grow(size_t n) {
    const size_t used = this->used();
    buf_.resize(std::max(used + n, used + std::max(used - base_, min_growth_)));
    p_ = buf_.data() + used;
    end_ = buf_.data() + buf_.size();
  }

  std::string& buf_;
  const size_t base_;
  const size_t min_growth_;
  char* p_;
  char* end_;
};

// Out of line: keeps the registers of its loop out of the plain strings' path.
[[gnu::noinline]] void WriteQuotedEscaping(Writer& w, const char* s, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Room for the plain bytes and the quotes; each escape asks for its own extra room.
  char* o = w.Room(size + 2);
  *o++ = '"';
  const char* run = s;
  const char* const end = s + size;
  const char* p = run;
  while (p != end) {
    // Eight bytes at a time while none of them needs an escape (SWAR: a control byte
    // below 0x20, '"' or '\\'; UTF-8 bytes >= 0x80 never match).
    if (end - p >= 8 && !NeedsEscape8(Load8(p))) {
      p += 8;
      continue;
    }
    const char e = kEscape[static_cast<unsigned char>(*p)];
    if (e == 0) {
      ++p;
      continue;
    }
    const auto plain = static_cast<size_t>(p - run);
    std::memcpy(o, run, plain);
    o += plain;
    run = p + 1;
    w.Advance(o);
    o = w.Room(6 + static_cast<size_t>(end - run) + 1);
    if (e != 'u') {
      o[0] = '\\';
      o[1] = e;
      o += 2;
    } else {
      const unsigned char c = static_cast<unsigned char>(*p);
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      std::memcpy(o, esc, 6);
      o += 6;
    }
    ++p;
  }
  const auto plain = static_cast<size_t>(end - run);
  std::memcpy(o, run, plain);
  o += plain;
  *o++ = '"';
  w.Advance(o);
}

// WriteQuoted when s is long, needs an escape or the buffer has to grow first.
[[gnu::noinline]] void WriteQuotedSlow(Writer& w, std::string_view s, char before, char after) {
  if (before) w.Char(before);
  if (AnyNeedsEscape(s.data(), s.size())) {
    WriteQuotedEscaping(w, s.data(), s.size());
  } else {
    char* p = w.Room(s.size() + 2);
    *p++ = '"';
    std::memcpy(p, s.data(), s.size());
    p += s.size();
    *p++ = '"';
    w.Advance(p);
  }
  if (after) w.Char(after);
}

// `"s"`, preceded by `before` (',' or nothing) and followed by `after` (':' or nothing):
// the separators of an object member cost no capacity check of their own. The usual case
// (a short string without escapes, room enough) calls nothing, so it saves no registers.
void WriteQuoted(Writer& w, std::string_view s, char before = 0, char after = 0) {
  const size_t n = s.size();
  if (n > kShortString || AnyNeedsEscapeShort(s.data(), n) || !w.HasRoom(kShortString + 4)) {
    WriteQuotedSlow(w, s, before, after);
    return;
  }
  char* p = w.Room(kShortString + 4);
  if (before) *p++ = before;
  *p++ = '"';
  CopyShort(p, s.data(), n);
  p += n;
  *p++ = '"';
  if (after) *p++ = after;
  w.Advance(p);
}

void Write(Writer& w, const bj::value& v);

void Write(Writer& w, const bj::array& a) {
  w.Char('[');
  bool first = true;
  for (const auto& e : a) {
    if (!first) w.Char(',');
    first = false;
    Write(w, e);
  }
  w.Char(']');
}

void Write(Writer& w, const bj::object& o) {
  w.Char('{');
  bool first = true;
  for (const auto& kv : o) {
    WriteQuoted(w, kv.key(), first ? 0 : ',', ':');
    first = false;
    Write(w, kv.value());
  }
  w.Char('}');
}

void Write(Writer& w, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: w.Literal("null"); break;
    case bj::kind::bool_: w.Literal(v.get_bool() ? "true" : "false"); break;
    case bj::kind::int64: {
      char* p = w.Room(20);
      w.Advance(std::to_chars(p, p + 20, v.get_int64()).ptr);
      break;
    }
    case bj::kind::uint64: {
      char* p = w.Room(20);
      w.Advance(std::to_chars(p, p + 20, v.get_uint64()).ptr);
      break;
    }
    case bj::kind::double_: {
      char* p = w.Room(kDoubleRoom);
      w.Advance(p + FormatDouble(v.get_double(), p, kDoubleRoom));
      break;
    }
    case bj::kind::string: WriteQuoted(w, v.get_string()); break;
    case bj::kind::array: Write(w, v.get_array()); break;
    case bj::kind::object: Write(w, v.get_object()); break;
  }
}

// Appending to a caller's string: growth starts small (the string may be long already,
// and every growth writes the new bytes once before they are overwritten).
constexpr size_t kAppendGrowth = 64;

template <typename T>
void AppendThroughWriter(std::string& out, const T& v) {
  Writer w(out, out.size(), kAppendGrowth);
  Write(w, v);
  w.Finish();
}

// Serialize writes into a per-thread scratch buffer that keeps its size from one call to
// the next, then copies the text into a string of exactly its size: one allocation per
// call instead of a first guess and a reallocation (and copy) for every doubling.
constexpr size_t kScratchInitial = 4096;
constexpr size_t kScratchKept = 1 << 16;  // a larger buffer is freed after its call

template <typename T>
std::string SerializeThroughScratch(const T& v) {
  thread_local std::string scratch;
  Writer w(scratch, 0, kScratchInitial);
  Write(w, v);
  std::string out(scratch.data(), w.used());
  if (scratch.size() > kScratchKept) std::string().swap(scratch);
  return out;
}

}  // namespace

void AppendQuoted(std::string& out, std::string_view s) {
  Writer w(out, out.size(), 0);
  WriteQuoted(w, s);
  w.Finish();
}

void AppendSerialized(std::string& out, const bj::array& a) { AppendThroughWriter(out, a); }
void AppendSerialized(std::string& out, const bj::object& o) { AppendThroughWriter(out, o); }
void AppendSerialized(std::string& out, const bj::value& v) { AppendThroughWriter(out, v); }

std::string Serialize(const bj::value& v) { return SerializeThroughScratch(v); }
std::string Serialize(const bj::object& o) { return SerializeThroughScratch(o); }
std::string Serialize(const bj::array& a) { return SerializeThroughScratch(a); }

namespace {

// What WriteQuoted writes for `s`: the quotes, then per byte 1, or 2 for a short escape,
// or 6 for \u00XX (kEscape).
size_t StringSize(std::string_view s) {
  size_t n = 2;
  for (unsigned char c : s) {
    const char e = kEscape[c];
    n += e == 0 ? 1 : e == 'u' ? 6 : 2;
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
  char buf[kDoubleRoom];
  return FormatDouble(v.get_double(), buf, sizeof buf);
}

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
