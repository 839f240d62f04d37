// Evaluation of a compiled schema against an instance.
//
// Errors are collected only when the caller asked for them and outside "silent" contexts
// (anyOf/oneOf branches, not, if, contains), where a failure is an ordinary outcome.
// Without an error list, evaluation stops at the first failure.
//
// unevaluatedProperties/unevaluatedItems need the annotations of the keywords evaluated
// before them: a node that has one of them gives its in-place subschemas an `Annot` (one
// mark per member/item of the instance) to fill; nodes that don't need it pass nullptr
// and pay nothing.
#include <algorithm>
#include <charconv>
#include <boost/json/serialize.hpp>
#include <cfloat>
#include <cstdint>
#include <cmath>
#include <cstring>

#include "rampart/core/json.h"
#include "schema/compiled.h"

namespace rampart::schema::internal {
namespace {

// Total nesting of evaluation (subschemas applied, including $ref hops). Bounds the native
// stack whatever the schema does; legitimate schemas stay far below.
constexpr size_t kMaxEvalDepth = 1000;
// Native stack the evaluation may use, whatever the frame sizes of the build (sanitizer
// builds have much larger frames). Callers' threads need at least this much headroom.
constexpr uintptr_t kMaxStackBytes = 1 << 20;
constexpr size_t kExcerptChars = 64;

struct Annot {
  std::vector<uint8_t> marks;
  void Init(size_t n) { marks.assign(n, 0); }
  void Merge(const Annot& o) {
    for (size_t i = 0; i < marks.size() && i < o.marks.size(); ++i) marks[i] |= o.marks[i];
  }
};

struct PathSegment {
  std::string_view key;
  size_t index = 0;
  bool is_index = false;
};

uint32_t TypeBits(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: return kTypeNull;
    case bj::kind::bool_: return kTypeBoolean;
    case bj::kind::object: return kTypeObject;
    case bj::kind::array: return kTypeArray;
    case bj::kind::string: return kTypeString;
    case bj::kind::int64:
    case bj::kind::uint64: return kTypeNumber | kTypeInteger;
    case bj::kind::double_: {
      double d = v.get_double();
      return std::isfinite(d) && std::trunc(d) == d ? (kTypeNumber | kTypeInteger) : kTypeNumber;
    }
  }
  return 0;
}

std::string TypeNames(uint32_t mask) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {kTypeNull, "null"},     {kTypeBoolean, "boolean"}, {kTypeObject, "object"},
      {kTypeArray, "array"},   {kTypeNumber, "number"},   {kTypeString, "string"},
      {kTypeInteger, "integer"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((mask & bit) == 0) continue;
    if (bit == kTypeInteger && (mask & kTypeNumber) != 0) continue;
    if (!out.empty()) out += " or ";
    out += name;
  }
  return out;
}

long double AsLongDouble(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::int64: return static_cast<long double>(v.get_int64());
    case bj::kind::uint64: return static_cast<long double>(v.get_uint64());
    case bj::kind::double_: return static_cast<long double>(v.get_double());
    default: return 0;
  }
}

// Exact comparison of two JSON numbers (x87 long double holds every int64, uint64 and
// double exactly). Returns <0, 0, >0; NaN compares as "unordered" (2).
int CompareNumbers(const bj::value& a, const bj::value& b) {
  if (a.is_int64() && b.is_int64()) {
    return a.get_int64() < b.get_int64() ? -1 : a.get_int64() > b.get_int64() ? 1 : 0;
  }
  long double x = AsLongDouble(a);
  long double y = AsLongDouble(b);
  if (x < y) return -1;
  if (x > y) return 1;
  if (x == y) return 0;
  return 2;
}

bool NumbersEqual(const bj::value& a, const bj::value& b) { return CompareNumbers(a, b) == 0; }

bool JsonEqual(const bj::value& a, const bj::value& b) {
  if (a.is_number() && b.is_number()) return NumbersEqual(a, b);
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
        if (!JsonEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case bj::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& kv : x) {
        const bj::value* other = y.if_contains(kv.key());
        if (other == nullptr || !JsonEqual(kv.value(), *other)) return false;
      }
      return true;
    }
    default: return false;
  }
}

