#include "expr/filters.h"

#include <re2/re2.h>
#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/stringpiece.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "expr/parser.h"
#include "expr/text_codec.h"
#include "expr/value_ops.h"
#include "rampart/core/json.h"

namespace rampart::expr::internal {

namespace bj = boost::json;

std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, const Limits& limits,
                                             Error* error) {
  if (pattern.size() > limits.max_pattern_bytes) {
    *error = MakeError(ErrorCode::kExpressionLimit,
                       "regular expression longer than " + std::to_string(limits.max_pattern_bytes) +
                           " bytes");
    return nullptr;
  }
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(2 << 20);
  auto re = std::make_shared<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!re->ok()) {
    // RE2's message quotes the pattern; a pattern may be tainted, so it is not echoed.
    *error = MakeError(ErrorCode::kInvalidRegex, "invalid regular expression");
    return nullptr;
  }
  return re;
}

namespace {

class FilterRun {
 public:
  FilterRun(Ctx& c, const FilterCall& call, Val& in, Val* args, Val& out)
      : c_(c), call_(call), in_(in), args_(args), out_(out), v_(in.get()) {
    t_ = in.tainted;
    for (uint32_t i = 0; i < call.nargs; ++i) t_ = t_ || args[i].tainted;
  }

  bool Run() {
    switch (call_.id) {
      case FilterId::kUpper:
      case FilterId::kLower: return UpperLower(call_.id == FilterId::kUpper);
      case FilterId::kTrim: return Trim();
      case FilterId::kLength: return Length();
      case FilterId::kReplace: return Replace();
      case FilterId::kSplit: return Split();
      case FilterId::kJoin: return Join();
      case FilterId::kStartsWith:
      case FilterId::kEndsWith: return StartsEnds(call_.id == FilterId::kStartsWith);
      case FilterId::kContains: {
        bool r = false;
        if (!Contains(c_, call_.pos, v_, Arg(0), r)) return false;
        out_.SetBool(r, t_);
        return true;
      }
      case FilterId::kSlice: return Slice();
      case FilterId::kMatches: return Matches();
      case FilterId::kUrlEncode: return UrlEncodeFilter();
      case FilterId::kBase64Encode: return Base64EncodeFilter();
      case FilterId::kBase64Decode: return Base64DecodeFilter();
      case FilterId::kSha256: return Sha256Filter();
      case FilterId::kAbs: return Abs();
      case FilterId::kRound: return Round();
      case FilterId::kFloor:
      case FilterId::kCeil: return FloorCeil(call_.id == FilterId::kFloor);
      case FilterId::kInt: return ToInt();
      case FilterId::kFloat: return ToFloat();
      case FilterId::kMin:
      case FilterId::kMax: return MinMax(call_.id == FilterId::kMin);
      case FilterId::kSum: return Sum();
      case FilterId::kString: return ToStringFilter();
      case FilterId::kJson: return ToJson();
      case FilterId::kFromJson: return FromJson();
      case FilterId::kBool: out_.SetBool(IsTruthy(v_), t_); return true;
      case FilterId::kDefault: return Fail(c_, call_.pos, ErrorCode::kInternal, "default");
      case FilterId::kKeys: return Keys();
      case FilterId::kValues: return Values();
      case FilterId::kFirst:
      case FilterId::kLast: return FirstLast(call_.id == FilterId::kFirst);
      case FilterId::kSort: return Sort();
      case FilterId::kUnique: return Unique();
      case FilterId::kReverse: return Reverse();
      case FilterId::kMap: return Map();
      case FilterId::kSelect: return Select();
      case FilterId::kFlatten: return Flatten();
      case FilterId::kItems: return Items();
      case FilterId::kDate: return Date();
    }
    return Fail(c_, call_.pos, ErrorCode::kInternal, "bad filter");
  }

 private:
  const bj::value& Arg(size_t i) const { return args_[i].get(); }
  std::string_view Name() const { return GetFilterInfo(call_.id).name; }
  size_t Cap() const { return c_.limits.max_value_bytes; }

  bool TypeErr(std::string_view message) {
    std::string m = "filter '";
    m += Name();
    m += "': ";
    m += message;
    return Fail(c_, call_.pos, ErrorCode::kTypeError, m);
  }
  bool NeedInput(const char* what) {
    return TypeErr(std::string("input must be ") + what + ", not " + std::string(json::TypeName(v_)));
  }
  bool NeedArg(size_t i, const char* what) {
    return TypeErr("argument " + std::to_string(i + 1) + " must be " + what + ", not " +
                   std::string(json::TypeName(Arg(i))));
  }
  bool Planned(size_t size) { return CheckPlannedSize(c_, call_.pos, size); }
  // Filters whose output is about as large as their input check a borrowed input first
  // (an owned input was bounded when it was made).
  bool InputBounded() { return in_.owned() || CheckSize(c_, call_.pos, v_); }
  bool Steps(size_t n) { return Step(c_, call_.pos, n); }
  bool Bytes(size_t n) { return StepBytes(c_, call_.pos, n); }

