// The filters of spec/expressions.md (the complete list) and RE2 compilation for `matches`.
#pragma once

#include <memory>
#include <string_view>

#include "expr/evaluator.h"
#include "expr/program.h"

namespace rampart::expr::internal {

// Compiles a `matches` pattern with bounded memory. Returns null and sets `error` to
// kExpressionLimit (pattern too long) or kInvalidRegex (message without position).
std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, const Limits& limits,
                                             Error* error);

// Applies `call` to `in` with the evaluated arguments; `out` must not alias `in`.
// `default` is handled by the evaluator (its argument is evaluated lazily).
bool ApplyFilter(Ctx& c, const FilterCall& call, Val& in, Val* args, Val& out);

}  // namespace rampart::expr::internal