size_t JsonHash(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: return 0x9e3779b9;
    case bj::kind::bool_: return v.get_bool() ? 1 : 2;
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: {
      long double x = AsLongDouble(v);
      if (x >= -9.2e18L && x <= 9.2e18L && std::trunc(x) == x) {
        return std::hash<int64_t>()(static_cast<int64_t>(x));
      }
      return std::hash<double>()(static_cast<double>(x));
    }
    case bj::kind::string: return std::hash<std::string_view>()(v.get_string());
    case bj::kind::array: {
      size_t h = 7;
      for (const auto& e : v.get_array()) h = h * 31 + JsonHash(e);
      return h;
    }
    case bj::kind::object: {
      size_t h = 11;
      for (const auto& kv : v.get_object()) {
        h += std::hash<std::string_view>()(kv.key()) * 131 ^ JsonHash(kv.value());
      }
      return h;
    }
  }
  return 0;
}

bool DepthAtMost(const bj::value& root, size_t max_depth) {
  if (!root.is_array() && !root.is_object()) return true;
  if (max_depth >= 1 && root.is_array()) {
    // Common case, without allocating: an array of scalars.
    bool flat = true;
    for (const auto& e : root.get_array()) flat = flat && !e.is_array() && !e.is_object();
    if (flat) return true;
  }
  std::vector<std::pair<const bj::value*, size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > max_depth) return false;
    if (v->is_array()) {
      for (const auto& e : v->get_array()) {
        if (e.is_array() || e.is_object()) stack.emplace_back(&e, depth + 1);
      }
    } else if (v->is_object()) {
      for (const auto& kv : v->get_object()) {
        if (kv.value().is_array() || kv.value().is_object()) stack.emplace_back(&kv.value(), depth + 1);
      }
    }
  }
  return true;
}

bool IsMultipleOf(const bj::value& v, const bj::value& m) {
  if ((v.is_int64() || v.is_uint64()) && (m.is_int64() || m.is_uint64())) {
    uint64_t x = v.is_uint64() ? v.get_uint64()
                               : v.get_int64() < 0 ? 0 - static_cast<uint64_t>(v.get_int64())
                                                   : static_cast<uint64_t>(v.get_int64());
    uint64_t d = m.is_uint64() ? m.get_uint64() : static_cast<uint64_t>(m.get_int64());
    return d != 0 && x % d == 0;
  }
  double x = v.to_number<double>();
  double d = m.to_number<double>();
  if (!std::isfinite(x) || !(d > 0)) return false;
  double q = x / d;
  if (!std::isfinite(q)) return std::fmod(x, d) == 0;  // fmod is exact
  // Decimal literals rarely have exact binary forms (0.0075 / 0.0001 = 74.99999999999999):
  // accept a quotient within a few ulps of an integer.
  double r = std::nearbyint(q);
  return std::fabs(q - r) <= std::fabs(q) * 4 * DBL_EPSILON;
}

// RFC 4648 base64 with padding; whitespace is not allowed.
bool DecodeBase64(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;
      v[j] = value(c);
      if (v[j] < 0) return false;
    }
    uint32_t triple = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out->push_back(static_cast<char>(triple >> 16));
    if (pad < 2) out->push_back(static_cast<char>((triple >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(triple & 0xFF));
  }
  return true;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The instance value, as echoed in messages: at most 64 characters of it.
std::string Describe(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::string: {
      std::string ex = json::Excerpt(v.get_string(), kExcerptChars);
      std::string out = "\"";
      for (char c : ex) {
        unsigned char u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
          out += '\\';
          out += c;
        } else if (u < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
      }
      return out + "\"";
    }
    case bj::kind::object: return "an object";
    case bj::kind::array: return "an array";
    case bj::kind::int64: return std::to_string(v.get_int64());
    case bj::kind::uint64: return std::to_string(v.get_uint64());
    case bj::kind::double_: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof(buf), v.get_double());  // shortest round-trip
      return r.ec == std::errc() ? std::string(buf, r.ptr) : std::string("a number");
    }
    default: return json::Excerpt(bj::serialize(v), kExcerptChars);
  }
}

std::string Quote(std::string_view s) { return Describe(bj::value(bj::string_view(s.data(), s.size()))); }

