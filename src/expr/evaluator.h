// Evaluation of a compiled Program against a Scope.
//
// Values are `Val`s: either a borrowed pointer into the scope or the program's constant
// pool (no copy for path lookups, literals and comparisons), or an owned JSON value.
// Only the final result is copied out. Errors are recorded in the context and signalled
// by `false`, which keeps the hot path free of Result<> wrapping.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "expr/program.h"
#include "rampart/core/result.h"
#include "rampart/expr/expr.h"

namespace rampart::expr::internal {

struct Val {
  const boost::json::value* ref = nullptr;  // borrowed; when null, `own` holds the value
  boost::json::value own;
  bool tainted = false;

  const boost::json::value& get() const { return ref != nullptr ? *ref : own; }
  bool owned() const { return ref == nullptr; }
  void Ref(const boost::json::value* p, bool t) {
    ref = p;
    tainted = t;
  }
  void Set(boost::json::value v, bool t) {
    ref = nullptr;
    own = std::move(v);
    tainted = t;
  }
  void SetBool(bool b, bool t) {
    ref = nullptr;
    own.emplace_bool() = b;
    tainted = t;
  }
  void SetInt(int64_t i, bool t) {
    ref = nullptr;
    own.emplace_int64() = i;
    tainted = t;
  }
  void SetDouble(double d, bool t) {
    ref = nullptr;
    own.emplace_double() = d;
    tainted = t;
  }
  void SetNull(bool t);
  // The value, copied if borrowed.
  boost::json::value Take() && { return ref != nullptr ? boost::json::value(*ref) : std::move(own); }
};

const boost::json::value& NullValue();

struct Ctx {
  Ctx(const Program& p, const Scope& s, Trace* t) : prog(p), scope(s), trace(t), limits(p.limits) {}

  const Program& prog;
  const Scope& scope;
  Trace* trace;
  const Limits& limits;
  size_t steps = 0;
  Error error;

  static constexpr size_t kRootCache = 8;
  ScopeEntry roots[kRootCache];
  uint32_t resolved = 0;  // bit i: roots[i] looked up
};

// Records an error at `pos`; always returns false.
bool Fail(Ctx& c, Position pos, ErrorCode code, std::string_view message);

// Charges `n` evaluation steps.
inline bool Step(Ctx& c, Position pos, size_t n = 1) {
  c.steps += n;
  if (c.steps > c.limits.max_steps) [[unlikely]] {
    return Fail(c, pos, ErrorCode::kExpressionLimit,
                "evaluation exceeds " + std::to_string(c.limits.max_steps) + " steps");
  }
  return true;
}

// Charges the steps for processing `bytes` of text (one step per 256 bytes).
inline bool StepBytes(Ctx& c, Position pos, size_t bytes) { return Step(c, pos, bytes / 256); }

// Fails with kExpressionLimit if the serialized size of `v` exceeds the value bound.
bool CheckSize(Ctx& c, Position pos, const boost::json::value& v);
// Fails if a value of `size` serialized bytes would exceed the bound.
bool CheckPlannedSize(Ctx& c, Position pos, size_t size);

// Deep equality (`==`), charging one step per element compared.
bool Equal(Ctx& c, Position pos, const boost::json::value& a, const boost::json::value& b,
           bool& result);
// `needle in container`: substring in string, element in array, key in object; false
// for a null container; a type_error otherwise.
bool Contains(Ctx& c, Position pos, const boost::json::value& container,
              const boost::json::value& needle, bool& result);

Result<Value> EvaluateProgram(const Program& prog, const Scope& scope, Trace* trace);

}  // namespace rampart::expr::internal
