// Public entry points of the expression module. Every entry point catches what the
// libraries underneath could throw (allocation failures), so nothing escapes.
#include "rampart/expr/expr.h"

#include <algorithm>
#include <new>

#include "expr/access.h"
#include "expr/evaluator.h"
#include "expr/parser.h"
#include "expr/value_ops.h"

namespace rampart::expr {

using internal::Access;

namespace {

Error OutOfMemory() {
  return MakeError(ErrorCode::kExpressionLimit, "out of memory while compiling the expression");
}

const std::string& EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

const std::vector<std::string>& EmptyList() {
  static const std::vector<std::string> kEmpty;
  return kEmpty;
}

}  // namespace

ObjectScope::ObjectScope(const boost::json::object* roots, std::vector<std::string> tainted_roots)
    : roots_(roots), tainted_roots_(std::move(tainted_roots)) {}

ScopeEntry ObjectScope::Lookup(std::string_view name) const {
  if (roots_ == nullptr) return {};
  const boost::json::value* v = internal::FindMember(*roots_, name);
  if (v == nullptr) return {};
  bool tainted = false;
  for (const auto& t : tainted_roots_) {
    if (t.size() == name.size() && internal::SameBytes(t.data(), name.data(), name.size())) {
      tainted = true;
      break;
    }
  }
  return ScopeEntry{v, tainted};
}

Result<Expression> Expression::Compile(std::string_view source, const CompileOptions& options) {
  try {
    auto program = internal::CompileProgram(source, internal::Position{}, options);
    if (!program.ok()) return std::move(program).error();
    return Access::MakeExpression(std::move(program).value());
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while compiling the expression");
  }
}

Result<Value> Expression::Evaluate(const Scope& scope, Trace* trace) const {
  if (program_ == nullptr) return MakeError(ErrorCode::kInvalidExpression, "empty expression");
  return internal::EvaluateProgram(*program_, scope, trace);
}

const std::string& Expression::source() const {
  return program_ == nullptr ? EmptyString() : program_->source;
}

bool Expression::uses_secrets() const { return program_ != nullptr && program_->uses_secrets; }

const std::vector<std::string>& Expression::referenced_steps() const {
  return program_ == nullptr ? EmptyList() : program_->referenced_steps;
}

bool Truthy(const boost::json::value& v) { return internal::IsTruthy(v); }

std::string RenderText(const boost::json::value& v) {
  std::string out;
  internal::AppendText(out, v);
  return out;
}

}  // namespace rampart::expr