// The common keywords, checked inline: true when `v` certainly passes. Anything else
// (a failure to report, an applicator, an edge case) goes through Evaluator::EvalKeyword,
// which decides again and reports. Keeps the per-keyword cost of valid instances low.
[[gnu::always_inline]] inline bool QuickPass(const Keyword& k, const bj::value& v) {
  switch (k.kind) {
    case Kw::kType:
      return (TypeBits(v) & k.types) != 0;
    case Kw::kMaximum:
      return !v.is_number() || CompareNumbers(v, *k.value) <= 0;
    case Kw::kMinimum: {
      if (!v.is_number()) return true;
      int c = CompareNumbers(v, *k.value);
      return c == 0 || c == 1;
    }
    case Kw::kExclusiveMaximum:
      return !v.is_number() || CompareNumbers(v, *k.value) < 0;
    case Kw::kExclusiveMinimum:
      return !v.is_number() || CompareNumbers(v, *k.value) == 1;
    case Kw::kMaxLength:
      return !v.is_string() || v.get_string().size() <= k.count;
    case Kw::kMinLength:
      return !v.is_string() || v.get_string().size() / 4 >= k.count;
    case Kw::kPattern:
      return !v.is_string() ||
             k.regex->Matches(std::string_view(v.get_string().data(), v.get_string().size()));
    case Kw::kFormat:
      return !v.is_string() ||
             CheckFormat(k.format, std::string_view(v.get_string().data(), v.get_string().size()));
    case Kw::kMaxItems:
      return !v.is_array() || v.get_array().size() <= k.count;
    case Kw::kMinItems:
      return !v.is_array() || v.get_array().size() >= k.count;
    case Kw::kMaxProperties:
      return !v.is_object() || v.get_object().size() <= k.count;
    case Kw::kMinProperties:
      return !v.is_object() || v.get_object().size() >= k.count;
    case Kw::kEnum:
      if (v.is_string()) {
        for (const auto& e : k.value->get_array()) {
          if (e.is_string() && e.get_string() == v.get_string()) return true;
        }
      }
      return false;
    default:
      return false;
  }
}

// A stack that lives inline up to N entries (the dynamic scope is rarely deep), so that a
// validation allocates nothing on its happy path.
template <typename T, size_t N>
class SmallStack {
 public:
  void push_back(T v) {
    if (size_ < N) {
      inline_[size_] = v;
    } else {
      overflow_.push_back(v);
    }
    ++size_;
  }
  void pop_back() {
    if (size_ > N) overflow_.pop_back();
    --size_;
  }
  T back() const { return size_ > N ? overflow_.back() : inline_[size_ - 1]; }
  size_t size() const { return size_; }
  T operator[](size_t i) const { return i < N ? inline_[i] : overflow_[i - N]; }

 private:
  T inline_[N] = {};
  std::vector<T> overflow_;
  size_t size_ = 0;
};

class Evaluator {
 public:
  Evaluator(const CompiledSchema& schema, std::vector<ValidationError>* errors)
      : schema_(schema), options_(schema.options), top_(errors), errors_(errors) {}

  // Instance path segments are only kept when errors can be reported.
  void Push(std::string_view key) {
    ++instance_depth_;
    if (top_ != nullptr) path_.push_back(PathSegment{key, 0, false});
  }
  void Push(size_t index) {
    ++instance_depth_;
    if (top_ != nullptr) path_.push_back(PathSegment{{}, index, true});
  }
  void Pop() {
    --instance_depth_;
    if (top_ != nullptr) path_.pop_back();
  }

  bool Run(const bj::value& instance) {
    stack_base_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    scope_.push_back(nullptr);
    bool ok = Eval(*schema_.root, instance, nullptr);
    return ok && !limit_hit_;
  }

 private:
  // Silences error reporting for the lifetime of the object.
  class Silence {
   public:
    explicit Silence(Evaluator* e) : e_(e), saved_(e->errors_) { e->errors_ = nullptr; }
    ~Silence() { e_->errors_ = saved_; }
    Silence(const Silence&) = delete;
    Silence& operator=(const Silence&) = delete;

   private:
    Evaluator* e_;
    std::vector<ValidationError>* saved_;
  };

  std::string InstancePath() const {
    std::string out;
    for (const auto& seg : path_) {
      out = seg.is_index ? json::PointerAppend(out, seg.index) : json::PointerAppend(out, seg.key);
    }
    return out;
  }

  void Report(const Keyword& k, std::string message) {
    if (errors_ == nullptr || limit_hit_) return;
    if (reported_ >= options_.max_errors) {
      stop_ = true;
      return;
    }
    errors_->push_back(ValidationError{InstancePath(), k.path, k.name, std::move(message)});
    if (++reported_ >= options_.max_errors) stop_ = true;
  }

