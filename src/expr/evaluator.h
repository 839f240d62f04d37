// Evaluation of a compiled Program against a Scope.
//
// Values are `Val`s: either a borrowed pointer into the scope or the program's constant
// pool (no copy for path lookups, literals and comparisons), or an owned JSON value.
// Only the final result is copied out. Errors are recorded in the context and signalled
// by `false`, which keeps the hot path free of Result<> wrapping.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

#include "expr/program.h"
#include "rampart/core/result.h"
#include "rampart/expr/expr.h"

namespace rampart::expr::internal {

// Shared immutable values, so that null and booleans never need an owned value.
extern const boost::json::value kNullValue;
extern const boost::json::value kTrueValue;
extern const boost::json::value kFalseValue;

inline const boost::json::value& NullValue() { return kNullValue; }

struct Val {
  // Borrowed value; null when the value is owned (in `own`).
  const boost::json::value* ref = &kNullValue;
  // Constructed only when the value is owned: most values are borrowed, and boost::json's
  // destructor is an out-of-line call.
  std::optional<boost::json::value> own;
  bool tainted = false;

  const boost::json::value& get() const { return ref != nullptr ? *ref : *own; }
  bool owned() const { return ref == nullptr; }
  void Ref(const boost::json::value* p, bool t) {
    ref = p;
    tainted = t;
  }
  void Set(boost::json::value v, bool t) {
    own.emplace(std::move(v));  // destroy + move-construct: cheaper than boost's move-assign
    ref = nullptr;
    tainted = t;
  }
  // Back to the initial state (null, untainted), keeping no owned value.
  void Clear() {
    own.reset();
    ref = &kNullValue;
    tainted = false;
  }
  void SetBool(bool b, bool t) { Ref(b ? &kTrueValue : &kFalseValue, t); }
  void SetInt(int64_t i, bool t) {
    if (own) {
      own->emplace_int64() = i;
    } else {
      own.emplace(i);
    }
    ref = nullptr;
    tainted = t;
  }
  void SetDouble(double d, bool t) {
    if (own) {
      own->emplace_double() = d;
    } else {
      own.emplace(d);
    }
    ref = nullptr;
    tainted = t;
  }
  void SetNull(bool t) { Ref(&kNullValue, t); }
  // The owned value (precondition: owned()).
  boost::json::value& mut() { return *own; }
  // The value, copied if borrowed.
  boost::json::value Take() && {
    if (ref == nullptr) return std::move(*own);
    switch (ref->kind()) {  // scalars inline; boost's copy constructor is out of line
      case boost::json::kind::null: return boost::json::value();
      case boost::json::kind::bool_: return boost::json::value(ref->get_bool());
      case boost::json::kind::int64: return boost::json::value(ref->get_int64());
      case boost::json::kind::double_: return boost::json::value(ref->get_double());
      default: return boost::json::value(*ref);
    }
  }
};

struct Ctx {
  Ctx(const Program& p, const Scope& s, Trace* t)
      : prog(p),
        scope(s),
        trace(t),
        limits(p.limits),
        nodes(p.nodes.data()),
        constants(p.constants.data()),
        max_steps(p.limits.max_steps) {}

  const Program& prog;
  const Scope& scope;
  Trace* trace;
  const Limits& limits;
  // Copies of hot fields, one load away.
  const Node* nodes;
  const boost::json::value* constants;
  size_t max_steps;
  size_t steps = 0;
  Error error;

  static constexpr size_t kRootCache = 8;
  struct CachedRoot {  // deliberately uninitialized: `resolved` says which are set
    const boost::json::value* value;
    bool tainted;
  };
  CachedRoot roots[kRootCache];
  uint32_t resolved = 0;  // bit i: roots[i] looked up
};

// Records an error at `pos`; always returns false.
[[gnu::cold]] bool Fail(Ctx& c, Position pos, ErrorCode code, std::string_view message);
[[gnu::cold, gnu::noinline]] bool StepLimitExceeded(Ctx& c, Position pos);

// Charges `n` evaluation steps.
inline bool Step(Ctx& c, Position pos, size_t n = 1) {
  c.steps += n;
  if (c.steps > c.max_steps) [[unlikely]] return StepLimitExceeded(c, pos);
  return true;
}

// Charges the steps for processing `bytes` of text (one step per 256 bytes).
inline bool StepBytes(Ctx& c, Position pos, size_t bytes) { return Step(c, pos, bytes / 256); }

[[gnu::cold]] bool SizeLimitExceeded(Ctx& c, Position pos);
bool CheckSizeSlow(Ctx& c, Position pos, const boost::json::value& v);

// Fails if a value of `size` serialized bytes would exceed the bound.
inline bool CheckPlannedSize(Ctx& c, Position pos, size_t size) {
  return size <= c.limits.max_value_bytes || SizeLimitExceeded(c, pos);
}

// Fails with kExpressionLimit if the serialized size of `v` exceeds the value bound.
// Scalars and short strings are decided inline.
inline bool CheckSize(Ctx& c, Position pos, const boost::json::value& v) {
  if (v.is_string()) {
    if (v.get_string().size() <= (c.limits.max_value_bytes - 2) / 6) return true;
  } else if (!v.is_structured()) {
    return true;
  }
  return CheckSizeSlow(c, pos, v);
}

// Deep equality (`==`), charging one step per element compared.
bool Equal(Ctx& c, Position pos, const boost::json::value& a, const boost::json::value& b,
           bool& result);
// `needle in container`: substring in string, element in array, key in object; false
// for a null container; a type_error otherwise.
bool Contains(Ctx& c, Position pos, const boost::json::value& container,
              const boost::json::value& needle, bool& result);

Result<Value> EvaluateProgram(const Program& prog, const Scope& scope, Trace* trace);

// EvaluateProgram without the Result: on success sets `out` (keeping its storage) and
// `tainted`; on failure sets `error` and leaves `out` alone.
bool EvaluateProgramInto(const Program& prog, const Scope& scope, Trace* trace,
                         boost::json::value& out, bool& tainted, Error& error);

// Evaluates `prog` and appends its text rendering (RenderText) to `out`, failing with
// kExpressionLimit if `out` would pass `cap` bytes. For interpolation: the value is
// rendered straight from the scope, never copied.
Status AppendEvaluatedText(const Program& prog, const Scope& scope, Trace* trace, size_t cap,
                           std::string& out, bool& tainted);

}  // namespace rampart::expr::internal
