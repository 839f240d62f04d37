#include "rampart/core/error.h"

#include <cstdio>
#include <cstdlib>

#include "rampart/core/check.h"

namespace rampart {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kInvalidDefinition: return "invalid_definition";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kInvalidExpression: return "invalid_expression";
    case ErrorCode::kInvalidInput: return "invalid_input";
    case ErrorCode::kLimitExceeded: return "limit_exceeded";
    case ErrorCode::kForbiddenSecretAccess: return "forbidden_secret_access";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kStepFailed: return "step_failed";
    case ErrorCode::kActionFailed: return "action_failed";
    case ErrorCode::kUnknownAction: return "unknown_action";
    case ErrorCode::kInterrupted: return "interrupted";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kApprovalRejected: return "approval_rejected";
    case ErrorCode::kTypeError: return "type_error";
    case ErrorCode::kDivisionByZero: return "division_by_zero";
    case ErrorCode::kExpressionLimit: return "expression_limit";
    case ErrorCode::kUnknownFilter: return "unknown_filter";
    case ErrorCode::kInvalidRegex: return "invalid_regex";
    case ErrorCode::kSecretExposure: return "secret_exposure";
    case ErrorCode::kSsrfBlocked: return "ssrf_blocked";
    case ErrorCode::kStatementNotAllowed: return "statement_not_allowed";
  }
  return "internal";
}

namespace internal {
void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "RAMPART_CHECK failed: %s at %s:%d\n", condition, file, line);
  std::abort();
}
}  // namespace internal

}  // namespace rampart