  // Reports a failure of `k`; the message is only built when errors are collected, and
  // out of line, so that the recursive evaluation frames stay small.
  template <typename F>
  [[gnu::noinline]] void Fail(const Keyword& k, F&& message) {
    if (errors_ != nullptr) Report(k, message());
  }

  template <typename F>
  [[gnu::noinline]] void FailAt(const std::string& schema_path, const char* keyword, F&& message) {
    if (errors_ == nullptr || limit_hit_) return;
    if (reported_ >= options_.max_errors) {
      stop_ = true;
      return;
    }
    errors_->push_back(ValidationError{InstancePath(), schema_path, keyword, message()});
    if (++reported_ >= options_.max_errors) stop_ = true;
  }

  // A bound was hit: validation fails whatever the context (even inside `not`).
  void Limit(std::string message) {
    if (!limit_hit_ && top_ != nullptr && top_->size() < options_.max_errors) {
      top_->push_back(ValidationError{InstancePath(), "", "limit", std::move(message)});
    }
    limit_hit_ = true;
    stop_ = true;
  }

  bool Eval(const Node& n, const bj::value& v, Annot* out) {
    if (stop_) return false;
    if (n.leaf) {
      bool ok = true;
      for (const Keyword& k : n.keywords) {
        if (!QuickPass(k, v) && !EvalKeyword(k, v, out)) {
          ok = false;
          if (errors_ == nullptr || stop_) break;
        }
      }
      return ok;
    }
    if (++evaluations_ > options_.max_evaluations) {
      Limit("validation needs more than " + std::to_string(options_.max_evaluations) +
            " subschema evaluations");
      return false;
    }
    uintptr_t frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    if (depth_ >= kMaxEvalDepth || (stack_base_ > frame && stack_base_ - frame > kMaxStackBytes)) {
      Limit("schema evaluation nests deeper than " + std::to_string(kMaxEvalDepth) +
            " levels ($ref cycle?)");
      return false;
    }
    if (n.keywords.empty()) return true;
    ++depth_;
    bool pushed = false;
    if (n.resource != scope_.back()) {
      scope_.push_back(n.resource);
      pushed = true;
    }
    Annot local;
    Annot* a = out;
    bool need_local = (n.unevaluated_properties && v.is_object()) ||
                      (n.unevaluated_items && v.is_array());
    if (need_local) {
      local.Init(v.is_object() ? v.get_object().size() : v.get_array().size());
      a = &local;
    }
    bool ok = true;
    for (const Keyword& k : n.keywords) {
      if (!QuickPass(k, v) && !EvalKeyword(k, v, a)) {
        ok = false;
        if (errors_ == nullptr || stop_) break;
      }
    }
    if (ok && need_local && out != nullptr) out->Merge(local);
    if (pushed) scope_.pop_back();
    --depth_;
    return ok;
  }

  // Evaluates a child instance (member or item).
  bool EvalChild(const Node& n, const bj::value& v) {
    if (instance_depth_ >= options_.max_instance_depth) {
      Limit("instance nesting deeper than " + std::to_string(options_.max_instance_depth) +
            " levels");
      return false;
    }
    return Eval(n, v, nullptr);
  }

  bool CheckComparableDepth(const bj::value& v) {
    if (!DepthAtMost(v, options_.max_instance_depth - std::min(instance_depth_, options_.max_instance_depth))) {
      Limit("instance nesting deeper than " + std::to_string(options_.max_instance_depth) +
            " levels");
      return false;
    }
    return true;
  }