  bool SetString(std::string_view s) {
    if (!Planned(s.size() + 2)) return false;
    out_.Set(bj::value(bj::string_view(s.data(), s.size())), t_);
    return CheckSize(c_, call_.pos, out_.get());
  }
  bool SetOwned(bj::value v) {
    out_.Set(std::move(v), t_);
    return CheckSize(c_, call_.pos, out_.get());
  }
  // Selects a part of the input: borrowed when the input is, moved out otherwise.
  void SetPart(const bj::value* part) {
    if (in_.owned()) {
      bj::value moved = std::move(*const_cast<bj::value*>(part));
      out_.Set(std::move(moved), t_);
    } else {
      out_.Ref(part, t_);
    }
  }
  bool GetInt(size_t i, int64_t& out) {
    const bj::value& a = Arg(i);
    if (!IsNumber(a)) return NeedArg(i, "an integer");
    Num n = ToNum(a);
    if (n.is_int) {
      out = n.i;
      return true;
    }
    if (!DoubleToInt64(n.d, out)) return NeedArg(i, "an integer");
    return true;
  }

  [[gnu::noinline]] bool UpperLower(bool upper) {
    if (!v_.is_string()) return NeedInput("a string");
    if (!InputBounded() || !Bytes(v_.get_string().size())) return false;
    std::string_view s = v_.get_string();
    if (!std::all_of(s.begin(), s.end(), [](char ch) { return (ch & 0x80) == 0; })) {
      // Unicode's default full case mapping (root locale, so the result never depends on
      // the host): 'é' -> 'É', 'ß' -> 'SS'. It can lengthen the text (at most threefold);
      // SetString checks the result against the value bound.
      std::string mapped;
      mapped.reserve(s.size());
      icu::StringByteSink<std::string> sink(&mapped);
      UErrorCode err = U_ZERO_ERROR;
      const icu::StringPiece src(s.data(), static_cast<int32_t>(s.size()));
      if (upper) {
        icu::CaseMap::utf8ToUpper("", 0, src, sink, nullptr, err);
      } else {
        icu::CaseMap::utf8ToLower("", 0, src, sink, nullptr, err);
      }
      if (U_FAILURE(err)) return Fail(c_, call_.pos, ErrorCode::kInternal, "case mapping failed");
      return SetString(mapped);
    }
    // ASCII (the common case): the same mapping, in place when the input is an intermediate.
    // An owned input (an intermediate) is changed in place; a borrowed one is copied.
    if (!in_.owned()) out_.Set(bj::value(v_.get_string()), t_);
    else out_.Set(std::move(in_.mut()), t_);
    for (char& ch : out_.mut().get_string()) {
      if (upper && ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
      if (!upper && ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return true;
  }

  [[gnu::noinline]] bool Trim() {
    if (!v_.is_string()) return NeedInput("a string");
    std::string_view s = v_.get_string();
    const char* ws = " \t\n\r\f\v";
    size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return SetString("");
    size_t e = s.find_last_not_of(ws);
    if (b == 0 && e + 1 == s.size()) {
      SetPart(&v_);  // nothing to trim
      return true;
    }
    return SetString(s.substr(b, e - b + 1));
  }

  [[gnu::noinline]] bool Length() {
    switch (v_.kind()) {
      case bj::kind::string:
        if (!Bytes(v_.get_string().size())) return false;
        out_.SetInt(static_cast<int64_t>(CodePointCount(v_.get_string())), t_);
        return true;
      case bj::kind::array:
        out_.SetInt(static_cast<int64_t>(v_.get_array().size()), t_);
        return true;
      case bj::kind::object:
        out_.SetInt(static_cast<int64_t>(v_.get_object().size()), t_);
        return true;
      default: return NeedInput("a string, array or object");
    }
  }

  [[gnu::noinline]] bool Replace() {
    if (!v_.is_string()) return NeedInput("a string");
    if (!Arg(0).is_string()) return NeedArg(0, "a string");
    if (!Arg(1).is_string()) return NeedArg(1, "a string");
    std::string_view s = v_.get_string();
    std::string_view from = Arg(0).get_string();
    std::string_view to = Arg(1).get_string();
    if (!Bytes(s.size())) return false;
    if (from.empty()) return SetString(s);
    size_t count = 0;
    if (from.size() == 1) {  // common, and a plain loop beats memchr calls on short text
      for (char ch : s) count += ch == from[0] ? 1 : 0;
      if (count == 0) {
        SetPart(&v_);
        return true;
      }
      if (to.size() == 1 && in_.owned()) {  // same length: rewrite the intermediate in place
        for (char& ch : in_.mut().get_string()) {
          if (ch == from[0]) ch = to[0];
        }
        out_.Set(std::move(in_.mut()), t_);
        return true;
      }
    } else {
      for (size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, p + from.size())) {
        ++count;
      }
    }
    // Plan the size before building anything (replace is a classic amplifier).
    const size_t cap = Cap();
    size_t grow = to.size() > from.size() ? to.size() - from.size() : 0;
    if (grow > 0 && count > (cap / grow) + 1) return Planned(cap + 1);
    size_t len = s.size() - count * from.size() + count * to.size();
    if (!Planned(len + 2) || !Bytes(len)) return false;
    bj::string out;
    out.resize(len);
    char* w = out.data();
    size_t last = 0;
    for (size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, p + from.size())) {
      std::memcpy(w, s.data() + last, p - last);
      w += p - last;
      std::memcpy(w, to.data(), to.size());
      w += to.size();
      last = p + from.size();
    }
    std::memcpy(w, s.data() + last, s.size() - last);
    return SetOwned(bj::value(std::move(out)));
  }

  [[gnu::noinline]] bool Split() {
    if (!v_.is_string()) return NeedInput("a string");
    if (!Arg(0).is_string()) return NeedArg(0, "a string");
    std::string_view s = v_.get_string();
    std::string_view sep = Arg(0).get_string();
    if (!Bytes(s.size())) return false;
    // The next part starting at `i`: its length and where the one after starts.
    auto next = [&](size_t i, size_t& len) -> size_t {
      if (sep.empty()) {
        len = std::min(Utf8SeqLen(static_cast<unsigned char>(s[i])), s.size() - i);
        return i + len;
      }
      size_t p = s.find(sep, i);
      if (p == std::string_view::npos) {
        len = s.size() - i;
        return s.size() + 1;  // past the end: no more parts
      }
      len = p - i;
      return p + sep.size();
    };
    // Count first (every part costs at least 3 serialized bytes), then build once.
    size_t count = 0;
    size_t len = 0;
    const size_t max_parts = Cap() / 3 + 1;
    if (!(sep.empty() && s.empty())) {
      for (size_t i = 0; i <= s.size(); i = next(i, len)) {
        if (sep.empty() && i == s.size()) break;
        if (++count > max_parts) return Planned(Cap() + 1);
      }
    }
    if (!Planned(s.size() + count * 3 + 1) || !Steps(count)) return false;
    bj::array arr;
    arr.reserve(count);
    for (size_t i = 0, k = 0; k < count; ++k) {
      size_t j = next(i, len);
      arr.emplace_back(bj::string_view(s.data() + i, len));
      i = j;
    }
    if (StringSizeUpperBound(s.size()) + count * 3 <= Cap()) {
      out_.Set(bj::value(std::move(arr)), t_);  // even fully escaped it fits
      return true;
    }
    return SetOwned(bj::value(std::move(arr)));
  }

  [[gnu::noinline]] bool Join() {
    if (!v_.is_array()) return NeedInput("an array");
    std::string_view sep;
    if (call_.nargs > 0) {
      if (!Arg(0).is_string()) return NeedArg(0, "a string");
      sep = Arg(0).get_string();
    }
    const auto& arr = v_.get_array();
    if (!Steps(arr.size())) return false;
    const size_t cap = Cap();
    size_t total = arr.empty() ? 0 : sep.size() * (arr.size() - 1);
    bool all_strings = true;
    for (const auto& e : arr) {
      if (!e.is_string()) {
        all_strings = false;
        break;
      }
      total += e.get_string().size();
    }
    if (all_strings) {  // the common case: size known up front, one allocation
      if (!Planned(total + 2) || !Bytes(total)) return false;
      bj::string joined;
      joined.resize(total);
      char* w = joined.data();
      for (size_t i = 0; i < arr.size(); ++i) {
        if (i > 0 && !sep.empty()) {  // memcpy from a null view is UB even for 0 bytes
          std::memcpy(w, sep.data(), sep.size());
          w += sep.size();
        }
        const auto& part = arr[i].get_string();
        std::memcpy(w, part.data(), part.size());
        w += part.size();
      }
      return SetOwned(bj::value(std::move(joined)));
    }
    std::string out;
    for (size_t i = 0; i < arr.size(); ++i) {
      if (i > 0) {
        if (out.size() + sep.size() > cap) return Planned(cap + 1);
        out.append(sep);
      }
      const bj::value& e = arr[i];
      size_t add = e.is_string() ? e.get_string().size() : json::SerializedSizeAtMost(e, cap);
      if (out.size() + add > cap) return Planned(cap + 1);
      AppendText(out, e);
    }
    if (!Bytes(out.size())) return false;
    return SetString(out);
  }

  [[gnu::noinline]] bool StartsEnds(bool starts) {
    if (!v_.is_string()) return NeedInput("a string");
    if (!Arg(0).is_string()) return NeedArg(0, "a string");
    std::string_view s = v_.get_string();
    std::string_view x = Arg(0).get_string();
    bool r = s.size() >= x.size() &&
             (starts ? s.substr(0, x.size()) == x : s.substr(s.size() - x.size()) == x);
    out_.SetBool(r, t_);
    return true;
  }

  // Python-style bounds: negative counts from the end; out-of-range clamps.
  static size_t ClampIndex(int64_t i, size_t len) {
    if (i >= 0) return std::min(static_cast<size_t>(i), len);
    int64_t n = static_cast<int64_t>(std::min<size_t>(len, INT64_MAX));
    return static_cast<size_t>(std::max<int64_t>(0, n + i));
  }

  [[gnu::noinline]] bool Slice() {
    int64_t start = 0;
    if (!GetInt(0, start)) return false;
    bool has_end = call_.nargs > 1 && !Arg(1).is_null();
    int64_t end = 0;
    if (has_end && !GetInt(1, end)) return false;
    if (v_.is_string()) {
      std::string_view s = v_.get_string();
      if (!Bytes(s.size())) return false;
      // Code-point indices, so a slice never splits a UTF-8 sequence. The length is only
      // needed for negative indices.
      size_t n = (start < 0 || (has_end && end < 0)) ? CodePointCount(s) : SIZE_MAX;
      size_t b = ClampIndex(start, n);
      size_t e = has_end ? ClampIndex(end, n) : SIZE_MAX;
      if (e < b) e = b;
      size_t byte_b = s.size(), byte_e = s.size();
      size_t cp = 0;
      for (size_t i = 0; i < s.size(); ++cp) {
        if (cp == b) byte_b = i;
        if (cp == e) {
          byte_e = i;
          break;
        }
        i += std::min(Utf8SeqLen(static_cast<unsigned char>(s[i])), s.size() - i);
      }
      if (byte_e < byte_b) byte_e = byte_b;
      if (byte_b == 0 && byte_e == s.size()) {
        SetPart(&v_);  // the whole string
        return true;
      }
      if (in_.owned()) {  // cut the intermediate in place
        auto& str = in_.mut().get_string();
        str.erase(byte_e);
        str.erase(0, byte_b);
        out_.Set(std::move(in_.mut()), t_);
        return true;
      }
      return SetString(s.substr(byte_b, byte_e - byte_b));
    }
    if (v_.is_array()) {
      const auto& arr = v_.get_array();
      size_t b = ClampIndex(start, arr.size());
      size_t e = has_end ? ClampIndex(end, arr.size()) : arr.size();
      if (e < b) e = b;
      if (!Steps(e - b)) return false;
      if (!InputBounded()) return false;
      bj::array out;
      out.reserve(e - b);
      for (size_t i = b; i < e; ++i) out.push_back(arr[i]);
      out_.Set(bj::value(std::move(out)), t_);
      return true;
    }
    return NeedInput("a string or an array");
  }

  [[gnu::noinline]] bool Matches() {
    if (!v_.is_string()) return NeedInput("a string");
    std::shared_ptr<const re2::RE2> re = call_.regex;
    if (re == nullptr) {
      if (!Arg(0).is_string()) return NeedArg(0, "a string");
      Error err;
      re = CompileRegex(Arg(0).get_string(), c_.limits, &err);
      if (re == nullptr) return Fail(c_, call_.pos, err.code, err.message);
    }
    std::string_view s = v_.get_string();
    if (!Bytes(s.size())) return false;
    bool r = re2::RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re);
    out_.SetBool(r, t_);
    return true;
  }

