#include "expr/evaluator.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstring>
#include <new>

#include "expr/filters.h"
#include "expr/lexer.h"
#include "expr/value_ops.h"
#include "rampart/core/json.h"

namespace rampart::expr::internal {

namespace bj = boost::json;

const bj::value kNullValue;
const bj::value kTrueValue(true);
const bj::value kFalseValue(false);

bool StepLimitExceeded(Ctx& c, Position pos) {
  return Fail(c, pos, ErrorCode::kExpressionLimit,
              "evaluation exceeds " + std::to_string(c.limits.max_steps) + " steps");
}

bool Fail(Ctx& c, Position pos, ErrorCode code, std::string_view message) {
  c.error = MakeError(code, PositionMessage(pos, message));
  return false;
}

bool SizeLimitExceeded(Ctx& c, Position pos) {
  return Fail(c, pos, ErrorCode::kExpressionLimit,
              "value larger than " + std::to_string(c.limits.max_value_bytes) + " bytes");
}

bool CheckSizeSlow(Ctx& c, Position pos, const bj::value& v) {
  size_t cap = c.limits.max_value_bytes;
  return CheckPlannedSize(c, pos, json::SerializedSizeAtMost(v, cap));
}

namespace {

constexpr size_t kPrefetchNodes = 8;

bool Eval(Ctx& c, uint32_t id, Val& out);
bool EvalStaticPath(Ctx& c, const Node& n, Val& out);

// Evaluates a child node; constants and plain paths skip the dispatcher.
inline bool EvalKid(Ctx& c, uint32_t id, Val& out) {
  const Node& n = c.nodes[id];
  if (n.kind == NodeKind::kConst) {
    if (!Step(c, n.pos)) return false;
    out.Ref(&c.constants[n.constant], false);
    return true;
  }
  if (n.static_path && c.trace == nullptr) {
    if (!Step(c, n.pos)) return false;
    return EvalStaticPath(c, n, out);
  }
  return Eval(c, id, out);
}

inline ScopeEntry Root(Ctx& c, int32_t slot) {
  if (static_cast<size_t>(slot) < Ctx::kRootCache) {
    uint32_t bit = 1u << slot;
    if ((c.resolved & bit) == 0) {
      ScopeEntry e = c.scope.Lookup(c.prog.roots[static_cast<size_t>(slot)]);
      c.roots[slot] = {e.value, e.tainted};
      c.resolved |= bit;
    }
    return ScopeEntry{c.roots[slot].value, c.roots[slot].tainted};
  }
  return c.scope.Lookup(c.prog.roots[static_cast<size_t>(slot)]);
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (i > 0 && ch >= '0' && ch <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendTraceName(std::string& key, std::string_view name) {
  if (IsIdentifier(name)) {
    key += '.';
    key += name;
  } else {
    key += '[';
    AppendJsonString(key, name);
    key += ']';
  }
}

void Record(Ctx& c, const std::string& key, const bj::value& v, bool tainted) {
  if (tainted) {
    c.trace->values[key] = "***REDACTED***";
  } else {
    c.trace->values[key] = v;
  }
}

const char* OpText(Op op) {
  switch (op) {
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kMod: return "%";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kIn: return "in";
    case Op::kNotIn: return "not in";
  }
  return "?";
}

std::string TypeMismatch(std::string_view what, const bj::value& a, const bj::value& b) {
  std::string m(what);
  m += " (";
  m += json::TypeName(a);
  m += " and ";
  m += json::TypeName(b);
  m += ")";
  return m;
}

// Looks up one path segment in `cur`. `key` is the evaluated dynamic key, if any.
bool Member(Ctx& c, const PathSegment& seg, const bj::value* key, const bj::value*& cur) {
  if (cur->is_null()) return true;  // member access on null is null
  std::string_view name;
  int64_t index = 0;
  bool by_name = false;
  if (seg.kind == PathSegment::Kind::kName) {
    name = seg.name;
    by_name = true;
  } else if (seg.kind == PathSegment::Kind::kIndex) {
    index = seg.index;
  } else if (key->is_string()) {
    name = key->get_string();
    by_name = true;
  } else if (IsNumber(*key)) {
    Num n = ToNum(*key);
    if (n.is_int) {
      index = n.i;
    } else if (!DoubleToInt64(n.d, index)) {
      if (std::trunc(n.d) != n.d) {
        return Fail(c, seg.pos, ErrorCode::kTypeError, "array index must be an integer");
      }
      // An integer beyond int64 (1e19, a uint64 from the input) is an out-of-range index:
      // null on an array, like any other index past the end (spec/expressions.md).
      if (!cur->is_array()) {
        return Fail(c, seg.pos, ErrorCode::kTypeError,
                    "cannot index " + std::string(json::TypeName(*cur)) + " with a number");
      }
      cur = &NullValue();
      return true;
    }
  } else {
    return Fail(c, seg.pos, ErrorCode::kTypeError,
                "index must be a string or an integer, not " + std::string(json::TypeName(*key)));
  }
  if (by_name) {
    if (!cur->is_object()) {
      // A dynamic key is data (possibly a secret): only a literal name is echoed.
      std::string what = seg.kind == PathSegment::Kind::kName
                             ? "member '" + json::Excerpt(name, 32) + "'"
                             : std::string("a member");
      return Fail(c, seg.pos, ErrorCode::kTypeError,
                  "cannot read " + what + " of " + std::string(json::TypeName(*cur)));
    }
    const bj::value* found = FindMember(cur->get_object(), name);
    cur = found != nullptr ? found : &kNullValue;
    return true;
  }
  if (!cur->is_array()) {
    return Fail(c, seg.pos, ErrorCode::kTypeError,
                "cannot index " + std::string(json::TypeName(*cur)) + " with a number");
  }
  const auto& arr = cur->get_array();
  cur = (index >= 0 && static_cast<uint64_t>(index) < arr.size()) ? &arr[static_cast<size_t>(index)]
                                                                  : &NullValue();
  return true;
}

// A path of literal names and indices rooted in the scope, without a trace: walks
// pointers only.
bool EvalStaticPath(Ctx& c, const Node& n, Val& out) {
  ScopeEntry e = Root(c, n.root_slot);
  const bj::value* cur = e.value != nullptr ? e.value : &kNullValue;
  for (const auto& seg : n.segments) {
    if (!Step(c, seg.pos)) return false;
    if (seg.kind == PathSegment::Kind::kName && cur->is_object()) {
      const bj::value* next = FindMember(cur->get_object(), seg.name);
      cur = next != nullptr ? next : &kNullValue;
    } else if (!Member(c, seg, nullptr, cur)) {
      return false;
    }
  }
  out.Ref(cur, e.tainted);
  return true;
}

bool EvalPath(Ctx& c, const Node& n, Val& out) {
  if (n.static_path && c.trace == nullptr) return EvalStaticPath(c, n, out);
  const bj::value* cur = nullptr;
  bool tainted = false;
  bool owned = false;
  Val base;
  if (n.root_slot >= 0) {
    ScopeEntry e = Root(c, n.root_slot);
    cur = e.value != nullptr ? e.value : &NullValue();
    tainted = e.tainted;
  } else {
    if (!EvalKid(c, n.kids[0], base)) return false;
    cur = &base.get();
    tainted = base.tainted;
    owned = base.owned();
  }
  const bool tracing = c.trace != nullptr && n.root_slot >= 0;
  std::string key_text;
  if (tracing) key_text = c.prog.roots[static_cast<size_t>(n.root_slot)];
  for (const auto& seg : n.segments) {
    if (!Step(c, seg.pos)) return false;
    Val key;
    if (seg.kind == PathSegment::Kind::kDynamic) {
      if (!EvalKid(c, seg.expr, key)) return false;
      tainted = tainted || key.tainted;
    }
    if (tracing) {
      if (seg.kind == PathSegment::Kind::kName) {
        AppendTraceName(key_text, seg.name);
      } else if (seg.kind == PathSegment::Kind::kIndex) {
        key_text += '[' + std::to_string(seg.index) + ']';
      } else if (key.tainted) {
        key_text += "[***REDACTED***]";
      } else if (key.get().is_string()) {
        AppendTraceName(key_text, key.get().get_string());
      } else {
        key_text += '[';
        AppendJson(key_text, key.get());
        key_text += ']';
      }
    }
    if (!Member(c, seg, &key.get(), cur)) return false;
  }
  if (tracing) Record(c, key_text, *cur, tainted);
  if (owned && cur != &NullValue()) {
    // `cur` points into `base.own`, which dies here: move the selected part out.
    bj::value part = std::move(*const_cast<bj::value*>(cur));
    out.Set(std::move(part), tainted);
  } else {
    out.Ref(cur, tainted);
  }
  return true;
}

bool ZeroNum(const Num& n) { return n.is_int ? n.i == 0 : n.d == 0; }

inline bool SetFinite(Ctx& c, Position pos, double d, bool t, Val& out) {
  if (!std::isfinite(d)) {
    return Fail(c, pos, ErrorCode::kExpressionLimit, "numeric result out of range");
  }
  out.SetDouble(d, t);
  return true;
}

bool ArithNumbers(Ctx& c, Position pos, Op op, const Num& x, const Num& y, bool t, Val& out) {
  const bool ints = x.is_int && y.is_int;
  int64_t r = 0;
  switch (op) {
    case Op::kAdd:
      if (ints && !__builtin_add_overflow(x.i, y.i, &r)) {
        out.SetInt(r, t);
        return true;
      }
      return SetFinite(c, pos, x.AsDouble() + y.AsDouble(), t, out);
    case Op::kSub:
      if (ints && !__builtin_sub_overflow(x.i, y.i, &r)) {
        out.SetInt(r, t);
        return true;
      }
      return SetFinite(c, pos, x.AsDouble() - y.AsDouble(), t, out);
    case Op::kMul:
      if (ints && !__builtin_mul_overflow(x.i, y.i, &r)) {
        out.SetInt(r, t);
        return true;
      }
      return SetFinite(c, pos, x.AsDouble() * y.AsDouble(), t, out);
    case Op::kDiv:
      if (ZeroNum(y)) return Fail(c, pos, ErrorCode::kDivisionByZero, "division by zero");
      if (ints && !(x.i == INT64_MIN && y.i == -1) && x.i % y.i == 0) {
        out.SetInt(x.i / y.i, t);
        return true;
      }
      return SetFinite(c, pos, x.AsDouble() / y.AsDouble(), t, out);
    case Op::kMod:
      if (ZeroNum(y)) return Fail(c, pos, ErrorCode::kDivisionByZero, "modulo by zero");
      if (ints) {
        out.SetInt(y.i == -1 ? 0 : x.i % y.i, t);
        return true;
      }
      return SetFinite(c, pos, std::fmod(x.AsDouble(), y.AsDouble()), t, out);
    default: break;
  }
  return Fail(c, pos, ErrorCode::kInternal, "bad arithmetic operator");
}

// acc = acc <op> rhs.
bool Arith(Ctx& c, Position pos, Op op, Val& acc, Val& rhs) {
  const bj::value& a = acc.get();
  const bj::value& b = rhs.get();
  const bool t = acc.tainted || rhs.tainted;
  if ((a.is_double() || b.is_double()) && (a.is_double() || a.is_int64()) &&
      (b.is_double() || b.is_int64()) && op != Op::kMod && op != Op::kDiv) {
    double x = a.is_double() ? a.get_double() : static_cast<double>(a.get_int64());
    double y = b.is_double() ? b.get_double() : static_cast<double>(b.get_int64());
    double r = op == Op::kAdd ? x + y : op == Op::kSub ? x - y : x * y;
    return SetFinite(c, pos, r, t, acc);
  }
  if (IsNumber(a) && IsNumber(b)) return ArithNumbers(c, pos, op, ToNum(a), ToNum(b), t, acc);
  if (op != Op::kAdd) {
    return Fail(c, pos, ErrorCode::kTypeError,
                TypeMismatch(std::string("'") + OpText(op) + "' needs two numbers", a, b));
  }
  const size_t cap = c.limits.max_value_bytes;
  if (a.is_string() && b.is_string()) {
    const auto& sb = b.get_string();
    size_t len = a.get_string().size() + sb.size();
    if (!CheckPlannedSize(c, pos, len + 2)) return false;
    if (!StepBytes(c, pos, len)) return false;
    if (acc.owned()) {
      acc.mut().get_string().append(sb);
    } else {
      bj::string s;
      s.reserve(len);
      s.append(a.get_string());
      s.append(sb);
      acc.Set(bj::value(std::move(s)), t);
    }
    acc.tainted = t;
    return CheckSize(c, pos, acc.get());
  }
  if (a.is_array() && b.is_array()) {
    const auto& ab = b.get_array();
    size_t sa = json::SerializedSizeAtMost(a, cap);
    size_t sbytes = json::SerializedSizeAtMost(b, cap);
    if (!CheckPlannedSize(c, pos, sa + sbytes - 1)) return false;
    if (!Step(c, pos, a.get_array().size() + ab.size())) return false;
    if (!acc.owned()) acc.Set(bj::value(a.get_array()), t);
    auto& out = acc.mut().get_array();
    out.reserve(out.size() + ab.size());
    if (rhs.owned()) {
      for (auto& e : rhs.mut().get_array()) out.push_back(std::move(e));
    } else {
      for (const auto& e : ab) out.push_back(e);
    }
    acc.tainted = t;
    return true;
  }
  return Fail(c, pos, ErrorCode::kTypeError,
              TypeMismatch("'+' adds numbers and concatenates strings or arrays", a, b));
}

bool EvalNeg(Ctx& c, const Node& n, Val& out) {
  Val v;
  if (!EvalKid(c, n.kids[0], v)) return false;
  const bj::value& x = v.get();
  if (!IsNumber(x)) {
    return Fail(c, n.pos, ErrorCode::kTypeError,
                "unary '-' needs a number, not " + std::string(json::TypeName(x)));
  }
  Num num = ToNum(x);
  if (num.is_int && num.i != INT64_MIN) {
    out.SetInt(-num.i, v.tainted);
  } else {
    out.SetDouble(-num.AsDouble(), v.tainted);
  }
  return true;
}

bool EvalCompare(Ctx& c, const Node& n, Val& out) {
  Val a, b;
  if (!EvalKid(c, n.kids[0], a) || !EvalKid(c, n.kids[1], b)) return false;
  const bool t = a.tainted || b.tainted;
  const bj::value& x = a.get();
  const bj::value& y = b.get();
  bool result = false;
  switch (n.op) {
    case Op::kEq:
    case Op::kNe:
      if (x.is_string() && y.is_string()) {
        const auto& xs = x.get_string();
        const auto& ys = y.get_string();
        result = xs.size() == ys.size() && SameBytes(xs.data(), ys.data(), xs.size());
      } else if (x.is_double() && y.is_double()) {
        result = x.get_double() == y.get_double();
      } else if (x.is_int64() && y.is_int64()) {
        result = x.get_int64() == y.get_int64();
      } else if (!Equal(c, n.pos, x, y, result)) {
        return false;
      }
      if (n.op == Op::kNe) result = !result;
      break;
    case Op::kIn:
    case Op::kNotIn:
      if (!Contains(c, n.pos, b.get(), a.get(), result)) return false;
      if (n.op == Op::kNotIn) result = !result;
      break;
    default: {
      int cmp = 0;
      if ((x.is_double() || x.is_int64()) && (y.is_double() || y.is_int64()) &&
          !(x.is_int64() && y.is_int64())) {
        // Mixed or double operands: exact enough below 2^53, where ints live.
        double dx = x.is_double() ? x.get_double() : static_cast<double>(x.get_int64());
        double dy = y.is_double() ? y.get_double() : static_cast<double>(y.get_int64());
        if (dx < 9007199254740992.0 && dx > -9007199254740992.0 && dy < 9007199254740992.0 &&
            dy > -9007199254740992.0) {
          cmp = dx < dy ? -1 : (dx > dy ? 1 : 0);
        } else {
          Compare3(x, y, cmp);  // numbers always compare
        }
      } else if (!Compare3(x, y, cmp)) {
        return Fail(c, n.pos, ErrorCode::kTypeError,
                    TypeMismatch(std::string("'") + OpText(n.op) +
                                     "' compares two numbers or two strings",
                                 x, y));
      }
      switch (n.op) {
        case Op::kLt: result = cmp < 0; break;
        case Op::kLe: result = cmp <= 0; break;
        case Op::kGt: result = cmp > 0; break;
        default: result = cmp >= 0; break;
      }
    }
  }
  out.SetBool(result, t);
  return true;
}

bool EvalArray(Ctx& c, const Node& n, Val& out) {
  const size_t cap = c.limits.max_value_bytes;
  bj::array arr;
  arr.reserve(n.kids.size());
  size_t size = 1;
  bool t = false;
  for (uint32_t kid : n.kids) {
    Val v;
    if (!EvalKid(c, kid, v)) return false;
    t = t || v.tainted;
    size += json::SerializedSizeAtMost(v.get(), cap) + 1;
    if (!CheckPlannedSize(c, n.pos, size)) return false;
    arr.push_back(std::move(v).Take());
  }
  out.Set(bj::value(std::move(arr)), t);
  return true;
}

bool EvalObject(Ctx& c, const Node& n, Val& out) {
  const size_t cap = c.limits.max_value_bytes;
  bj::object obj;
  obj.reserve(n.kids.size());
  size_t size = 1;
  bool t = false;
  for (size_t i = 0; i < n.kids.size(); ++i) {
    Val v;
    if (!EvalKid(c, n.kids[i], v)) return false;
    t = t || v.tainted;
    size += json::SerializedSizeAtMost(v.get(), cap) + n.keys[i].size() * 6 + 4;
    if (!CheckPlannedSize(c, n.pos, size)) return false;
    obj.emplace(n.keys[i], std::move(v).Take());
  }
  out.Set(bj::value(std::move(obj)), t);
  return true;
}

bool EvalFilters(Ctx& c, const Node& n, Val& out) {
  // Two buffers used in turn as input and output: no value is moved between filters.
  Val buf[2];
  int cur = 0;
  if (!EvalKid(c, n.kids[0], buf[0])) return false;
  for (const auto& call : n.filters) {
    if (!Step(c, call.pos)) return false;
    Val& in = buf[cur];
    Val& next = buf[1 - cur];
    if (call.id == FilterId::kDefault) {
      // The fallback is evaluated only when needed; the choice depends on the input, so
      // the input's taint carries over either way.
      if (in.get().is_null()) {
        next.Clear();
        if (!EvalKid(c, n.kids[call.first_arg], next)) return false;
        next.tainted = next.tainted || in.tainted;
        cur = 1 - cur;
      }
      continue;
    }
    next.Clear();
    if (call.nargs == 0) {
      if (!ApplyFilter(c, call, in, nullptr, next)) return false;
    } else {
      Val args[2];
      for (uint32_t i = 0; i < call.nargs; ++i) {
        if (!EvalKid(c, n.kids[call.first_arg + i], args[i])) return false;
      }
      if (!ApplyFilter(c, call, in, args, next)) return false;
    }
    cur = 1 - cur;
  }
  out = std::move(buf[cur]);
  return true;
}

bool EvalNot(Ctx& c, const Node& n, Val& out) {
  Val v;
  if (!EvalKid(c, n.kids[0], v)) return false;
  out.SetBool(!IsTruthy(v.get()), v.tainted);
  return true;
}

bool EvalArith(Ctx& c, const Node& n, Val& out) {
  if (!EvalKid(c, n.kids[0], out)) return false;
  for (size_t i = 1; i < n.kids.size(); ++i) {
    Val rhs;
    if (!EvalKid(c, n.kids[i], rhs)) return false;
    if (!Arith(c, n.op_pos[i - 1], n.ops[i - 1], out, rhs)) return false;
  }
  return true;
}

bool EvalLogic(Ctx& c, const Node& n, Val& out) {
  const bool is_and = n.kind == NodeKind::kAnd;
  bool t = false;
  for (uint32_t kid : n.kids) {
    Val v;
    if (!EvalKid(c, kid, v)) return false;
    t = t || v.tainted;
    if (IsTruthy(v.get()) != is_and) {
      out.SetBool(!is_and, t);
      return true;
    }
  }
  out.SetBool(is_and, t);
  return true;
}

bool EvalCond(Ctx& c, const Node& n, Val& out) {
  Val cond;
  if (!EvalKid(c, n.kids[0], cond)) return false;
  if (!EvalKid(c, n.kids[IsTruthy(cond.get()) ? 1 : 2], out)) return false;
  out.tainted = out.tainted || cond.tainted;
  return true;
}

// A small dispatcher: every case is a tail call, so the frame stays tiny.
bool Eval(Ctx& c, uint32_t id, Val& out) {
  const Node& n = c.nodes[id];
  if (!Step(c, n.pos)) return false;
  switch (n.kind) {
    case NodeKind::kConst:
      out.Ref(&c.constants[n.constant], false);
      return true;
    case NodeKind::kPath: return EvalPath(c, n, out);
    case NodeKind::kArray: return EvalArray(c, n, out);
    case NodeKind::kObject: return EvalObject(c, n, out);
    case NodeKind::kNeg: return EvalNeg(c, n, out);
    case NodeKind::kNot: return EvalNot(c, n, out);
    case NodeKind::kArith: return EvalArith(c, n, out);
    case NodeKind::kCompare: return EvalCompare(c, n, out);
    case NodeKind::kAnd:
    case NodeKind::kOr: return EvalLogic(c, n, out);
    case NodeKind::kCond: return EvalCond(c, n, out);
    case NodeKind::kFilters: return EvalFilters(c, n, out);
  }
  return Fail(c, n.pos, ErrorCode::kInternal, "bad node");
}

// The program's value, within the value bound.
[[gnu::always_inline]] inline bool EvalRoot(Ctx& c, Val& v) {
  return EvalKid(c, c.prog.root, v) && CheckSize(c, c.nodes[c.prog.root].pos, v.get());
}

}  // namespace

bool Equal(Ctx& c, Position pos, const bj::value& a, const bj::value& b, bool& result) {
  const bool scalar = !a.is_structured() && !b.is_structured();
  if (scalar) {
    int64_t budget = 1;
    result = DeepEqual(a, b, budget);
    return true;
  }
  int64_t budget = static_cast<int64_t>(c.limits.max_steps - std::min(c.steps, c.limits.max_steps));
  const int64_t before = budget;
  result = DeepEqual(a, b, budget);
  if (budget < 0) return Step(c, pos, c.limits.max_steps + 1);
  return Step(c, pos, static_cast<size_t>(before - budget));
}

bool Contains(Ctx& c, Position pos, const bj::value& container, const bj::value& needle,
              bool& result) {
  switch (container.kind()) {
    case bj::kind::null: result = false; return true;
    case bj::kind::string:
      if (!needle.is_string()) {
        return Fail(c, pos, ErrorCode::kTypeError,
                    "only a string can be searched for in a string, not " +
                        std::string(json::TypeName(needle)));
      }
      if (!StepBytes(c, pos, container.get_string().size())) return false;
      result = std::string_view(container.get_string()).find(std::string_view(needle.get_string())) !=
               std::string_view::npos;
      return true;
    case bj::kind::array:
      result = false;
      for (const auto& e : container.get_array()) {
        if (!Step(c, pos)) return false;
        if (!Equal(c, pos, e, needle, result)) return false;
        if (result) return true;
      }
      return true;
    case bj::kind::object:
      if (!needle.is_string()) {
        return Fail(c, pos, ErrorCode::kTypeError,
                    "object keys are strings; cannot look up a " + std::string(json::TypeName(needle)));
      }
      result = container.get_object().contains(needle.get_string());
      return true;
    default:
      return Fail(c, pos, ErrorCode::kTypeError,
                  "cannot search in a " + std::string(json::TypeName(container)));
  }
}

Status AppendEvaluatedText(const Program& prog, const Scope& scope, Trace* trace, size_t cap,
                           std::string& out, bool& tainted) {
  Ctx c(prog, scope, trace);
  try {
    Val v;
    if (!EvalKid(c, prog.root, v)) return std::move(c.error);
    const bj::value& j = v.get();
    size_t add = j.is_string() ? j.get_string().size() : json::SerializedSizeAtMost(j, cap);
    if (out.size() + add > cap) {
      return MakeError(ErrorCode::kExpressionLimit,
                       "interpolated text larger than " + std::to_string(cap) + " bytes");
    }
    AppendText(out, j);
    tainted = tainted || v.tainted;
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kExpressionLimit, "out of memory while evaluating the expression");
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while evaluating the expression");
  }
}

Result<Value> EvaluateProgram(const Program& prog, const Scope& scope, Trace* trace) {
  Ctx c(prog, scope, trace);
  try {
    Val v;
    if (!EvalRoot(c, v)) return std::move(c.error);
    const bool tainted = v.tainted;
    return Value{std::move(v).Take(), tainted};
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kExpressionLimit, "out of memory while evaluating the expression");
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while evaluating the expression");
  }
}

bool EvaluateProgramInto(const Program& prog, const Scope& scope, Trace* trace,
                         boost::json::value& out, bool& tainted, Error& error) {
  // A workflow has many compiled programs and most are cold when a step runs: start
  // loading the node table (all of it for a small program), the constants and the root
  // names together, rather than one cache miss after the other as evaluation reaches them.
  if (prog.nodes.size() <= kPrefetchNodes) {
    for (const Node& n : prog.nodes) __builtin_prefetch(&n);
  }
  __builtin_prefetch(prog.constants.data());
  __builtin_prefetch(prog.roots.data());
  Ctx c(prog, scope, trace);
  try {
    Val v;
    if (!EvalRoot(c, v)) {
      error = std::move(c.error);
      return false;
    }
    tainted = v.tainted;
    out = std::move(v).Take();
    return true;
  } catch (const std::bad_alloc&) {
    error = MakeError(ErrorCode::kExpressionLimit, "out of memory while evaluating the expression");
  } catch (...) {
    error = MakeError(ErrorCode::kInternal, "internal error while evaluating the expression");
  }
  return false;
}

}  // namespace rampart::expr::internal