  bool EvalKeyword(const Keyword& k, const bj::value& v, Annot* a) {
    switch (k.kind) {
      case Kw::kFalse:
        Fail(k, [&] { return std::string("no value is allowed here (false schema)"); });
        return false;
      case Kw::kType: {
        if ((TypeBits(v) & k.types) != 0) return true;
        Fail(k, [&] { return std::string("expected " + TypeNames(k.types) + ", got " + std::string(json::TypeName(v))); });
        return false;
      }
      case Kw::kConst: {
        if (!CheckComparableDepth(v)) return false;
        if (JsonEqual(v, *k.value)) return true;
        Fail(k, [&] { return std::string("value " + Describe(v) + " is not the required constant"); });
        return false;
      }
      case Kw::kEnum: {
        if (!CheckComparableDepth(v)) return false;
        for (const auto& e : k.value->get_array()) {
          if (JsonEqual(v, e)) return true;
        }
        Fail(k, [&] { return std::string("value " + Describe(v) + " is not one of the allowed values"); });
        return false;
      }
      case Kw::kMultipleOf:
        if (!v.is_number() || IsMultipleOf(v, *k.value)) return true;
        Fail(k, [&] { return std::string(Describe(v) + " is not a multiple of " + Describe(*k.value)); });
        return false;
      case Kw::kMaximum:
        if (!v.is_number() || CompareNumbers(v, *k.value) <= 0) return true;
        Fail(k, [&] { return std::string(Describe(v) + " is greater than the maximum " + Describe(*k.value)); });
        return false;
      case Kw::kExclusiveMaximum:
        if (!v.is_number() || CompareNumbers(v, *k.value) < 0) return true;
        Fail(k, [&] { return std::string(Describe(v) + " is not less than " + Describe(*k.value)); });
        return false;
      case Kw::kMinimum: {
        int c = CompareNumbers(v, *k.value);
        if (!v.is_number() || c == 0 || c == 1) return true;
        Fail(k, [&] { return std::string(Describe(v) + " is less than the minimum " + Describe(*k.value)); });
        return false;
      }
      case Kw::kExclusiveMinimum:
        if (!v.is_number() || CompareNumbers(v, *k.value) == 1) return true;
        Fail(k, [&] { return std::string(Describe(v) + " is not greater than " + Describe(*k.value)); });
        return false;
      case Kw::kMaxLength:
        // A code point takes 1 to 4 bytes: most strings are decided by their byte size.
        if (!v.is_string() || v.get_string().size() <= k.count ||
            CodePoints(v.get_string()) <= k.count) {
          return true;
        }
        Fail(k, [&] { return std::string("string is longer than " + std::to_string(k.count) + " characters"); });
        return false;
      case Kw::kMinLength:
        if (!v.is_string() || (v.get_string().size() / 4 >= k.count) ||
            (v.get_string().size() >= k.count && CodePoints(v.get_string()) >= k.count)) {
          return true;
        }
        Fail(k, [&] { return std::string("string is shorter than " + std::to_string(k.count) + " characters"); });
        return false;
      case Kw::kPattern: {
        if (!v.is_string()) return true;
        const auto& s = v.get_string();
        if (k.regex->Matches(std::string_view(s.data(), s.size()))) return true;
        Fail(k, [&] { return std::string(Describe(v) + " does not match the pattern " + Quote(k.source)); });
        return false;
      }
      case Kw::kFormat: {
        if (!v.is_string()) return true;
        const auto& s = v.get_string();
        if (CheckFormat(k.format, std::string_view(s.data(), s.size()))) return true;
        Fail(k, [&] { return std::string(Describe(v) + " is not a valid " + k.source); });
        return false;
      }
      case Kw::kContent: {
        if (!v.is_string()) return true;
        std::string_view text(v.get_string().data(), v.get_string().size());
        std::string decoded;
        if (k.flag) {
          if (!DecodeBase64(text, &decoded)) {
            Fail(k, [&] { return std::string(Describe(v) + " is not valid base64"); });
            return false;
          }
          text = decoded;
        }
        if (!k.source.empty() && !json::Parse(text).ok()) {
          Fail(k, [&] { return std::string("content is not a valid JSON document"); });
          return false;
        }
        return true;
      }
      case Kw::kMaxItems:
        if (!v.is_array() || v.get_array().size() <= k.count) return true;
        Fail(k, [&] { return std::string("array has more than " + std::to_string(k.count) + " items"); });
        return false;
      case Kw::kMinItems:
        if (!v.is_array() || v.get_array().size() >= k.count) return true;
        Fail(k, [&] { return std::string("array has fewer than " + std::to_string(k.count) + " items"); });
        return false;
      case Kw::kUniqueItems:
        return EvalUniqueItems(k, v);
      case Kw::kMaxProperties:
        if (!v.is_object() || v.get_object().size() <= k.count) return true;
        Fail(k, [&] { return std::string("object has more than " + std::to_string(k.count) + " properties"); });
        return false;
      case Kw::kMinProperties:
        if (!v.is_object() || v.get_object().size() >= k.count) return true;
        Fail(k, [&] { return std::string("object has fewer than " + std::to_string(k.count) + " properties"); });
        return false;
      case Kw::kRequired: {
        if (!v.is_object()) return true;
        const auto& o = v.get_object();
        bool ok = true;
        for (const auto& name : k.names) {
          if (o.contains(name)) continue;
          ok = false;
          Fail(k, [&] { return std::string("missing required property " + Quote(name)); });
          if (errors_ == nullptr || stop_) break;
        }
        return ok;
      }
      case Kw::kDependentRequired: {
        if (!v.is_object()) return true;
        const auto& o = v.get_object();
        bool ok = true;
        for (const auto& dep : k.dependent_required) {
          if (!o.contains(dep.property)) continue;
          for (const auto& name : dep.required) {
            if (o.contains(name)) continue;
            ok = false;
            Fail(k, [&] { return std::string("property " + Quote(name) + " is required when " + Quote(dep.property) +
                          " is present"); });
            if (errors_ == nullptr || stop_) return false;
          }
        }
        return ok;
      }
      case Kw::kObject:
        return EvalObject(k, v, a);
      case Kw::kPropertyNames: {
        if (!v.is_object()) return true;
        bool ok = true;
        for (const auto& kv : v.get_object()) {
          bj::value name(kv.key());
          if (!Eval(*k.child, name, nullptr)) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
      case Kw::kDependentSchemas: {
        if (!v.is_object()) return true;
        const auto& o = v.get_object();
        bool ok = true;
        for (const auto& dep : k.dependent_schemas) {
          if (!o.contains(dep.property)) continue;
          if (!Eval(*dep.node, v, a)) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
      case Kw::kPrefixItems: {
        if (!v.is_array()) return true;
        const auto& arr = v.get_array();
        bool ok = true;
        size_t n = std::min(arr.size(), k.children.size());
        for (size_t i = 0; i < n; ++i) {
          Push(i);
          bool item_ok = EvalChild(*k.children[i], arr[i]);
          Pop();
          if (a != nullptr) a->marks[i] = 1;
          if (!item_ok) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
      case Kw::kItems: {
        if (!v.is_array()) return true;
        const auto& arr = v.get_array();
        bool ok = true;
        for (size_t i = k.count; i < arr.size(); ++i) {
          if (a != nullptr) a->marks[i] = 1;
          if (k.child->always_false) {
            Push(i);
            Fail(k, [&] { return std::string("array item " + std::to_string(i) + " is not allowed"); });
            Pop();
            ok = false;
            if (errors_ == nullptr || stop_) break;
            continue;
          }
          Push(i);
          bool item_ok = EvalChild(*k.child, arr[i]);
          Pop();
          if (!item_ok) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
      case Kw::kContains:
        return EvalContains(k, v, a);
      case Kw::kRef:
        return Eval(*k.child, v, a);
      case Kw::kDynamicRef: {
        const Node* target = k.child;
        if (!k.source.empty()) {
          for (size_t i = 0; i < scope_.size(); ++i) {
            const Resource* r = scope_[i];
            if (r == nullptr) continue;
            auto it = r->dynamic_anchors.find(k.source);
            if (it != r->dynamic_anchors.end()) {
              target = it->second;
              break;
            }
          }
        }
        return Eval(*target, v, a);
      }
      case Kw::kAllOf: {
        bool ok = true;
        for (const Node* c : k.children) {
          if (!Eval(*c, v, a)) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
      case Kw::kAnyOf: {
        bool any = false;
        {
          Silence silence(this);
          for (const Node* c : k.children) {
            if (a == nullptr) {
              if (Eval(*c, v, nullptr)) {
                any = true;
                break;
              }
            } else {
              Annot branch;
              branch.Init(a->marks.size());
              if (Eval(*c, v, &branch)) {
                any = true;
                a->Merge(branch);
              }
            }
            if (stop_) break;
          }
        }
        if (any) return true;
        Fail(k, [&] { return std::string("value does not match any of the anyOf schemas"); });
        return false;
      }
      case Kw::kOneOf: {
        size_t matches = 0;
        size_t first = 0;
        size_t second = 0;
        {
          Silence silence(this);
          Annot matched;
          for (size_t i = 0; i < k.children.size(); ++i) {
            Annot branch;
            if (a != nullptr) branch.Init(a->marks.size());
            if (Eval(*k.children[i], v, a != nullptr ? &branch : nullptr)) {
              if (matches == 0) {
                first = i;
                matched = std::move(branch);
              } else if (matches == 1) {
                second = i;
              }
              ++matches;
              if (matches > 1 && a == nullptr) break;
            }
            if (stop_) break;
          }
          if (matches == 1 && a != nullptr) a->Merge(matched);
        }
        if (matches == 1) return true;
        if (matches == 0) {
          Fail(k, [&] { return std::string("value does not match any of the oneOf schemas"); });
        } else {
          Fail(k, [&] { return std::string("value matches more than one oneOf schema (" + std::to_string(first) + " and " +
                        std::to_string(second) + ")"); });
        }
        return false;
      }
      case Kw::kNot: {
        bool matched = false;
        {
          Silence silence(this);
          matched = Eval(*k.child, v, nullptr);
        }
        if (!matched) return true;
        Fail(k, [&] { return std::string("value must not match the schema in not"); });
        return false;
      }
      case Kw::kIf: {
        bool cond = false;
        Annot branch;
        {
          Silence silence(this);
          if (a != nullptr) branch.Init(a->marks.size());
          cond = Eval(*k.child, v, a != nullptr ? &branch : nullptr);
        }
        if (stop_) return false;
        if (cond && a != nullptr) a->Merge(branch);
        const Node* next = cond ? k.then_node : k.else_node;
        if (next == nullptr) return true;
        return Eval(*next, v, a);
      }
      case Kw::kUnevaluatedItems: {
        if (!v.is_array() || a == nullptr) return true;
        const auto& arr = v.get_array();
        bool ok = true;
        for (size_t i = 0; i < arr.size(); ++i) {
          if (a->marks[i]) continue;
          Push(i);
          bool item_ok;
          if (k.child->always_false) {
            Fail(k, [&] { return std::string("unevaluated array item " + std::to_string(i) + " is not allowed"); });
            item_ok = false;
          } else {
            item_ok = EvalChild(*k.child, arr[i]);
          }
          Pop();
          a->marks[i] = 1;
          if (!item_ok) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
      case Kw::kUnevaluatedProperties: {
        if (!v.is_object() || a == nullptr) return true;
        const auto& o = v.get_object();
        bool ok = true;
        size_t i = 0;
        for (auto it = o.begin(); it != o.end(); ++it, ++i) {
          if (a->marks[i]) continue;
          Push(std::string_view(it->key().data(), it->key().size()));
          bool member_ok;
          if (k.child->always_false) {
            Fail(k, [&] { return std::string("unevaluated property " + Quote(it->key()) + " is not allowed"); });
            member_ok = false;
          } else {
            member_ok = EvalChild(*k.child, it->value());
          }
          Pop();
          a->marks[i] = 1;
          if (!member_ok) {
            ok = false;
            if (errors_ == nullptr || stop_) break;
          }
        }
        return ok;
      }
    }
    return true;
  }

  bool EvalObject(const Keyword& k, const bj::value& v, Annot* a) {
    if (!v.is_object()) return true;
    const ObjectGroup& g = *k.object;
    const auto& o = v.get_object();
    bool ok = true;
    size_t i = 0;
    size_t cursor = 0;  // instances usually list properties in schema order
    uint64_t seen = 0;  // properties present, when `required` is folded in (<= 64 properties)
    for (auto it = o.begin(); it != o.end(); ++it, ++i) {
      std::string_view key(it->key().data(), it->key().size());
      bool matched = false;
      const Node* prop = nullptr;
      if (cursor < g.properties.size() && g.properties[cursor].name == key) {
        seen |= uint64_t{1} << (cursor & 63);
        prop = g.properties[cursor++].node;
      } else if (!g.properties.empty()) {
        auto found = g.index.find(key);
        if (found != g.index.end()) {
          prop = g.properties[found->second].node;
          cursor = found->second + 1;
          seen |= uint64_t{1} << (found->second & 63);
        }
      }
      if (prop != nullptr) {
        matched = true;
        Push(key);
        bool member_ok = EvalChild(*prop, it->value());
        Pop();
        if (!member_ok) {
          ok = false;
          if (errors_ == nullptr || stop_) return false;
        }
      }
      for (const PatternEntry& p : g.patterns) {
        if (!p.regex->Matches(key)) continue;
        matched = true;
        Push(key);
        bool member_ok = EvalChild(*p.node, it->value());
        Pop();
        if (!member_ok) {
          ok = false;
          if (errors_ == nullptr || stop_) return false;
        }
      }
      if (!matched && g.additional != nullptr) {
        matched = true;
        Push(key);
        bool member_ok;
        if (g.additional->always_false) {
          FailAt(g.additional_path, "additionalProperties", [&] { return "property " + Quote(key) + " is not allowed"; });
          member_ok = false;
        } else {
          member_ok = EvalChild(*g.additional, it->value());
        }
        Pop();
        if (!member_ok) {
          ok = false;
          if (errors_ == nullptr || stop_) return false;
        }
      }
      if (matched && a != nullptr) a->marks[i] = 1;
    }
    if (!g.required.empty() && (seen & g.required_mask) != g.required_mask) {
      for (size_t r = 0; r < g.required.size(); ++r) {
        if ((seen >> g.required[r]) & 1) continue;
        ok = false;
        FailAt(g.required_path, "required", [&] {
          return "missing required property " + Quote(g.properties[g.required[r]].name);
        });
        if (errors_ == nullptr || stop_) break;
      }
    }
    return ok;
  }

  bool EvalContains(const Keyword& k, const bj::value& v, Annot* a) {
    if (!v.is_array()) return true;
    const auto& arr = v.get_array();
    uint64_t min = k.count;
    bool has_max = k.flag;
    uint64_t max = k.count2;
    uint64_t matches = 0;
    {
      Silence silence(this);
      for (size_t i = 0; i < arr.size(); ++i) {
        Push(i);
        bool m = EvalChild(*k.child, arr[i]);
        Pop();
        if (stop_) return false;
        if (m) {
          ++matches;
          if (a != nullptr) a->marks[i] = 1;
          if (a == nullptr && !has_max && matches >= min) break;
          if (a == nullptr && has_max && matches > max && matches >= min) break;
        }
      }
    }
    if (matches < min) {
      Fail(k, [&] { return std::string(min == 1 ? std::string("array does not contain a matching item")
                         : "array contains fewer than " + std::to_string(min) + " matching items"); });
      return false;
    }
    if (has_max && matches > max) {
      Fail(k, [&] { return std::string("array contains more than " + std::to_string(max) + " matching items"); });
      return false;
    }
    return true;
  }

  bool EvalUniqueItems(const Keyword& k, const bj::value& v) {
    if (!v.is_array()) return true;
    if (!CheckComparableDepth(v)) return false;
    const auto& arr = v.get_array();
    size_t n = arr.size();
    auto duplicate = [&](size_t i, size_t j) {
      Fail(k, [&] { return std::string("array items " + std::to_string(i) + " and " + std::to_string(j) + " are equal"); });
      return false;
    };
    if (n <= 16) {
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = i + 1; j < n; ++j) {
          if (JsonEqual(arr[i], arr[j])) return duplicate(i, j);
        }
      }
      return true;
    }
    std::vector<std::pair<size_t, size_t>> hashed;  // (hash, index)
    hashed.reserve(n);
    for (size_t i = 0; i < n; ++i) hashed.emplace_back(JsonHash(arr[i]), i);
    std::sort(hashed.begin(), hashed.end());
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && hashed[j].first == hashed[i].first) ++j;
      // Equal hashes are rare: compare the run pairwise.
      for (size_t x = i; x < j; ++x) {
        for (size_t y = x + 1; y < j; ++y) {
          if (JsonEqual(arr[hashed[x].second], arr[hashed[y].second])) {
            return duplicate(std::min(hashed[x].second, hashed[y].second),
                             std::max(hashed[x].second, hashed[y].second));
          }
        }
      }
      i = j;
    }
    return true;
  }

  const CompiledSchema& schema_;
  const Options& options_;
  std::vector<ValidationError>* top_;
  std::vector<ValidationError>* errors_;
  size_t reported_ = 0;
  bool stop_ = false;
  bool limit_hit_ = false;
  size_t depth_ = 0;
  size_t evaluations_ = 0;
  uintptr_t stack_base_ = 0;
  size_t instance_depth_ = 0;
  std::vector<PathSegment> path_;
  SmallStack<const Resource*, 32> scope_;
};

}  // namespace

bool Evaluate(const CompiledSchema& schema, const bj::value& instance,
              std::vector<ValidationError>* errors) {
  Evaluator e(schema, errors);
  return e.Run(instance);
}

}  // namespace rampart::schema::internal