  [[gnu::noinline]] bool UrlEncodeFilter() {
    if (!v_.is_string()) return NeedInput("a string");
    std::string_view s = v_.get_string();
    if (!Planned(UrlEncodedSize(s) + 2) || !Bytes(s.size())) return false;
    std::string out;
    UrlEncode(s, out);
    return SetString(out);
  }

  [[gnu::noinline]] bool Base64EncodeFilter() {
    if (!v_.is_string()) return NeedInput("a string");
    std::string_view s = v_.get_string();
    if (!Planned(Base64EncodedSize(s.size()) + 2) || !Bytes(s.size())) return false;
    std::string out;
    Base64Encode(s, out);
    return SetString(out);
  }

  [[gnu::noinline]] bool Base64DecodeFilter() {
    if (!v_.is_string()) return NeedInput("a string");
    std::string_view s = v_.get_string();
    if (!Bytes(s.size())) return false;
    std::string out;
    if (!Base64Decode(s, out)) return TypeErr("input is not valid base64");
    // Strings are text: decoded bytes that are not UTF-8 cannot be a JSON string.
    if (!IsValidUtf8(out)) return TypeErr("decoded bytes are not UTF-8 text");
    return SetString(out);
  }

  [[gnu::noinline]] bool Sha256Filter() {
    if (!v_.is_string()) return NeedInput("a string");
    std::string_view s = v_.get_string();
    if (!Bytes(s.size())) return false;
    std::string out;
    if (!Sha256Hex(s, out)) return Fail(c_, call_.pos, ErrorCode::kInternal, "sha256 failed");
    return SetString(out);
  }

