// Recursive-descent parser for spec/expressions.md with a nesting bound; produces the
// compiled Program (filters resolved, literal regexes compiled, constants folded).
#pragma once

#include <memory>
#include <string_view>

#include "expr/program.h"
#include "rampart/core/result.h"
#include "rampart/expr/expr.h"

namespace rampart::expr::internal {

// Compiles the expression `source`, which starts at `start` in the user's text (for
// positions in messages). Errors: kInvalidExpression (also for an unknown filter or an
// invalid literal `matches` pattern), kForbiddenSecretAccess, kExpressionLimit.
Result<std::shared_ptr<const Program>> CompileProgram(std::string_view source, Position start,
                                                      const CompileOptions& options);

// The arity bounds and name of each filter.
struct FilterInfo {
  std::string_view name;
  FilterId id;
  uint8_t min_args;
  uint8_t max_args;
};
const FilterInfo* FindFilter(std::string_view name);
const FilterInfo& GetFilterInfo(FilterId id);

}  // namespace rampart::expr::internal