  bool NumberResult(double d) {
    int64_t i = 0;
    if (DoubleToInt64(d, i)) {
      out_.SetInt(i, t_);
      return true;
    }
    if (!std::isfinite(d)) {
      return Fail(c_, call_.pos, ErrorCode::kExpressionLimit, "numeric result out of range");
    }
    out_.SetDouble(d, t_);
    return true;
  }

  [[gnu::noinline]] bool Abs() {
    if (!IsNumber(v_)) return NeedInput("a number");
    Num n = ToNum(v_);
    if (n.is_int && n.i != INT64_MIN) {
      out_.SetInt(n.i < 0 ? -n.i : n.i, t_);
    } else {
      out_.SetDouble(std::fabs(n.AsDouble()), t_);
    }
    return true;
  }

  [[gnu::noinline]] bool Round() {
    if (!IsNumber(v_)) return NeedInput("a number");
    int64_t digits = 0;
    if (call_.nargs > 0 && !GetInt(0, digits)) return false;
    if (digits < -15 || digits > 15) return NeedArg(0, "an integer between -15 and 15");
    Num n = ToNum(v_);
    if (n.is_int && digits >= 0) {
      out_.SetInt(n.i, t_);
      return true;
    }
    double x = n.AsDouble();
    if (digits == 0) return NumberResult(std::round(x));
    double p = std::pow(10.0, static_cast<double>(digits < 0 ? -digits : digits));
    if (digits < 0) return NumberResult(std::round(x / p) * p);
    double scaled = x * p;
    if (!std::isfinite(scaled)) {
      out_.SetDouble(x, t_);
      return true;
    }
    double r = std::round(scaled) / p;
    if (!std::isfinite(r)) r = x;
    out_.SetDouble(r, t_);
    return true;
  }

  [[gnu::noinline]] bool FloorCeil(bool floor) {
    if (!IsNumber(v_)) return NeedInput("a number");
    Num n = ToNum(v_);
    if (n.is_int) {
      out_.SetInt(n.i, t_);
      return true;
    }
    return NumberResult(floor ? std::floor(n.d) : std::ceil(n.d));
  }

  // Parses a whole string as a JSON-style number (surrounding ASCII spaces allowed).
  static bool ParseNumber(std::string_view s, Num& out) {
    const char* ws = " \t\n\r";
    size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return false;
    s = s.substr(b, s.find_last_not_of(ws) - b + 1);
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    if (s.empty() || s[0] == '+' || s.size() > 400) return false;
    int64_t i = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec == std::errc() && p == s.data() + s.size()) {
      out = Num{true, i, 0};
      return true;
    }
    double d = 0;
    auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), d, std::chars_format::general);
    if (ec2 != std::errc() || p2 != s.data() + s.size() || !std::isfinite(d)) return false;
    out = Num{false, 0, d};
    return true;
  }

  [[gnu::noinline]] bool ToInt() {
    Num n;
    if (IsNumber(v_)) {
      n = ToNum(v_);
    } else if (v_.is_string()) {
      if (!ParseNumber(v_.get_string(), n)) return TypeErr("input is not a number");
    } else if (v_.is_bool()) {
      out_.SetInt(v_.get_bool() ? 1 : 0, t_);
      return true;
    } else {
      return NeedInput("a number, string or boolean");
    }
    if (n.is_int) {
      out_.SetInt(n.i, t_);
      return true;
    }
    int64_t i = 0;
    if (!DoubleToInt64(std::trunc(n.d), i)) return TypeErr("number out of integer range");
    out_.SetInt(i, t_);
    return true;
  }

  [[gnu::noinline]] bool ToFloat() {
    Num n;
    if (IsNumber(v_)) {
      n = ToNum(v_);
    } else if (v_.is_string()) {
      if (!ParseNumber(v_.get_string(), n)) return TypeErr("input is not a number");
    } else if (v_.is_bool()) {
      out_.SetDouble(v_.get_bool() ? 1.0 : 0.0, t_);
      return true;
    } else {
      return NeedInput("a number, string or boolean");
    }
    out_.SetDouble(n.AsDouble(), t_);
    return true;
  }

  [[gnu::noinline]] bool MinMax(bool min) {
    if (!v_.is_array()) return NeedInput("an array");
    const auto& arr = v_.get_array();
    if (!Steps(arr.size())) return false;
    if (arr.empty()) {
      out_.SetNull(t_);
      return true;
    }
    const bj::value* best = &arr[0];
    for (size_t i = 0; i < arr.size(); ++i) {
      int cmp = 0;
      if (!Compare3(arr[i], *best, cmp) || (IsNumber(arr[i]) != IsNumber(*best))) {
        return TypeErr("elements must be all numbers or all strings");
      }
      if (min ? cmp < 0 : cmp > 0) best = &arr[i];
    }
    SetPart(best);
    return true;
  }

  [[gnu::noinline]] bool Sum() {
    if (!v_.is_array()) return NeedInput("an array");
    const auto& arr = v_.get_array();
    if (!Steps(arr.size())) return false;
    Num acc;
    for (const auto& e : arr) {
      if (!IsNumber(e)) return TypeErr("elements must be numbers");
      Num x = ToNum(e);
      int64_t r = 0;
      if (acc.is_int && x.is_int && !__builtin_add_overflow(acc.i, x.i, &r)) {
        acc.i = r;
      } else {
        acc = Num{false, 0, acc.AsDouble() + x.AsDouble()};
      }
    }
    if (!acc.is_int) {
      if (!std::isfinite(acc.d)) {
        return Fail(c_, call_.pos, ErrorCode::kExpressionLimit, "numeric result out of range");
      }
      out_.SetDouble(acc.d, t_);
    } else {
      out_.SetInt(acc.i, t_);
    }
    return true;
  }

  [[gnu::noinline]] bool ToStringFilter() {
    if (v_.is_string()) {
      SetPart(&v_);
      return true;
    }
    if (!Planned(json::SerializedSizeAtMost(v_, Cap()))) return false;
    std::string out;
    AppendJson(out, v_);
    if (!Bytes(out.size())) return false;
    return SetString(out);
  }

  [[gnu::noinline]] bool ToJson() {
    if (!Planned(json::SerializedSizeAtMost(v_, Cap()))) return false;
    std::string out;
    AppendJson(out, v_);
    if (!Bytes(out.size())) return false;
    return SetString(out);
  }

  [[gnu::noinline]] bool FromJson() {
    if (!v_.is_string()) return NeedInput("a string");
    std::string_view s = v_.get_string();
    if (!Bytes(s.size())) return false;
    auto parsed = json::Parse(s, json::ParseLimits{Cap(), 64});
    if (!parsed.ok()) {
      if (parsed.error().code == ErrorCode::kLimitExceeded) {
        return Fail(c_, call_.pos, ErrorCode::kExpressionLimit,
                    "filter 'from_json': " + parsed.error().message);
      }
      return TypeErr("input is not valid JSON");
    }
    return SetOwned(std::move(parsed).value());
  }

  [[gnu::noinline]] bool Keys() {
    if (!v_.is_object()) return NeedInput("an object");
    const auto& obj = v_.get_object();
    if (!Steps(obj.size()) || !InputBounded()) return false;
    bj::array arr;
    arr.reserve(obj.size());
    for (const auto& kv : obj) arr.emplace_back(kv.key());
    out_.Set(bj::value(std::move(arr)), t_);
    return true;
  }

  [[gnu::noinline]] bool Values() {
    if (!v_.is_object()) return NeedInput("an object");
    const auto& obj = v_.get_object();
    if (!Steps(obj.size()) || !InputBounded()) return false;
    bj::array arr;
    arr.reserve(obj.size());
    for (const auto& kv : obj) arr.push_back(kv.value());
    out_.Set(bj::value(std::move(arr)), t_);
    return true;
  }

  [[gnu::noinline]] bool FirstLast(bool first) {
    if (v_.is_array()) {
      const auto& arr = v_.get_array();
      if (arr.empty()) {
        out_.SetNull(t_);
      } else {
        SetPart(first ? &arr.front() : &arr.back());
      }
      return true;
    }
    if (v_.is_string()) {
      std::string_view s = v_.get_string();
      if (s.empty()) {
        out_.SetNull(t_);
        return true;
      }
      if (first) return SetString(s.substr(0, std::min(Utf8SeqLen(static_cast<unsigned char>(s[0])), s.size())));
      size_t i = s.size() - 1;
      while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
      return SetString(s.substr(i));
    }
    return NeedInput("an array or a string");
  }

  [[gnu::noinline]] bool Sort() {
    if (!v_.is_array()) return NeedInput("an array");
    const auto& arr = v_.get_array();
    size_t n = arr.size();
    size_t log = 1;
    while ((size_t{1} << log) < n) ++log;
    if (!Steps(n * log) || !InputBounded()) return false;
    for (size_t i = 1; i < n; ++i) {
      int cmp = 0;
      if (!Compare3(arr[i], arr[0], cmp) || IsNumber(arr[i]) != IsNumber(arr[0])) {
        return TypeErr("elements must be all numbers or all strings");
      }
    }
    if (n == 1 && !IsNumber(arr[0]) && !arr[0].is_string()) {
      return TypeErr("elements must be all numbers or all strings");
    }
    // Stable by construction (ties keep input order) without std::stable_sort, whose
    // temporary buffer API is deprecated under clang + libstdc++ 12.
    std::vector<std::pair<const bj::value*, size_t>> order;
    order.reserve(n);
    for (size_t i = 0; i < n; ++i) order.emplace_back(&arr[i], i);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      int cmp = 0;
      Compare3(*a.first, *b.first, cmp);
      return cmp != 0 ? cmp < 0 : a.second < b.second;
    });
    bj::array out;
    out.reserve(n);
    for (const auto& e : order) out.push_back(*e.first);
    out_.Set(bj::value(std::move(out)), t_);
    return true;
  }

  [[gnu::noinline]] bool Unique() {
    if (!v_.is_array()) return NeedInput("an array");
    const auto& arr = v_.get_array();
    if (!Steps(arr.size()) || !InputBounded()) return false;
    std::unordered_multimap<size_t, const bj::value*> seen;
    seen.reserve(arr.size());
    bj::array out;
    for (const auto& e : arr) {
      size_t h = DeepHash(e);
      bool dup = false;
      auto range = seen.equal_range(h);
      for (auto it = range.first; it != range.second && !dup; ++it) {
        if (!Equal(c_, call_.pos, *it->second, e, dup)) return false;
      }
      if (dup) continue;
      seen.emplace(h, &e);
      out.push_back(e);
    }
    out_.Set(bj::value(std::move(out)), t_);
    return true;
  }

  [[gnu::noinline]] bool Reverse() {
    if (v_.is_array()) {
      const auto& arr = v_.get_array();
      if (!Steps(arr.size()) || !InputBounded()) return false;
      if (in_.owned()) {
        auto& own = in_.mut().get_array();
        std::reverse(own.begin(), own.end());
        out_.Set(std::move(in_.mut()), t_);
        return true;
      }
      bj::array out;
      out.reserve(arr.size());
      for (size_t i = arr.size(); i > 0; --i) out.push_back(arr[i - 1]);
      out_.Set(bj::value(std::move(out)), t_);
      return true;
    }
    if (v_.is_string()) {
      std::string_view s = v_.get_string();
      if (!Bytes(s.size())) return false;
      std::string out;
      out.reserve(s.size());
      size_t end = s.size();
      while (end > 0) {
        size_t b = end - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
        out.append(s.substr(b, end - b));
        end = b;
      }
      return SetString(out);
    }
    return NeedInput("an array or a string");
  }

  [[gnu::noinline]] bool Map() {
    if (!v_.is_array()) return NeedInput("an array");
    if (!Arg(0).is_string()) return NeedArg(0, "a string");
    std::string_view key = Arg(0).get_string();
    const auto& arr = v_.get_array();
    if (!Steps(arr.size())) return false;
    const size_t cap = Cap();
    size_t size = 1;
    bj::array out;
    out.reserve(arr.size());
    for (const auto& e : arr) {
      const bj::value* picked = &NullValue();
      if (e.is_object()) {
        auto it = e.get_object().find(key);
        if (it != e.get_object().end()) picked = &it->value();
      } else if (!e.is_null()) {
        return TypeErr("elements must be objects, not " + std::string(json::TypeName(e)));
      }
      size += json::SerializedSizeAtMost(*picked, cap) + 1;
      if (!Planned(size)) return false;
      out.push_back(*picked);
    }
    out_.Set(bj::value(std::move(out)), t_);
    return true;
  }

  [[gnu::noinline]] bool Select() {
    if (!v_.is_array()) return NeedInput("an array");
    if (!Arg(0).is_string()) return NeedArg(0, "a string");
    std::string_view key = Arg(0).get_string();
    const bj::value& want = Arg(1);
    const auto& arr = v_.get_array();
    if (!Steps(arr.size()) || !InputBounded()) return false;
    bj::array out;
    for (const auto& e : arr) {
      if (!e.is_object()) {
        if (e.is_null()) continue;
        return TypeErr("elements must be objects, not " + std::string(json::TypeName(e)));
      }
      auto it = e.get_object().find(key);
      const bj::value& field = it == e.get_object().end() ? NullValue() : it->value();
      bool eq = false;
      if (!Equal(c_, call_.pos, field, want, eq)) return false;
      if (eq) out.push_back(e);
    }
    out_.Set(bj::value(std::move(out)), t_);
    return true;
  }

  [[gnu::noinline]] bool Flatten() {
    if (!v_.is_array()) return NeedInput("an array");
    const auto& arr = v_.get_array();
    if (!InputBounded()) return false;
    size_t total = 0;
    for (const auto& e : arr) total += e.is_array() ? e.get_array().size() : 1;
    if (!Steps(total)) return false;
    bj::array out;
    out.reserve(total);
    for (const auto& e : arr) {
      if (e.is_array()) {
        for (const auto& x : e.get_array()) out.push_back(x);
      } else {
        out.push_back(e);
      }
    }
    out_.Set(bj::value(std::move(out)), t_);
    return true;
  }

  [[gnu::noinline]] bool Items() {
    if (!v_.is_object()) return NeedInput("an object");
    const auto& obj = v_.get_object();
    if (!Steps(obj.size())) return false;
    // Each entry grows by `{"key":,"value":}` (17 bytes) plus a comma.
    size_t planned = json::SerializedSizeAtMost(v_, Cap()) + obj.size() * 18;
    if (!Planned(planned)) return false;
    bj::array out;
    out.reserve(obj.size());
    for (const auto& kv : obj) {
      bj::object item;
      item.reserve(2);
      item.emplace("key", kv.key());
      item.emplace("value", kv.value());
      out.emplace_back(std::move(item));
    }
    out_.Set(bj::value(std::move(out)), t_);
    return true;
  }

  [[gnu::noinline]] bool Date() {
    if (!Arg(0).is_string()) return NeedArg(0, "a string");
    int64_t epoch = 0;
    if (v_.is_string()) {
      if (!ParseRfc3339(v_.get_string(), epoch)) {
        return TypeErr("input is not an RFC 3339 date-time between years 0000 and 9999");
      }
    } else if (IsNumber(v_)) {
      Num n = ToNum(v_);
      if (n.is_int) {
        epoch = n.i;
      } else if (!DoubleToInt64(std::floor(n.d), epoch)) {
        return TypeErr("epoch seconds out of range");
      }
      if (!EpochInRange(epoch)) return TypeErr("epoch seconds out of range");
    } else {
      return NeedInput("an RFC 3339 string or epoch seconds");
    }
    std::string_view fmt = Arg(0).get_string();
    if (!Bytes(fmt.size())) return false;
    std::string out;
    bool bad = false, too_long = false;
    if (!FormatDate(epoch, fmt, Cap(), out, bad, too_long)) {
      if (too_long) return Planned(Cap() + 1);
      return TypeErr(kUnsupportedDateDirective);
    }
    return SetString(out);
  }

  Ctx& c_;
  const FilterCall& call_;
  Val& in_;
  Val* args_;
  Val& out_;
  const bj::value& v_;
  bool t_ = false;
};

}  // namespace

bool ApplyFilter(Ctx& c, const FilterCall& call, Val& in, Val* args, Val& out) {
  return FilterRun(c, call, in, args, out).Run();
}

}  // namespace rampart::expr::internal
